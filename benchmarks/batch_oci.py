"""`scanner batch` over `oci://` artifacts in a real registry (docker-registry on 127.0.0.1):
a run with a cold result cache against a second run over the same, unchanged artifacts.

    .venv/bin/python benchmarks/batch_oci.py [--artifacts 40] [--runs 3]

Each artifact is a small model directory (config.json, safetensors, a small pickle; every tenth
pickle calls os.system('true'), never loaded) pushed with `scanner push`. A cold run pulls and
judges every artifact; a warm run learns each one's manifest digest and referrers from the
registry (no pull) and answers from the cache. Reports medians and checks that both runs give
the same verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCANNER = [sys.executable, "-m", "scanner"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class _Payload:
    def __reduce__(self):  # the harmless payload: what a malicious checkpoint would run
        return (os.system, ("true",))


def push_estate(registry: str, root: Path, count: int) -> list[str]:
    import numpy as np
    from safetensors.numpy import save_file

    refs = []
    for i in range(count):
        d = root / f"model-{i:04d}"
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"model_type": "bert", "seed": i}))
        save_file({"w": np.full((64, 64), i, dtype=np.float32)}, str(d / "model.safetensors"))
        data = _Payload() if i % 10 == 9 else {"step": i}
        (d / "state.pkl").write_bytes(pickle.dumps(data, protocol=4))
        ref = f"oci://{registry}/estate/model-{i:04d}:v1"
        subprocess.run([*SCANNER, "push", str(d), ref, "--plain-http"], check=True, capture_output=True, env=ENV)
        refs.append(ref)
    return refs


def batch(refs: list[str], cache: Path, workers: int) -> tuple[float, dict]:
    args = ["batch", *refs, "--plain-http", "--workers", str(workers), "--cache", str(cache), "--no-ledger"]
    start = time.perf_counter()
    proc = subprocess.run([*SCANNER, *args, "-q", "-f", "json"], capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout)


def verdicts(doc: dict) -> list[tuple]:
    return [(x["source"], x["digest"], x["allow"]) for x in doc["results"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifacts", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from tests.registry.conftest import launch

    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-oci-"))
    reg = launch(tmp / "registry")
    try:
        refs = push_estate(reg.host, tmp / "estate", args.artifacts)
        cold, warm = [], []
        for run in range(args.runs):
            cache = tmp / f"cache-{run}"
            seconds, first = batch(refs, cache, args.workers)
            cold.append(seconds)
            seconds, again = batch(refs, cache, args.workers)
            warm.append(seconds)
            assert verdicts(first) == verdicts(again), "the cache changed a verdict"
            assert first["counts"]["cached"] == 0 and again["counts"]["cached"] == len(refs)
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"{len(refs)} oci:// artifacts, {args.workers} workers, medians of {args.runs}")
        print(f"cold cache (pull + judge every artifact): {c:.2f} s")
        print(f"warm cache (manifest + referrers only):   {w:.2f} s = {w / c:.0%} of cold")
        print(f"denied: {sum(1 for x in first['results'] if x['allow'] is False)}")
    finally:
        reg.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
