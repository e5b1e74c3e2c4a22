"""`scanner batch` records a decision in the ledger only once its evidence record is written
whole: a record that fails at write time (a full device) stops the run with exit 2 naming the
file, and the ledger holds no entry for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.batch.conftest import clean_model

FULL = Path("/dev/full")


@pytest.mark.skipif(not FULL.exists(), reason="no /dev/full")
def test_a_record_that_cannot_be_written_is_not_in_the_ledger(cli, tmp_path: Path) -> None:
    model = clean_model(tmp_path / "model", 43)
    records, ledger = tmp_path / "records", tmp_path / "ledger.db"
    records.mkdir()
    (records / "00000-model.json").symlink_to(FULL)  # every write there fails with ENOSPC
    args = ("batch", model, "--workers", "1", "--no-cache", "--records", records, "--ledger", ledger, "-f", "json")
    r = cli(*args)
    assert r.code == 2, r.err
    assert "00000-model.json" in r.err and "No space left on device" in r.err
    from scanner.evidence.ledger import Ledger

    with Ledger(ledger) as db:
        assert db.entries() == [] and db.verify().ok
    (records / "00000-model.json").unlink()
    r = cli(*args)
    assert r.code == 0, r.err
    written = json.loads((records / "00000-model.json").read_text())
    with Ledger(ledger) as db:
        [entry] = db.entries()
    assert written["ledger"]["seq"] == entry.seq == 1 and written["ledger"]["hash"] == entry.hash
