"""Cache hits hashed by forked children while the driver verifies and writes (``batch.identify``):
every source is answered exactly once, whatever the children do, and the verdicts, digests and
records are those of a run that hashes everything itself."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from scanner.batch.identify import FORK_AT, identities
from tests.batch.conftest import clean_model, malicious_model

DRIVER = os.getpid()


def _children() -> set[int]:
    """This process's live children (the test runner may have others of its own)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_every_item_once_in_children_and_what_they_did_not_report_here() -> None:
    def identify(i: int) -> tuple[str | None, float]:
        if os.getpid() != DRIVER and i in (20, 21):
            os._exit(3)  # a child dies for real: the rest of its share is never reported
        return f"key-{i}-{'child' if os.getpid() != DRIVER else 'driver'}", 0.0

    before = _children()
    got = list(identities(list(range(40)), identify))
    assert sorted(item for item, _ in got) == list(range(40))
    by_item = dict(got)
    assert by_item[0][0] == "key-0-driver"  # hashed here first (imports happen here)
    assert (by_item[20][0], by_item[21][0]) == ("key-20-driver", "key-21-driver")
    assert sum(1 for key, _ in by_item.values() if key and key.endswith("child")) >= 10  # up to the deaths
    assert _children() <= before


def test_too_few_items_are_hashed_here_without_a_fork() -> None:
    got = list(identities(list(range(FORK_AT - 1)), lambda i: (str(os.getpid()), 0.0)))
    assert {key for _, (key, _) in got} == {str(DRIVER)}


def test_a_stuck_child_is_stopped_and_its_items_hashed_here_but_the_one_it_was_stuck_on() -> None:
    def identify(i: int) -> tuple[str | None, float]:
        if i == 5:
            time.sleep(60 if os.getpid() != DRIVER else 0)  # stuck (in the driver too, if it tried)
        return str(i), 0.0

    before, start = _children(), time.monotonic()
    got = dict(identities(list(range(30)), identify, patience=1.0))
    assert sorted(got) == list(range(30))
    assert got[5] == (None, 0.0)  # no key: a worker judges it (and stops it at its budget)
    assert all(got[i][0] == str(i) for i in got if i != 5)
    assert time.monotonic() - start < 30 and _children() <= before


def test_the_driver_leaving_early_stops_the_children() -> None:
    def identify(i: int) -> tuple[str | None, float]:
        if os.getpid() != DRIVER:
            time.sleep(0.05)
        return str(i), 0.0

    before = _children()
    stream = identities(list(range(200)), identify)
    assert [next(stream)[0] for _ in range(3)]  # the driver's own first, then the children's
    assert len(_children() - before) == 2  # both children still at work
    stream.close()  # (an error or Ctrl-C in the driver's loop)
    assert _children() <= before


@pytest.mark.parametrize("ledger", [False, True], ids=["no-ledger", "ledger"])
def test_a_warm_run_hashed_by_children_gives_the_records_of_the_judged_run(cli, tmp_path: Path, ledger: bool) -> None:
    sources = [clean_model(tmp_path / f"m{i:02d}", i) for i in range(FORK_AT + 3)]
    sources.append(malicious_model(tmp_path / "zz-bad"))
    where = ("--ledger", tmp_path / "ledger.db") if ledger else ("--no-ledger",)
    args = ("--workers", "2", "--cache", tmp_path / "cache", *where, "-f", "json")
    first = cli("batch", *sources, "--records", tmp_path / "r1", *args)
    assert first.code == 1, first.err
    second = cli("batch", *sources, "--records", tmp_path / "r2", *args)
    assert second.code == 1, second.err
    one, two = json.loads(first.out)["results"], json.loads(second.out)["results"]
    assert all(r["cached"] for r in two) and not any(r["cached"] for r in one)
    assert [(r["source"], r["digest"], r["allow"]) for r in one] == [
        (r["source"], r["digest"], r["allow"]) for r in two
    ]
    for a, b in zip(one, two, strict=True):
        ra, rb = (json.loads(Path(r["record"]).read_text()) for r in (a, b))
        assert {k: v for k, v in ra.items() if k not in ("batch", "ledger")} == {
            k: v for k, v in rb.items() if k not in ("batch", "ledger")
        }
