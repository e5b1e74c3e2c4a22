"""Hostile-input cases: each runs the real CLI in a fresh process, under a wall-clock timeout and
(where it applies) an address-space limit, and reports how long it took and how much memory it
used. A case passes only without a traceback and without writing outside its work directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TIMEOUT = 30
MEMORY = 500 * 1000 * 1000  # bytes of address space (like `ulimit -v 500000`)
MEASURE = os.environ.get("SCANNER_HOSTILE_MEASURE")  # a file to append measurements to

# Runs the CLI with limits set in the child (not in the test process): RLIMIT_AS when asked,
# then reports its own peak RSS (VmHWM) to a side file so the test can record it.
_CHILD = r"""
import json, os, resource, sys, time
limit = int(os.environ.pop("HOSTILE_AS", "0") or 0)
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
fsize = int(os.environ.pop("HOSTILE_FSIZE", "0") or 0)
if fsize:  # like `ulimit -f`: a write past it fails with EFBIG (Python ignores SIGXFSZ)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
report = os.environ.pop("HOSTILE_REPORT")
start = time.monotonic()
code = 0
try:
    from scanner.cli import main
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
finally:
    # VmHWM: this program's own peak. ru_maxrss would also count the test process it was
    # started from (Linux keeps the larger of the two across exec).
    try:
        with open("/proc/self/status") as status:
            peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(report, "w") as fh:
        json.dump({"seconds": time.monotonic() - start, "max_rss_kb": peak}, fh)
sys.exit(code)
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float
    max_rss_mb: float

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Hostile:
    """``run(*args)`` runs ``scanner ARGS`` with ``cwd`` = the work directory (``max_file_size``:
    no file the process writes may grow past it, as under ``ulimit -f``)."""

    work: Path
    outside: Path
    name: str

    def run(
        self,
        *args: str | Path,
        memory: bool = True,
        env: dict[str, str] | None = None,
        timeout: int = TIMEOUT,
        max_file_size: int = 0,
    ) -> Outcome:
        before = _listing(self.outside)
        report = self.work.parent / f".{self.work.name}-measure.json"
        child_env = {
            **os.environ,
            "HOSTILE_REPORT": str(report),
            "HOSTILE_AS": str(MEMORY if memory else 0),
            "HOSTILE_FSIZE": str(max_file_size),
            "NO_COLOR": "1",
            "HOME": str(self.work / ".home"),
            "SCANNER_LEDGER": str(self.work / ".scanner" / "ledger.db"),
            **(env or {}),
        }
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, *map(str, args)],
                cwd=self.work,
                env=child_env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"scanner {' '.join(map(str, args))} ran past {timeout} s")
        elapsed = time.monotonic() - start
        rss = 0.0
        if report.is_file():
            rss = json.loads(report.read_text())["max_rss_kb"] / 1024
            report.unlink()
        out = Outcome(proc.returncode, proc.stdout, proc.stderr, elapsed, rss)
        assert "Traceback" not in out.text, out.text[-3000:]
        assert "internal error" not in out.err, out.err[-2000:]
        assert proc.returncode in (0, 1, 2), f"exit {proc.returncode} (a signal?): {out.err[-2000:]}"
        assert _listing(self.outside) == before, "files written outside the work directory"
        if MEASURE:
            with open(MEASURE, "a") as fh:
                fh.write(f"{self.name}\t{elapsed:.2f}\t{rss:.0f}\n")
        return out


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".hostile-work" not in p.parts)


@pytest.fixture
def hostile(tmp_path: Path, request: pytest.FixtureRequest) -> Hostile:
    """A work directory inside ``tmp_path``; ``tmp_path`` itself stands for "outside"."""
    work = tmp_path / ".hostile-work"
    work.mkdir()
    (work / ".home").mkdir()
    return Hostile(work=work, outside=tmp_path, name=request.node.name)


def findings(out: Outcome) -> list[dict]:
    """Findings of a ``-f json`` run."""
    return json.loads(out.out)["findings"]


def ids(out: Outcome) -> set[str]:
    return {f["id"] for f in findings(out)}
