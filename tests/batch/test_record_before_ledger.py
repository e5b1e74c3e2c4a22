"""`scanner batch` records a decision in the ledger only once its evidence record is written
whole: a record that cannot be put in place stops the run with exit 2 naming the file, and the
ledger holds no entry for it. A link planted at a record's name is replaced, never written
through."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.batch.conftest import clean_model


def test_a_record_that_cannot_be_written_is_not_in_the_ledger(cli, tmp_path: Path) -> None:
    model = clean_model(tmp_path / "model", 43)
    records, ledger = tmp_path / "records", tmp_path / "ledger.db"
    (records / "00000-model.json" / "in-the-way").mkdir(parents=True)  # the rename into place fails
    args = ("batch", model, "--workers", "1", "--no-cache", "--records", records, "--ledger", ledger, "-f", "json")
    r = cli(*args)
    assert r.code == 2, r.err
    assert "00000-model.json" in r.err and "directory" in r.err.lower()
    from scanner.evidence.ledger import Ledger

    with Ledger(ledger) as db:
        assert db.entries() == [] and db.verify().ok
    assert [p.name for p in records.iterdir()] == ["00000-model.json"]  # no temporary file left
    shutil.rmtree(records / "00000-model.json")
    r = cli(*args)
    assert r.code == 0, r.err
    written = json.loads((records / "00000-model.json").read_text())
    with Ledger(ledger) as db:
        [entry] = db.entries()
    assert written["ledger"]["seq"] == entry.seq == 1 and written["ledger"]["hash"] == entry.hash


@pytest.mark.parametrize("ledger", [True, False], ids=["ledger", "no-ledger"])
def test_a_link_planted_at_a_records_name_is_replaced_not_written_through(cli, tmp_path: Path, ledger: bool) -> None:
    """A records directory someone else could write into: a link named like the next record must
    not make the run overwrite the file it points at."""
    model = clean_model(tmp_path / "model", 44)
    records = tmp_path / "records"
    records.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (records / "00000-model.json").symlink_to(victim)
    where = ("--ledger", tmp_path / "ledger.db") if ledger else ("--no-ledger",)
    r = cli("batch", model, "--workers", "1", "--no-cache", "--records", records, *where, "-f", "json")
    assert r.code == 0, r.err
    assert victim.read_text() == "keep me\n"
    placed = records / "00000-model.json"
    assert not placed.is_symlink() and json.loads(placed.read_text())["artifact"]["name"] == "model"
