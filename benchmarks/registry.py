"""Registry gate and promotion cost on a ~1 GB model (goals: the gate from the registry within
1.5x of ``oras pull`` + ``openssl dgst -sha256`` over the same blobs, peak memory under 200 MB;
promotion inside one registry moves no blob bytes and costs the gate plus under a second).

Builds a model once under benchmarks/.work/registry-model (4 valid safetensors shards of random
bytes plus a config), starts Debian's ``docker-registry`` on 127.0.0.1 with storage under
benchmarks/.work, pushes the model with ``scanner push``, then times, each as a fresh process
(peak RSS from GNU time):
  - the peer: oras-py's ``pull`` of the same reference into a directory, then
    ``openssl dgst -sha256`` over the pulled files (what a pipeline does without this tool);
  - ``scanner gate oci://…`` (pull into a private directory verifying every blob while it streams,
    then the whole gate: inventory, model checks, vulnerabilities, signatures, policy);
  - ``scanner promote oci://…:dev oci://…-staging:staging`` into another repository of the same
    registry (gate + mount + signed evidence), and reads back how many blob bytes it uploaded.

Usage: python benchmarks/registry.py [--size-mib 1024] [--runs 3]   (run with the project's venv python)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "registry-model"
TIME = shutil.which("time") or "/usr/bin/time"


def build(size_mib: int) -> Path:
    model = WORK / "model"
    marker = WORK / f".built-{size_mib}"
    if marker.exists():
        return model
    shutil.rmtree(WORK, ignore_errors=True)
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    parts = 4
    each = (size_mib << 20) // parts
    for i in range(parts):
        header = json.dumps({"w": {"dtype": "U8", "shape": [each], "data_offsets": [0, each]}}).encode()
        header += b" " * (-len(header) % 8)
        with (model / f"model-{i + 1:05d}-of-{parts:05d}.safetensors").open("wb") as fh:
            fh.write(struct.pack("<Q", len(header)) + header)
            block = os.urandom(1 << 24)
            for _ in range(each >> 24):
                fh.write(block)
            fh.write(block[: each % (1 << 24)])
    marker.touch()
    return model


def start_registry() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("docker-registry")
    if not binary:
        sys.exit("docker-registry is not installed (apt-get install -y docker-registry)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = WORK / "storage"
    shutil.rmtree(storage, ignore_errors=True)
    config = WORK / "registry.yml"
    config.write_text(
        f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {storage}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: bench}}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("docker-registry did not start")


def timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """(wall seconds, peak RSS MiB, stdout) of ``cmd`` run under GNU time, after flushing dirty
    pages (the previous step's written gigabyte must not be written back during this one)."""
    os.sync()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        r = subprocess.run([TIME, "-f", "%M", "-o", rss.name, *cmd], capture_output=True, text=True)
        wall = time.perf_counter() - start
        if r.returncode not in ok:
            sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
        peak_kib = int(rss.read().strip().splitlines()[-1])
    return wall, peak_kib >> 10, r.stdout


PEER = """
import sys, time, oras.client
client = oras.client.OrasClient(insecure=True)
start = time.perf_counter()
client.pull(target=sys.argv[1], outdir=sys.argv[2])
print(time.perf_counter() - start)
"""


def gate_command(ref: str) -> list[str]:
    return [sys.executable, "-m", "scanner", "gate", f"oci://{ref}", "--stage", "dev", "--plain-http", "--no-ledger"]


def peer(ref: str, out: Path) -> tuple[float, float, int]:
    """(process wall time, time inside pull() + hashing, peak RSS MiB): the second leaves out
    oras-py's import time (jsonschema: seconds here), as a compiled oras CLI would."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pull_s, pull_rss, inner = timed([sys.executable, "-c", PEER, ref, str(out)])
    files = sorted(str(p) for p in out.rglob("*") if p.is_file())
    dgst_s, _, _ = timed(["openssl", "dgst", "-sha256", *files])
    shutil.rmtree(out)  # like the gate, which removes its private directory
    return pull_s + dgst_s, float(inner.strip()) + dgst_s, pull_rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = build(args.size_mib)
    scanner = [sys.executable, "-m", "scanner"]
    env_ledger = WORK / "ledger.db"
    os.environ["SCANNER_LEDGER"] = str(env_ledger)
    key = WORK / "key.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    proc, host = start_registry()
    try:
        push_s, push_rss, out = timed([*scanner, "push", str(model), f"oci://{host}/bench/model:dev", "--plain-http"])
        digest = out.strip().rsplit("@", 1)[1]
        ref = f"{host}/bench/model:dev"
        peers, peers_inner, gates, promos, moved = [], [], [], [], []
        peer_rss = gate_rss = promo_rss = 0
        for _ in range(args.runs):
            s, inner, rss = peer(ref, WORK / "oras-pull")
            peers.append(s)
            peers_inner.append(inner)
            peer_rss = max(peer_rss, rss)
        for i in range(args.runs):  # gate and promotion alternate, so both see the same conditions
            s, rss, _ = timed(gate_command(ref), ok=(0, 1))
            gates.append(s)
            gate_rss = max(gate_rss, rss)
            target = f"oci://{host}/bench/model-staging-{i}:staging"
            promote = [*scanner, "promote", f"oci://{ref}", target, "--stage", "dev", "--plain-http"]
            s, rss, out = timed([*promote, "--sign-key", str(key), "-f", "json", "--no-ledger"])
            promos.append(s)
            promo_rss = max(promo_rss, rss)
            doc = json.loads(out)
            assert doc["digest"] == digest
            moved.append(doc["bytes_moved"])
        p, pi = statistics.median(peers), statistics.median(peers_inner)
        g, m = statistics.median(gates), statistics.median(promos)
        print(f"model: {args.size_mib} MiB in 5 files, pushed in {push_s:.2f} s (peak {push_rss} MiB)")
        print(f"medians of {args.runs} runs")
        print(f"peer  oras pull + openssl dgst -sha256   : {p:6.2f} s process, {pi:.2f} s without oras-py's import")
        print(f"      (oras-py peak {peer_rss} MiB)")
        print(f"scanner gate oci://… (pull, verify, gate): {g:6.2f} s  peak {gate_rss} MiB")
        print(f"      ratio {g / p:.2f}x the peer process, {g / pi:.2f}x the peer without its import")
        print(f"scanner promote to another repository   : {m:6.2f} s  peak {promo_rss} MiB")
        print(f"      {m - g:+.2f} s over the gate")
        print(f"blob bytes uploaded by the promotions  : {moved}")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
