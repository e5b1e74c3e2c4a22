"""The ledger: appends chained by hash, tampering and gaps detected, concurrent writers safe."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scanner.errors import ScanError
from scanner.evidence.ledger import GENESIS, Ledger, canonical, chain_hash
from tests.conftest import REPO


def _record(n: int, allow: bool = True, artifact: str = "model-a") -> dict[str, Any]:
    return {
        "schema": "scanner-evidence/2",
        "command": "gate",
        "timestamp": f"2026-11-{10 + n % 10:02d}T12:00:00Z",
        "artifact": {"name": artifact, "kind": "model-dir", "digest": f"sha256:{n:064x}", "path": artifact},
        "stage": "prod",
        "ci": {"system": "local", "actor": f"user{n}"},
        "findings": [],
        "decision": {"allow": allow, "deny": [] if allow else [{"rule": "r", "message": "m"}], "warn": []},
        "n": n,
    }


def _filled(path: Path, count: int = 5) -> list[tuple[int, str]]:
    with Ledger(path) as ledger:
        return [ledger.append(_record(i, allow=i % 2 == 0)) for i in range(count)]


def test_append_chains_each_record_to_the_previous(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    heads = _filled(db, 3)
    assert [seq for seq, _ in heads] == [1, 2, 3]
    con = sqlite3.connect(db)
    rows = con.execute("SELECT seq, record, record_sha256, prev_hash, hash FROM decisions ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, body, sha, prev_hash, digest in rows:
        assert prev_hash == prev
        assert digest == chain_hash(seq, prev_hash, sha)
        assert body == canonical(_record(seq - 1, allow=(seq - 1) % 2 == 0))
        prev = digest
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Ledger(db) as ledger:
        result = ledger.verify()
    assert result.ok and result.count == 3 and result.head_hash == heads[-1][1]


def test_an_entry_is_committed_only_when_its_block_completes(tmp_path: Path) -> None:
    """``appending``: what the block writes can name the entry (seq, hash) before it exists; an
    exception in the block (a report that could not be written) leaves no entry, and the entry
    the next run appends takes the same place in the chain."""
    db = tmp_path / "l.db"
    with Ledger(db) as ledger:
        with pytest.raises(OSError), ledger.appending(_record(0)) as (seq, digest):
            assert seq == 1
            raise OSError(28, "No space left on device")
        assert ledger.entries() == []
        with ledger.appending(_record(0)) as (seq2, digest2):
            pass
        assert (seq2, digest2) == (seq, digest)
        assert [e.seq for e in ledger.entries()] == [1] and ledger.verify().ok


def test_ledger_key_is_not_part_of_the_hashed_record() -> None:
    r = _record(1)
    assert canonical({**r, "ledger": {"seq": 9}}) == canonical(r)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE decisions SET record = replace(record, 'user2', 'mallory') WHERE seq = 3", "#3: record content"),
        ("DELETE FROM decisions WHERE seq = 2", "#3: gap, expected #2"),
        ("DELETE FROM decisions WHERE seq = 5", "head mismatch"),
        (
            "UPDATE decisions SET allow = 1, record = replace(record, '\"allow\":false', '\"allow\":true'),"
            " record_sha256 = 'x' WHERE seq = 2",
            "#2: chain hash does not match",
        ),
    ],
)
def test_tampering_and_gaps_are_detected(tmp_path: Path, sql: str, expected: str) -> None:
    db = tmp_path / "l.db"
    _filled(db)
    con = sqlite3.connect(db)
    con.execute(sql)
    con.commit()
    con.close()
    with Ledger(db) as ledger:
        result = ledger.verify()
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems


def test_rewritten_record_with_recomputed_own_hash_still_breaks_the_chain(tmp_path: Path) -> None:
    """An attacker who fixes record_sha256 and hash of one row breaks the next row's link."""
    import hashlib

    db = tmp_path / "l.db"
    _filled(db)
    con = sqlite3.connect(db)
    body = canonical(_record(1, allow=True) | {"note": "forged"})
    sha = hashlib.sha256(body.encode()).hexdigest()
    prev = con.execute("SELECT prev_hash FROM decisions WHERE seq = 2").fetchone()[0]
    con.execute(
        "UPDATE decisions SET record = ?, record_sha256 = ?, hash = ? WHERE seq = 2",
        (body, sha, chain_hash(2, prev, sha)),
    )
    con.commit()
    con.close()
    with Ledger(db) as ledger:
        problems = ledger.verify().problems
    assert problems == ["#3: previous-hash link broken (a row before it was changed or removed)"]


WRITER = """
import sys, time
sys.path.insert(0, {repo!r})
from scanner.evidence.ledger import Ledger
proc, count, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.005)
for i in range(count):
    with Ledger({db!r}) as ledger:   # a fresh connection per record, as separate CI jobs do
        ledger.append({{"schema": "scanner-evidence/2", "timestamp": "2026-11-20T00:00:00Z",
                        "artifact": {{"name": f"p{{proc}}", "digest": "sha256:0"}}, "proc": proc, "i": i}})
"""


def test_concurrent_writers_lose_and_corrupt_nothing(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    procs, per = 6, 15
    script = WRITER.format(repo=str(REPO), db=str(db))
    start = time.time() + 1.0
    children = [
        subprocess.Popen([sys.executable, "-c", script, str(p), str(per), str(start)], stderr=subprocess.PIPE)
        for p in range(procs)
    ]
    for child in children:
        _, err = child.communicate(timeout=90)
        assert child.returncode == 0, err.decode()
    with Ledger(db) as ledger:
        result = ledger.verify()
        entries = ledger.entries()
    assert result.ok, result.problems
    assert result.count == procs * per
    assert [e.seq for e in entries] == list(range(1, procs * per + 1))
    written = sorted((e.record["proc"], e.record["i"]) for e in entries)
    assert written == [(p, i) for p in range(procs) for i in range(per)]


def test_entries_filter_by_time_and_artifact(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    with Ledger(db) as ledger:
        for i in range(6):
            ledger.append(_record(i, artifact="a" if i < 3 else "b"))
        assert [e.seq for e in ledger.entries(since="2026-11-12")] == [3, 4, 5, 6]
        assert [e.seq for e in ledger.entries(until="2026-11-12")] == [1, 2]
        assert [e.seq for e in ledger.entries(artifact="b", since="2026-11-14")] == [5, 6]
        assert ledger.entries(artifact="b")[0].actor == "user3"


def test_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ScanError, match="cannot open ledger"):
        Ledger(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ScanError, match="not a scanner ledger"):
        Ledger(other, create=False)
    with pytest.raises(ScanError, match="ledger not found"):
        Ledger(tmp_path / "missing.db", create=False)


def test_record_is_stored_exactly(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    record = _record(3) | {"findings": [{"id": "X", "message": "ünïcode <b>"}], "score": 7.5}
    with Ledger(db) as ledger:
        ledger.append(record)
        (entry,) = ledger.entries()
    assert entry.record == json.loads(json.dumps(record))


def test_several_records_are_chained_in_one_transaction_or_none_is(tmp_path: Path) -> None:
    from scanner.evidence.ledger import Ledger

    with Ledger(tmp_path / "l.db") as db:
        db.append({"artifact": {"name": "first"}, "decision": {"allow": True}})
        records = [{"artifact": {"name": f"r{i}"}, "decision": {"allow": i % 2 == 0}} for i in range(3)]
        try:
            with db.appending_all(records) as entries:
                assert [seq for seq, _ in entries] == [2, 3, 4]
                raise RuntimeError("a record could not be written")
        except RuntimeError:
            pass
        assert [e.seq for e in db.entries()] == [1]
        with db.appending_all(records) as entries:
            pass
        got = db.entries()
        assert [e.seq for e in got] == [1, 2, 3, 4] and db.verify().ok
        assert [e.hash for e in got[1:]] == [digest for _, digest in entries]
        assert [e.record["artifact"]["name"] for e in got] == ["first", "r0", "r1", "r2"]
