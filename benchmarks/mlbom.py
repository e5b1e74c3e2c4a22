"""ML-BOM cost on a large generated model directory, against the hashing floor.

Builds (once, under benchmarks/.work/) a Hugging Face style directory with SHARDS safetensors
shards of SHARD_MB MiB each, a shard index, config.json, a model card and a tokenizer, plus a GGUF
file whose metadata holds a 150k-string token array. Then times, in fresh processes:

- ``scanner sbom DIR`` (CycloneDX) and ``scanner sbom DIR --format spdx-json``
- ``openssl dgst -sha256`` over the same files: the floor for anything that hashes every byte

and prints wall time, peak RSS and the ratio to the floor. Page cache is warm for every run (each
command runs once untimed first). Other work on the machine shares the cores: figures are as
measured, not lab conditions.

Usage: python benchmarks/mlbom.py [--shards 2] [--shard-mb 512]
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "mlbom"
SCANNER = [sys.executable, "-m", "scanner"]


def write_shard(path: Path, name: str, floats: int) -> None:
    header = json.dumps(
        {"__metadata__": {"format": "pt"}, name: {"dtype": "F32", "shape": [floats], "data_offsets": [0, floats * 4]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    chunk = b"\0" * (16 << 20)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        left = floats * 4
        while left:
            fh.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def write_gguf(path: Path, tokens: int = 150_000) -> None:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("general.file_type") + struct.pack("<II", 4, 15),
        s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, tokens) + b"".join(s(f"tok{i}") for i in range(tokens)),
    ]
    tensors = [s(f"blk.{i}.weight") + struct.pack("<IQQIQ", 2, 64, 64, 0, i * 64 * 64 * 4) for i in range(200)]
    body = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)) + b"".join(kv) + b"".join(tensors)
    body += b"\0" * (-len(body) % 32)
    path.write_bytes(body + b"\0" * (200 * 64 * 64 * 4))


def build(shards: int, shard_mb: int) -> Path:
    d = WORK / f"model-{shards}x{shard_mb}"
    if (d / "done").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    floats = shard_mb * (1 << 20) // 4
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_shard(d / name, f"layer{i}.weight", floats)
        weight_map[f"layer{i}.weight"] = name
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "transformers_version": "4.44.2"}))
    (d / "README.md").write_text("---\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# bench\n")
    (d / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {f"t{i}": i for i in range(50_000)}}}))
    write_gguf(d / "model.Q4_K_M.gguf")
    (d / "done").write_text("")
    return d


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS in KiB of ``cmd`` (via /usr/bin/time -v), after one warm-up."""
    subprocess.run(cmd, check=True, capture_output=True)
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(m.group(1)) if m else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--shard-mb", type=int, default=512)
    args = ap.parse_args()
    d = build(args.shards, args.shard_mb)
    files = sorted(str(p) for p in d.iterdir() if p.name != "done")
    total = sum(Path(f).stat().st_size for f in files)
    out = WORK / "out"
    out.mkdir(exist_ok=True)
    rows = [
        ("openssl dgst -sha256 (floor)", ["openssl", "dgst", "-sha256", *files]),
        ("scanner sbom (cyclonedx-json)", [*SCANNER, "sbom", str(d), "-o", str(out / "bom.json")]),
        ("scanner sbom --format spdx-json", [*SCANNER, "sbom", str(d), "-f", f"spdx-json={out / 'bom.spdx.json'}"]),
    ]
    print(f"model directory: {len(files)} files, {total / (1 << 20):.0f} MiB ({d})")
    floor = None
    for label, cmd in rows:
        wall, rss = timed(cmd)
        floor = floor or wall
        print(f"{label:34s} {wall:7.2f} s  {rss / 1024:7.1f} MiB peak RSS  {wall / floor:5.2f}x floor")


if __name__ == "__main__":
    main()
