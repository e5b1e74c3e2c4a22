"""Making a group of evidence records durable: one flush of the file system against a flush per
file, through ``atomic.Folder`` as a batch run with a ledger writes them.

    .venv/bin/python benchmarks/records_flush.py [--records 120] [--size 11000] [--runs 5]

Each round stages ``--records`` files of ``--size`` bytes (a small model directory's evidence
record is ~11 KB) in a fresh folder under benchmarks/.work/ and commits them durably, once with
``sync_filesystem`` allowed (one ``syncfs``) and once with it refused (eight overlapping fsyncs
per file, as before), alternating so that both meet the same disk. Prints the best and the
median of ``--runs`` rounds each, and the ratio. On a machine where ``syncfs`` is not used
(not Linux 5.8+, or more than ``atomic.SYNCFS_MAX_UNWRITTEN`` of unwritten data) both rows take
the per-file path.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "records-flush"
sys.path.insert(0, str(REPO))

from scanner import atomic  # noqa: E402


def one_round(records: int, size: int, whole: bool) -> float:
    folder_path = WORK / ("whole" if whole else "per-file")
    shutil.rmtree(folder_path, ignore_errors=True)
    limit = atomic.SYNCFS_MAX_UNWRITTEN
    atomic.SYNCFS_MAX_UNWRITTEN = limit if whole else -1
    try:
        folder = atomic.Folder(folder_path, "evidence record")
        body = "x" * size
        for i in range(records):
            folder.stage(f"{i:05d}.json", [body])
        start = time.perf_counter()
        folder.commit(durable=True)
        seconds = time.perf_counter() - start
        folder.settle()
        folder.close()
    finally:
        atomic.SYNCFS_MAX_UNWRITTEN = limit
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=120)
    parser.add_argument("--size", type=int, default=11_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.runs):
        for whole in (False, True):
            times[whole].append(one_round(args.records, args.size, whole))
    used = atomic._syncfs() is not None and atomic._unwritten_bytes() <= atomic.SYNCFS_MAX_UNWRITTEN
    print(f"{args.records} records of {args.size} bytes, best / median of {args.runs} (syncfs used: {used})")
    for whole, label in ((False, "a flush per file (8 at a time)"), (True, "one flush of the file system")):
        ms = [t * 1000 for t in times[whole]]
        print(f"  {label:34} {min(ms):7.1f} ms best  {statistics.median(ms):7.1f} ms median")
    ratio = statistics.median(times[False]) / max(statistics.median(times[True]), 1e-9)
    print(f"  per file / whole file system (medians): {ratio:.1f}x")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
