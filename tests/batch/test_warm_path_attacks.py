"""Attacks on the warm path: cache hits written from their stored text, decisions recorded in the
ledger in groups (by the recorder thread). Whatever fails or is interrupted, every record file
names a ledger entry that exists, no temporary file is left, and the summary never reports as
judged a verdict the ledger does not hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.evidence.ledger import Ledger
from tests.batch.conftest import clean_model, malicious_model

# Ctrl-C at an exact moment: a real SIGINT sent to the process itself when the named function of
# ``scanner.atomic`` is called or returns, in whichever thread (the ledger's recorder is one);
# Python raises it in the main thread. ``delay`` first lets the main thread reach the end of the
# run (it then waits for the recorder); ``times``: Ctrl-C pressed that many times.
_INTERRUPT_AT = """
import os, signal, sys, threading, time
where, event, delay, times = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
driver = os.getpid()
def trace(frame, ev, arg):
    if os.getpid() != driver:  # a worker forked from the driver: not traced
        sys.settrace(None)
        return None
    if frame.f_code.co_name != where or frame.f_globals.get("__name__") != "scanner.atomic":
        return None
    if ev == event:
        sys.settrace(None)
        threading.settrace(None)
        for _ in range(times):
            time.sleep(delay)
            os.kill(os.getpid(), signal.SIGINT)
    return trace
sys.settrace(trace)
threading.settrace(trace)
from scanner.cli import main
main(sys.argv[5:])
"""


def _args(tmp_path: Path, records: str) -> list[str]:
    return ["--workers", "1", "--cache", str(tmp_path / "cache"), "--records", str(tmp_path / records),
            "--ledger", str(tmp_path / "ledger.db"), "-f", "json"]  # fmt: skip


def _records_name_their_entries(records: Path, ledger: Path) -> list[dict]:
    """Every record file in ``records`` names an entry of the ledger (same seq and hash); no
    temporary file is left. Returns the records."""
    left = sorted(p.name for p in records.iterdir() if p.name.startswith(".")) if records.exists() else []
    assert left == []
    with Ledger(ledger) as db:
        assert db.verify().ok
        hashes = {e.seq: e.hash for e in db.entries()}
    found = []
    for path in sorted(records.iterdir()) if records.exists() else []:
        record = json.loads(path.read_text())
        assert hashes.get(record["ledger"]["seq"]) == record["ledger"]["hash"], path.name
        found.append(record)
    return found


def test_a_record_put_in_place_before_a_later_one_failed_does_not_name_a_rolled_back_entry(cli, tmp_path: Path) -> None:
    """The third record cannot be put in place: its group's entries are rolled back, so records of
    that group already renamed into place must go too (they would name entries that do not exist,
    which a later run could fill with other decisions). Records of groups committed before stay."""
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(3)]
    first = cli("batch", *sources, *_args(tmp_path, "rec1"))
    assert first.code == 0, first.err
    (tmp_path / "rec2" / "00002-m2.json" / "in-the-way").mkdir(parents=True)
    second = cli("batch", *sources, *_args(tmp_path, "rec2"))
    assert second.code == 2 and "00002-m2.json" in second.err
    (tmp_path / "rec2" / "00002-m2.json" / "in-the-way").rmdir()
    (tmp_path / "rec2" / "00002-m2.json").rmdir()
    kept = _records_name_their_entries(tmp_path / "rec2", tmp_path / "ledger.db")
    assert all(r["artifact"]["name"] != "m2" for r in kept)
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == 3 + len(kept)


@pytest.mark.parametrize(
    ("where", "event", "delay"),
    [("_place", "call", "0"), ("_place", "call", "0.5"), ("commit", "return", "0.5")],
    ids=["placing", "placing-at-the-end", "placed-at-the-end"],
)
def test_ctrl_c_while_a_group_is_recorded_keeps_ledger_records_and_summary_in_step(
    cli, tmp_path: Path, where: str, event: str, delay: str
) -> None:
    """A real Ctrl-C while the recorder puts a group's records in place or has just done so
    (before its entries are committed) — while the driver still works, or once it waits for the
    recorder at the end: the group is finished, never cut short (the process must not end with
    records whose entries were never committed); exit 130, the summary is written, and each
    artifact it reports judged has its record and its entry; no temporary is left."""
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(3)] + [malicious_model(tmp_path / "bad")]
    first = cli("batch", *sources, *_args(tmp_path, "rec1"))
    assert first.code == 1, first.err
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    args = [where, event, delay, "1", "batch", *map(str, sources), *_args(tmp_path, "rec2")]
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_AT, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert proc.returncode == 130, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["interrupted"] is True
    _judged_in_step(doc, tmp_path / "rec2", tmp_path / "ledger.db", before=4)


def _judged_in_step(doc: dict, records: Path, ledger: Path, *, before: int) -> None:
    """The summary ``doc`` reports judged exactly the artifacts whose record names a committed
    entry of this run; the ledger holds ``before`` entries and this run's."""
    kept = _records_name_their_entries(records, ledger)
    with Ledger(ledger) as db:
        assert len(db.entries()) == before + len(kept)
    judged = [r for r in doc["results"] if r["allow"] is not None]
    assert sorted(Path(r["record"]).name for r in judged) == sorted(p.name for p in records.iterdir())
    assert doc["counts"]["allowed"] + doc["counts"]["denied"] == len(kept)


def test_a_source_path_that_is_not_utf8_is_judged_cached_and_recorded(cli, tmp_path: Path) -> None:
    """A directory named with bytes that are not UTF-8 (they reach Python as surrogates): judged,
    cached, answered from the cache, recorded in the ledger; no internal error."""
    if sys.platform == "darwin":  # pragma: no cover - APFS refuses such names
        pytest.skip("the file system refuses names that are not UTF-8")
    odd = clean_model(Path(os.fsdecode(os.fsencode(tmp_path) + b"/m\xff")), 5)
    first = cli("batch", odd, *_args(tmp_path, "rec1"))
    assert first.code == 0, first.err
    outputs = (
        "-f",
        f"html={tmp_path / 's.html'}",
        "-f",
        f"sarif={tmp_path / 's.sarif'}",
        "-f",
        f"table={tmp_path / 's.txt'}",
    )
    second = cli("batch", odd, *_args(tmp_path, "rec2"), *outputs)
    assert second.code == 0, second.err
    assert "m\\xff" in (tmp_path / "s.html").read_text() and "m?" in (tmp_path / "s.txt").read_text()
    sarif = json.loads((tmp_path / "s.sarif").read_text())
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True
    [result] = json.loads(second.out)["results"]
    assert result["cached"] is True
    for records in ("rec1", "rec2"):
        [record] = _records_name_their_entries(tmp_path / records, tmp_path / "ledger.db")
        assert record["batch"]["source"].endswith("m\\xff")
    with Ledger(tmp_path / "ledger.db") as db:
        one, two = db.entries()
    assert {k: v for k, v in one.record.items() if k != "batch"} == {
        k: v for k, v in two.record.items() if k != "batch"
    }  # the hit's ledger body is the judged one's


def _reseal(entry_path: Path, record_text: str) -> None:
    """What the user owning the cache (the only one whose entries are used) can do: replace an
    entry's record text and recompute its seal."""
    from scanner.batch.cache import canonical, digest_of

    doc = json.loads(entry_path.read_text())
    doc["record_text"] = record_text
    body = {k: doc[k] for k in ("key", "result", "record", "record_text", "expires", "db_age")}
    entry_path.write_bytes(canonical({**body, "sha256": digest_of(body)}))


@pytest.mark.parametrize(
    "text",
    [
        "{}\n",  # no member to add the run's after
        '[\n  "x"\n}\n',  # ends as an object laid out by chunks would, but is none
        '{\n  "artifact": {},\n  "batch": {"run": "planted"}\n}\n',  # a second batch member
        '{\n  "artifact": {},\n  "ledger": {"seq": 1}\n}\n',  # a ledger member of another run
    ],
    ids=["empty", "not-an-object", "batch-member", "ledger-member"],
)
@pytest.mark.parametrize("ledger", [True, False], ids=["ledger", "no-ledger"])
def test_a_record_text_not_laid_out_by_the_cache_is_not_used(cli, tmp_path: Path, text: str, ledger: bool) -> None:
    """A sealed entry whose record text is no record as the cache writes it (one the run's
    members could be spliced into once) is not trusted: the artifact is judged again, its record
    has one ``batch`` member, this run's — no internal error, no text spliced into."""
    model = clean_model(tmp_path / "m", 9)
    where = ["--ledger", str(tmp_path / "ledger.db")] if ledger else ["--no-ledger"]
    flags = ["--workers", "1", "--cache", str(tmp_path / "cache"), *where, "-f", "json"]
    first = cli("batch", model, *flags, "--records", tmp_path / "rec1")
    assert first.code == 0, first.err
    [entry] = (tmp_path / "cache" / "v1").glob("*/*.json")
    _reseal(entry, text)
    second = cli("batch", model, *flags, "--records", tmp_path / "rec2")
    assert second.code == 0, second.err
    assert "not trusted (malformed verdict" in second.err
    [result] = json.loads(second.out)["results"]
    assert result["cached"] is False
    record_text = Path(result["record"]).read_text()
    assert record_text.count('\n  "batch": ') == 1 and json.loads(record_text)["batch"]["run"] != "planted"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 48 KiB file system (tmpfs; needs the right to mount, else skipped): it fills up
    after a few records."""
    import shutil

    where = tmp_path / "small"
    where.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or not mount or not umount:
        pytest.skip("mounting a file system needs root")
    made = subprocess.run([mount, "-t", "tmpfs", "-o", "size=48k", "none", str(where)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run([umount, "-l", str(where)], check=False)


def test_a_disk_that_fills_up_mid_group_leaves_no_record_no_temporary_and_no_entry(
    cli, tmp_path: Path, small_disk: Path
) -> None:
    """The records outgrow the disk part way (ENOSPC while one is written): exit 2 naming it;
    of the group that failed, no record, temporary or entry stays (records of groups committed
    before it do, each naming its entry). Read-only, the records directory is an error naming the
    file too."""
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(10)]
    first = cli("batch", *sources, *_args(tmp_path, "rec1"))
    assert first.code == 0, first.err
    second = cli("batch", *sources, *_args(tmp_path, "small/rec"))
    assert second.code == 2 and "No space left on device" in second.err
    kept = _records_name_their_entries(small_disk / "rec", tmp_path / "ledger.db")
    assert len(kept) < 10
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == 10 + len(kept)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    third = cli("batch", *sources, *_args(tmp_path, "small/rec2"))
    assert third.code == 2 and "small/rec2" in third.err and "Read-only file system" in third.err


def test_ctrl_c_just_after_a_judged_record_is_placed_keeps_it_in_step(tmp_path: Path) -> None:
    """The same for a decision from a worker: a real Ctrl-C once its record is in place, before
    its entry is committed."""
    model = clean_model(tmp_path / "m", 11)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    args = ["--workers", "1", "--no-cache", "--records", str(tmp_path / "rec"), "--ledger", str(tmp_path / "l.db")]
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_AT, "commit", "return", "0", "1", "batch", str(model), *args, "-f", "json"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    _judged_in_step(json.loads(proc.stdout), tmp_path / "rec", tmp_path / "l.db", before=0)


def test_ctrl_c_twice_at_the_end_stops_recording_after_the_group_in_hand(cli, tmp_path: Path) -> None:
    """Ctrl-C pressed again while the run waits for the recorder: it stops after the group it
    holds (never in the middle of one) and the run is aborted (exit 130, no summary); every
    record left names a committed entry, no temporary is left."""
    sources = [clean_model(tmp_path / f"m{i}", i) for i in range(3)]
    first = cli("batch", *sources, *_args(tmp_path, "rec1"))
    assert first.code == 0, first.err
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    args = ["_place", "call", "0.3", "2", "batch", *map(str, sources), *_args(tmp_path, "rec2")]
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_AT, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert proc.returncode == 130 and "aborted" in proc.stderr, proc.stderr
    kept = _records_name_their_entries(tmp_path / "rec2", tmp_path / "ledger.db")
    with Ledger(tmp_path / "ledger.db") as db:
        assert len(db.entries()) == 3 + len(kept)
