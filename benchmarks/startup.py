"""Startup cost of `scanner --help` as a ratio to `python -c pass` (goal: under 4x).

Usage: python benchmarks/startup.py [--runs N]   (run with the project's venv python)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def best_of(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    base = best_of([sys.executable, "-c", "pass"], args.runs)
    rows = [("python -c pass", base)]
    # the console script installed beside this interpreter, as users run it
    exe = str(Path(sys.executable).with_name("scanner"))
    for label, cmd in (
        ("scanner --help", [exe, "--help"]),
        ("scanner gate --help", [exe, "gate", "--help"]),
        ("scanner --version", [exe, "--version"]),
    ):
        rows.append((label, best_of(cmd, args.runs)))
    print(f"{'command':<24}{'median ms':>10}{'ratio':>8}")
    for label, t in rows:
        print(f"{label:<24}{t * 1000:>10.1f}{t / base:>7.2f}x")
    ratio = rows[1][1] / base
    print(f"\nscanner --help / python -c pass = {ratio:.2f}x (goal < 4x): {'met' if ratio < 4 else 'NOT met'}")


if __name__ == "__main__":
    main()
