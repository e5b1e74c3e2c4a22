"""A model estate of small directories: `scanner batch` against one `scanner gate` process per
artifact, against modelscan and picklescan over the same directories, with and without the
result cache, at 1 and 2 workers, and locally against a Dask cluster on 127.0.0.1.

    .venv/bin/python benchmarks/batch.py [--artifacts 120] [--runs 3] [--no-peers] [--no-dask]
                                         [--per-artifact-runs 1] [--no-per-artifact]

Each directory holds a config.json, a safetensors file and a small pickle of plain data; every
tenth pickle calls os.system('true') when loaded (never loaded here). Goals (issue 16): on 2
cores at least 2.5x faster than one `scanner gate` per artifact (two at a time), faster than
modelscan and picklescan over the same directories; a second run with the cache at most 20% of
the first (measured without a ledger and with one, as a run by default writes); the same verdicts
locally and on Dask. The peers are timed both ways: one process
over the whole tree, and one process per artifact (two at a time, as a per-artifact gate runs
them). Peers are installed in their own venvs under benchmarks/.work/.

The machine may be shared: every figure is the best of ``--runs`` runs (the per-artifact ones,
tens of seconds each, of ``--per-artifact-runs``), printed with the 1-minute load average
measured just before its best run; `scanner batch` and the peers' one-process runs over the
whole tree take turns, round after round, so that they meet the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
sys.path.insert(0, str(REPO))

from benchmarks.models import ENV as PEER_ENV  # noqa: E402
from benchmarks.models import PEERS, venv  # noqa: E402

SCANNER = [sys.executable, "-m", "scanner"]
# Byte-code caching as after a normal install (pip compiles .pyc files; the peers' venvs have
# them): with PYTHONDONTWRITEBYTECODE every scanner process would compile its sources again.
ENV = {k: v for k, v in PEER_ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}


class _Payload:
    def __reduce__(self):  # the harmless payload: what a malicious checkpoint would run
        return (os.system, ("true",))


def generate(count: int) -> list[Path]:
    import numpy as np
    from safetensors.numpy import save_file

    root = WORK / f"batch-estate-{count}"
    if not root.exists():
        tmp = root.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for i in range(count):
            d = tmp / f"model-{i:04d}"
            d.mkdir()
            (d / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 64, "seed": i}))
            save_file({"w": np.full((64, 64), i, dtype=np.float32)}, str(d / "model.safetensors"))
            payload = _Payload() if i % 10 == 0 else {"vocab": {f"t{j}": j for j in range(200)}, "seed": i}
            (d / "extra.pkl").write_bytes(pickle.dumps(payload, protocol=4))
        tmp.rename(root)
    return sorted(p for p in root.iterdir() if p.is_dir())


def timed(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=kwargs.pop("env", ENV), **kwargs)
    return time.perf_counter() - start, proc


def batch(dirs: list[Path], *flags: str, env: dict[str, str] | None = None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        listing = Path(tmp) / "estate.txt"
        listing.write_text("\n".join(map(str, dirs)) + "\n")
        ledger = [] if "--ledger" in flags else ["--no-ledger"]
        cmd = [*SCANNER, "batch", "--from", str(listing), *ledger, "--records", f"{tmp}/rec", "-q", "-f", "json"]
        seconds, proc = timed([*cmd, *flags], env=env or ENV)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scanner batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout)


def verdicts(doc: dict) -> list[tuple]:
    return [(r["source"], r["digest"], r["allow"], tuple(d["rule"] for d in r["deny"])) for r in doc["results"]]


def gate_per_artifact(dirs: list[Path], parallel: int) -> tuple[float, list[bool]]:
    def one(d: Path) -> bool:
        _, proc = timed([*SCANNER, "gate", str(d), "--no-ledger", "-q", "-f", "json"])
        if proc.returncode not in (0, 1):
            raise SystemExit(f"scanner gate {d} failed ({proc.returncode}): {proc.stderr[-500:]}")
        return bool(json.loads(proc.stdout)["decision"]["allow"])

    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        allowed = list(pool.map(one, dirs))
    return time.perf_counter() - start, allowed


def peer_per_artifact(name: str, dirs: list[Path], parallel: int) -> tuple[float, None]:
    packages, cmd = PEERS[name]
    exe = str(venv(name, packages) / cmd[0])
    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda d: timed([exe, *[c.format(path=d) for c in cmd[1:]]]), dirs))
    return time.perf_counter() - start, None


LOADS: dict[str, float] = {}  # row name -> load average before its best run


def best(name: str, fn, runs: int) -> tuple[float, object]:
    """Best of ``runs`` (seconds, result of that run); records the load it ran at."""
    results = []
    for _ in range(max(1, runs)):
        load = os.getloadavg()[0]
        results.append((*fn(), load))
    seconds, value, load = min(results, key=lambda r: r[0])
    LOADS[name] = load
    return seconds, value


def taking_turns(fns: dict, runs: int, rows: dict[str, float]) -> dict[str, object]:
    """Run each of ``fns`` once per round, ``runs`` rounds; the best of each into ``rows`` (with
    its load in LOADS). Returns the result of each one's best run."""
    results: dict[str, list[tuple[float, object, float]]] = {name: [] for name in fns}
    for _ in range(max(1, runs)):
        for name, fn in fns.items():
            load = os.getloadavg()[0]
            results[name].append((*fn(), load))
    out = {}
    for name, measured in results.items():
        seconds, value, load = min(measured, key=lambda r: r[0])
        rows[name], LOADS[name], out[name] = seconds, load, value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--per-artifact-runs", type=int, default=1, help="runs of each per-artifact comparison")
    parser.add_argument("--no-per-artifact", action="store_true", help="skip one process per artifact (gate, peers)")
    parser.add_argument("--no-peers", action="store_true", help="skip modelscan and picklescan")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask comparison")
    args = parser.parse_args()
    dirs = generate(args.artifacts)
    n = len(dirs)
    print(f"{n} model directories in {dirs[0].parent} (cores: {os.cpu_count()}, load {os.getloadavg()[0]:.2f})")
    rows: dict[str, float] = {}
    batch(dirs[:2], "--no-cache")  # byte-code written once, database built once
    gate_per_artifact(dirs[:2], 2)

    def row(name: str, fn, runs: int = args.runs) -> object:
        rows[name], value = best(name, fn, runs)
        return value

    # batch and the peers' one-process runs take turns, so each is timed under the same load
    contenders = {BATCH2: lambda: batch(dirs, "--workers", "2", "--no-cache")}
    if not args.no_peers:
        for name in ("picklescan", "modelscan"):
            packages, cmd = PEERS[name]
            exe = [str(venv(name, packages) / cmd[0]), *[c.format(path=dirs[0].parent) for c in cmd[1:]]]
            contenders[f"{name} {WHOLE}"] = lambda exe=exe: timed(exe)
    doc2 = taking_turns(contenders, args.runs, rows)[BATCH2]
    doc1 = row(BATCH1, lambda: batch(dirs, "--workers", "1", "--no-cache"))
    assert verdicts(doc1) == verdicts(doc2)  # type: ignore[arg-type]
    denied = sum(1 for r in doc2["results"] if r["allow"] is False)  # type: ignore[index]

    # each pair: a fresh cache filled, then used; without a ledger and with one (the default)
    for cold_row, warm_row, ledgered in ((CACHE_COLD, CACHE_WARM, False), (CACHE_COLD_L, CACHE_WARM_L, True)):
        cold: list[float] = []
        warm: list[float] = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="batch-cache-") as cache:
                flags = ["--workers", "2", "--cache", cache]
                if ledgered:
                    flags += ["--ledger", f"{cache}/ledger.db"]
                load = os.getloadavg()[0]
                cold.append(batch(dirs, *flags)[0])
                seconds, doc = batch(dirs, *flags)
                assert all(r["cached"] for r in doc["results"])
                warm.append(seconds)
                if seconds == min(warm):
                    LOADS[cold_row] = LOADS[warm_row] = load
        rows[cold_row], rows[warm_row] = cold[warm.index(min(warm))], min(warm)  # the pair of the best warm run

    if not args.no_per_artifact:
        allowed = row(f"scanner gate {PER}", lambda: gate_per_artifact(dirs, 2), args.per_artifact_runs)
        assert allowed == [r["allow"] for r in doc2["results"]]  # type: ignore[index]  # same verdicts
        if not args.no_peers:
            for name in ("picklescan", "modelscan"):
                row(f"{name} {PER}", lambda name=name: peer_per_artifact(name, dirs, 2), args.per_artifact_runs)

    if not args.no_dask:
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            env = {**ENV, "DASK_SCHEDULER_ADDRESS": cluster.scheduler_address}
            batch(dirs[:4], "--no-cache", env=env)  # workers import and prepare once
            docd = row(DASK, lambda: batch(dirs, "--no-cache", env=env))
        same = verdicts(docd) == verdicts(doc2)  # type: ignore[arg-type]
    print(f"{denied} of {n} denied (the os.system pickles)\n")
    base = rows[BATCH2]
    print(f"{'run':52} {'best s':>7} {'load':>6} {'x batch':>8}")
    for name, seconds in rows.items():
        print(f"{name:52} {seconds:7.2f} {LOADS.get(name, float('nan')):6.2f} {seconds / base:8.2f}")
    per_core_1 = n / rows[BATCH1]
    per_core_2 = n / rows[BATCH2] / 2
    print(f"\nartifacts/s/core: 1 worker {per_core_1:.1f}, 2 workers {per_core_2:.1f} "
          f"(speed-up 1 -> 2 workers {rows[BATCH1] / base:.2f}x)")  # fmt: skip
    key = f"scanner gate {PER}"
    if key in rows:
        print(f"goal >= 2.5x faster than one gate process per artifact: {rows[key] / base:.2f}x")
    for name in ("picklescan", "modelscan"):
        for how in (WHOLE, PER):
            key = f"{name} {how}"
            if key in rows:
                ratio = rows[key] / base
                verdict = f"batch {ratio:.2f}x faster" if ratio >= 1 else f"batch {1 / ratio:.2f}x slower"
                print(f"goal faster than {name} ({how}): {verdict} ({rows[key]:.2f} s vs {base:.2f} s)")
    for cold_row, warm_row, how in ((CACHE_COLD, CACHE_WARM, "--no-ledger"), (CACHE_COLD_L, CACHE_WARM_L, "a ledger")):
        print(f"goal cache warm <= 20% of cold ({how}): {rows[warm_row] / rows[cold_row] * 100:.0f}%")
    if not args.no_dask:
        print(f"goal same verdicts locally and on Dask: {same}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


BATCH2 = "scanner batch --workers 2"
BATCH1 = "scanner batch --workers 1"
CACHE_COLD = "scanner batch, cache cold"
CACHE_WARM = "scanner batch, cache warm (same artifacts)"
CACHE_COLD_L = "scanner batch --ledger, cache cold"
CACHE_WARM_L = "scanner batch --ledger, cache warm (same artifacts)"
DASK = "scanner batch on Dask (2 workers x 1 thread)"
WHOLE = "(one process, whole tree)"
PER = "(one process per artifact, 2 at a time)"


if __name__ == "__main__":
    main()
