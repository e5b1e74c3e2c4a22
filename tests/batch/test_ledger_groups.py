"""Decisions reach the ledger in groups (``batch.recorder``): records written, flushed and put in
place together, then their entries committed in one transaction. Each record names its own
entry; a record that cannot be written is never in the ledger, and leaves no temporary file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scanner.evidence.ledger import Ledger
from tests.batch.conftest import clean_model, malicious_model


def _run(cli, sources: list[Path], tmp_path: Path):
    args = ("--workers", "1", "--cache", tmp_path / "cache", "--records", tmp_path / "rec")
    r = cli("batch", *sources, *args, "--ledger", tmp_path / "ledger.db", "-f", "json")
    return r, json.loads(r.out) if r.out.strip() else None


def test_hits_are_recorded_in_one_group_each_record_naming_its_entry(cli, tmp_path: Path) -> None:
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(5)] + [malicious_model(tmp_path / "bad")]
    first, doc1 = _run(cli, sources, tmp_path)
    assert first.code == 1, first.err
    judged = {Path(x["source"]).name: json.loads(Path(x["record"]).read_text()) for x in doc1["results"]}
    second, doc2 = _run(cli, sources, tmp_path)
    assert second.code == 1 and all(x["cached"] for x in doc2["results"])
    with Ledger(tmp_path / "ledger.db") as db:
        entries = db.entries()
        assert db.verify().ok
    assert len(entries) == 12 and [e.seq for e in entries] == list(range(1, 13))
    by_seq = {e.seq: e for e in entries}
    for result in doc2["results"]:
        record = json.loads(Path(result["record"]).read_text())
        entry = by_seq[record["ledger"]["seq"]]
        assert entry.hash == record["ledger"]["hash"] and entry.seq > 6  # this run's entries
        assert entry.record["batch"] == record["batch"] and record["batch"]["cached"] is True
        before = judged[Path(result["source"]).name]
        same = {k: v for k, v in record.items() if k not in ("batch", "ledger")}
        assert same == {k: v for k, v in before.items() if k not in ("batch", "ledger")}
        assert entry.record["decision"]["allow"] is result["allow"]


def test_a_record_that_cannot_be_written_is_never_in_the_ledger(cli, tmp_path: Path) -> None:
    """The recorder groups whatever is waiting (how many depends on timing): whichever group
    m1 falls in is not committed, every entry that is has its record in place naming it."""
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(3)]
    first, _ = _run(cli, sources, tmp_path)
    assert first.code == 0, first.err
    (tmp_path / "rec" / "00001-m1.json").unlink()
    (tmp_path / "rec" / "00001-m1.json" / "in-the-way").mkdir(parents=True)
    second, _ = _run(cli, sources, tmp_path)
    assert second.code == 2 and "00001-m1.json" in second.err
    with Ledger(tmp_path / "ledger.db") as db:
        entries = db.entries()
        assert db.verify().ok
    later = entries[3:]
    assert "m1" not in [e.record["artifact"]["name"] for e in later]
    for entry in later:
        name = entry.record["artifact"]["name"]
        record = json.loads((tmp_path / "rec" / f"0000{name[1]}-{name}.json").read_text())
        assert record["ledger"] == {"path": str(tmp_path / "ledger.db"), "seq": entry.seq, "hash": entry.hash}
    assert not [p for p in (tmp_path / "rec").iterdir() if p.name.startswith(".")]
    shutil.rmtree(tmp_path / "rec" / "00001-m1.json")
    third, doc3 = _run(cli, sources, tmp_path)
    assert third.code == 0 and all(x["cached"] for x in doc3["results"])
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == len(entries) + 3 and db.verify().ok
