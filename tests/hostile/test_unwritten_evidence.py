"""A run whose report or evidence could not be written is not recorded as promoted: the files are
written whole (temporary file, fsync, rename) inside the ledger's write transaction, and a write
that fails — here for real, at write time: a full device, a file-size limit — is exit 2 naming the
file, with no ledger entry, the old report left as it was and no temporary file left behind."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.hostile.conftest import Hostile
from tests.hostile.test_amplification import _bom

FULL = Path("/dev/full")  # every write fails with ENOSPC: a disk filling up between check and write
needs_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full")


def _rows(ledger: Path) -> list[tuple[int, int]]:
    if not ledger.exists():
        return []
    with sqlite3.connect(ledger) as db:
        return list(db.execute("SELECT seq, allow FROM decisions"))


def _requirements(hostile: Hostile) -> Path:
    req = hostile.work / "requirements.txt"
    req.write_text("requests==2.32.3\n")
    return req


@needs_full
@pytest.mark.parametrize(
    "where",
    [("-o", str(FULL)), ("-f", f"sarif={FULL}"), ("--save-input", str(FULL))],
    ids=["output", "format-file", "save-input"],
)
def test_a_full_disk_at_write_time_records_nothing(hostile: Hostile, where: tuple[str, str]) -> None:
    ledger = hostile.work / "ledger.db"
    args = ["gate", _requirements(hostile), "--ledger", ledger, *where]
    if where[0] == "-o":
        args += ["-f", "json"]
    out = hostile.run(*args, memory=False)
    assert out.code == 2, out.err
    assert str(FULL) in out.err and "No space left on device" in out.err
    assert _rows(ledger) == []  # the ledger never says this run decided anything
    # the same gate with a writable report is recorded, with the ledger entry named in the report
    ok = hostile.run("gate", _requirements(hostile), "--ledger", ledger, "-f", "json", memory=False)
    assert ok.code == 0, ok.err
    assert _rows(ledger) == [(1, 1)] and json.loads(ok.out)["ledger"]["seq"] == 1


def test_a_file_size_limit_at_write_time_records_nothing_and_keeps_the_old_report(hostile: Hostile) -> None:
    bom = hostile.work / "bom.json"
    bom.write_text(json.dumps(_bom(3000)))  # its record is larger than the limit below
    ledger = hostile.work / "ledger.db"
    report, sarif = hostile.work / "out" / "record.json", hostile.work / "out" / "gate.sarif"
    report.parent.mkdir()
    report.write_text("the previous report\n")
    args = ("gate", bom, "--ledger", ledger, "-f", f"sarif={sarif}", "-f", f"json={report}")
    out = hostile.run(*args, memory=False, max_file_size=1 << 20)
    assert out.code == 2, out.err
    assert str(report) in out.err and "too large" in out.err.lower()
    assert report.read_text() == "the previous report\n"  # whole or not at all
    assert sorted(p.name for p in report.parent.iterdir()) == ["record.json"]  # no temporary, no lone SARIF
    assert _rows(ledger) == []
    # without the limit the same run is recorded once, and its report names that entry
    out = hostile.run(*args, memory=False)
    assert out.code == 0, out.err
    assert _rows(ledger) == [(1, 1)] and json.loads(report.read_text())["ledger"]["seq"] == 1
    assert sarif.is_file()
