"""Cache hits reach the ledger in groups: records written, flushed and put in place together,
then their entries committed in one transaction. Each record names its own entry; a record that
cannot be written leaves none of its group's entries, and no temporary file."""

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


def test_a_record_that_cannot_be_written_leaves_none_of_its_groups_entries(cli, tmp_path: Path) -> None:
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(3)]
    first, _ = _run(cli, sources, tmp_path)
    assert first.code == 0, first.err
    (tmp_path / "rec" / "00001-m1.json").unlink()
    (tmp_path / "rec" / "00001-m1.json" / "in-the-way").mkdir(parents=True)
    second, _ = _run(cli, sources, tmp_path)
    assert second.code == 2 and "00001-m1.json" in second.err
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == 3 and db.verify().ok  # the first run's only
    assert not [p for p in (tmp_path / "rec").iterdir() if p.name.startswith(".")]
    shutil.rmtree(tmp_path / "rec" / "00001-m1.json")
    third, doc3 = _run(cli, sources, tmp_path)
    assert third.code == 0 and all(x["cached"] for x in doc3["results"])
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == 6 and db.verify().ok
