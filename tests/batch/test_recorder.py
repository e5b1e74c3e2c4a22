"""``batch.recorder``: the ledger's one writer in a batch run, a thread recording in groups."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from scanner.atomic import Folder
from scanner.batch.recorder import Recorder
from scanner.errors import ScanError
from scanner.evidence.ledger import Ledger
from scanner.report.json_format import render


def _decision(i: int) -> tuple[dict, str, object]:
    return {"artifact": {"name": f"a{i}"}, "decision": {"allow": True}}, f"{i:05d}.json", lambda r: [render(r)]


def test_every_decision_handed_over_is_recorded_in_order_naming_its_entry(tmp_path: Path) -> None:
    folder = Folder(tmp_path / "rec", "evidence record")
    recorder = Recorder(tmp_path / "l.db", folder)
    for i in range(600):  # more than a group: several commits, in the order handed over
        recorder.put(_decision(i))
    recorder.close()
    folder.close()
    with Ledger(tmp_path / "l.db") as db:
        entries = db.entries()
        assert db.verify().ok
    assert [e.record["artifact"]["name"] for e in entries] == [f"a{i}" for i in range(600)]
    for i in (0, 299, 599):
        record = json.loads((tmp_path / "rec" / f"{i:05d}.json").read_text())
        assert record["ledger"]["seq"] == entries[i].seq and record["ledger"]["hash"] == entries[i].hash


def test_a_ledger_that_cannot_be_opened_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ScanError) as caught:
        Recorder(tmp_path / "file" / "l.db", None)
    assert "ledger" in str(caught.value)


def test_after_a_record_fails_nothing_more_is_recorded_and_the_driver_is_told(tmp_path: Path) -> None:
    (tmp_path / "rec" / "00002.json" / "in-the-way").mkdir(parents=True)
    folder = Folder(tmp_path / "rec", "evidence record")
    recorder = Recorder(tmp_path / "l.db", folder)
    with pytest.raises(ScanError) as caught:
        for i in range(5000):  # the failure is raised by a later put, or else by close
            recorder.put(_decision(i))
        recorder.close()
    assert "00002.json" in str(caught.value)
    recorder.close()  # said once; closing again is quiet
    folder.close()
    with Ledger(tmp_path / "l.db") as db:
        names = [e.record["artifact"]["name"] for e in db.entries()]
        assert db.verify().ok
    assert "a2" not in names and names == [f"a{i}" for i in range(len(names))]
    assert not [p for p in (tmp_path / "rec").iterdir() if p.name.startswith(".")]


def test_decisions_handed_over_soon_after_a_group_began_join_it(tmp_path: Path, monkeypatch) -> None:
    groups: list[list[str]] = []
    record = Recorder._record

    def counted(self, ledger, decisions):  # what each group held
        groups.append([d[0]["artifact"]["name"] for d in decisions])
        return record(self, ledger, decisions)

    monkeypatch.setattr(Recorder, "_record", counted)
    recorder = Recorder(tmp_path / "l.db", Folder(tmp_path / "rec", "evidence record"), linger=30.0)
    recorder.put(_decision(0))
    time.sleep(0.2)  # the recorder holds the first and waits for more
    recorder.put(_decision(1))
    start = time.monotonic()
    recorder.close()  # the end closes the group at once: no waiting out the linger
    assert time.monotonic() - start < 10
    assert groups == [["a0", "a1"]]
    with Ledger(tmp_path / "l.db") as db:
        assert [e.record["artifact"]["name"] for e in db.entries()] == ["a0", "a1"]
