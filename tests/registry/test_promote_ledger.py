"""The ledger entry and the tag move of a promotion, against a real registry and real SQLite
faults: the entry is inserted before the tag PUT and committed after it, so no tag move is left
without its entry and no entry claims a promotion that did not happen.

The faults are real: the file-size limit (``RLIMIT_FSIZE``, what a quota or a full disk does to a
write) makes SQLite's COMMIT fail with an I/O error after the tag moved; the registry process is
killed to make the tag PUT fail. CPython ignores SIGXFSZ, so a write past the limit is an error
(EFBIG), not the end of the process."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.evidence.ledger import Ledger
from scanner.options import GateOptions
from scanner.registry.client import Client, RegistryError
from scanner.registry.promote import promote
from scanner.registry.push import push
from scanner.registry.reference import parse_reference
from tests.registry.helpers import PLAIN, model_dir

pytestmark = pytest.mark.skipif(
    signal.getsignal(signal.SIGXFSZ) != signal.SIG_IGN, reason="SIGXFSZ is not ignored: a fault would kill pytest"
)


def _pushed(registry, repo: str, root: Path, tag: str, weights: int) -> str:
    return push(
        model_dir(root, weights=weights), parse_reference(registry.ref(repo, tag)), Client(registry.host, PLAIN)
    ).digest


@contextmanager
def _file_size_limit() -> Iterator[Callable[[int | None], None]]:
    """``limit(n)`` makes every write of this process past byte ``n`` of a file fail (EFBIG);
    ``limit(None)`` lifts it. Lifted when the block ends, whatever happened."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size: int | None) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft if size is None else size, hard))

    try:
        yield limit
    finally:
        limit(None)


def _promote_to_staging(source: str, target: str, sign_key, ledger: Path, **hooks):
    """``promote`` of ``source`` (a dev tag) to ``target`` (a staging tag), the evidence signed
    with ``sign_key``, recorded in ``ledger``; ``hooks``: on_event / before_tag_move."""
    return promote(
        parse_reference(source), parse_reference(target), GateOptions(stage="staging"), PLAIN,
        sign_key=sign_key[0], ledger=ledger, **hooks,
    )  # fmt: skip


def _entries(path: Path) -> list:
    with Ledger(path, create=False) as book:
        assert book.verify().ok
        return list(book.entries())


def test_a_commit_failing_after_the_tag_moved_puts_the_tag_back_and_records_the_failure(
    registry, repo, tmp_path, sign_key, capsys
) -> None:
    """The disk is full for the instant of the commit (every write fails), then has room again:
    the tag goes back to what it held, and the entry says not promoted and why."""
    client = Client(registry.host, PLAIN)
    old = _pushed(registry, repo, tmp_path / "old", "staging", weights=32)
    new = _pushed(registry, repo, tmp_path / "new", "dev", weights=64)
    ledger = tmp_path / "ledger.db"
    seen: dict[str, object] = {}
    with _file_size_limit() as limit:

        def fault(step: str) -> None:
            if step == "tag-moved":  # the tag PUT succeeded; the commit comes next
                seen["moved to"] = client.resolve(repo, "staging")
                limit(0)
            elif step == "tag-restored":
                limit(None)

        with pytest.raises(ScanError) as caught:
            _promote_to_staging(
                registry.ref(repo, "dev"),
                registry.ref(repo, "staging"),
                sign_key,
                ledger,
                on_event=fault,
                before_tag_move=lambda result: seen.update(entry=dict(result.outcome.record["ledger"])),
            )
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{ledger}: cannot append to ledger: disk I/O error")
    assert f"no ledger entry was committed after {registry.ref(repo, 'staging')} moved: put back on {old}" in message
    assert seen["moved to"] == new  # it did move, for an instant
    assert client.resolve(repo, "staging") == old
    [entry] = _entries(ledger)  # the failure, in the place the uncommitted entry had
    assert entry.seq == seen["entry"]["seq"] and entry.hash != seen["entry"]["hash"]  # type: ignore[index]
    assert entry.record["registry"]["promoted"] is False
    assert f"put back on {old}" in entry.record["registry"]["error"]


@pytest.mark.parametrize("held_before", [True, False], ids=["tag-held-before", "new-tag"])
def test_cli_ledger_commit_failure_is_exit_2_naming_the_ledger(
    cli, registry, repo, tmp_path, sign_key, held_before
) -> None:
    """The same fault through the command, with a disk that stays full: the ledger's write-ahead
    log has grown past the file-size limit (an idle connection keeps it from being reset), so
    every file the command writes fits under it except the ledger's commit. Exit 2 with one line
    naming the ledger; no report is left in place (it named an entry that does not exist)."""
    client = Client(registry.host, PLAIN)
    old = _pushed(registry, repo, tmp_path / "old", "staging", weights=32) if held_before else None
    new = _pushed(registry, repo, tmp_path / "new", "dev", weights=64)
    ledger = tmp_path / "ledger.db"
    report = tmp_path / "out" / "promotion.json"
    # a first run warms every cache the command writes (the vulnerability database is built on first use)
    warm = cli("promote", registry.ref(repo, "dev"), registry.ref(repo + "-warm", "staging"), "--stage", "staging",
               "--plain-http", "--sign-key", sign_key[0], "--no-ledger")  # fmt: skip
    assert warm.code == 0, warm.err
    with Ledger(ledger) as keeper, _file_size_limit() as limit:
        wal = Path(f"{ledger}-wal")
        for n in range(12):  # ~1.2 MB of write-ahead log, under the 1000-page checkpoint
            keeper.append({"artifact": {"name": f"earlier-{n}", "digest": ""}, "padding": "x" * 100_000})
        assert wal.stat().st_size > 1_000_000
        limit(wal.stat().st_size)
        r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
                "--plain-http", "--sign-key", sign_key[0], "--ledger", ledger, "-f", f"json={report}")  # fmt: skip
    assert r.code == 2, r.err
    [line] = [x for x in r.err.splitlines() if x.startswith("scanner: error:")]
    assert line.startswith(f"scanner: error: {ledger}: cannot append to ledger: disk I/O error")
    target = registry.ref(repo, "staging")
    if held_before:
        assert line.endswith(f"no ledger entry was committed after {target} moved: put back on {old}")
        assert client.resolve(repo, "staging") == old
    else:
        assert line.endswith(
            f"no ledger entry was committed after {target} moved: it did not exist before,"
            f" nothing to put back; it stays on {new}"
        )
    assert "could not be recorded in the ledger either" in r.err  # the failure entry failed too
    assert not report.exists() and list(report.parent.iterdir()) == []
    entries = _entries(ledger)
    assert len(entries) == 12 and not any("registry" in e.record for e in entries)


def test_a_tag_put_that_fails_rolls_the_entry_back_and_records_the_failure(
    registry, registry2, repo, tmp_path, sign_key
) -> None:
    """The target registry dies after the reports were written, before the tag PUT: exit 2, the
    tag stays where it was, and the one entry says not promoted, naming the error (the entry the
    reports named was rolled back)."""
    old = _pushed(registry2, repo, tmp_path / "old", "staging", weights=32)
    _pushed(registry, repo, tmp_path / "new", "dev", weights=64)
    ledger = tmp_path / "ledger.db"
    named: list[dict] = []

    def die(result) -> None:
        named.append(dict(result.outcome.record["ledger"]))
        registry2.kill()

    with pytest.raises(RegistryError, match="cannot reach the registry") as caught:
        _promote_to_staging(
            registry.ref(repo, "dev"), registry2.ref(repo, "staging"), sign_key, ledger, before_tag_move=die
        )
    assert f"whether {registry2.ref(repo, 'staging')} moved could not be checked" in str(caught.value)
    registry2.restart()
    assert Client(registry2.host, PLAIN).resolve(repo, "staging") == old
    [entry] = _entries(ledger)
    assert entry.record["registry"]["promoted"] is False and "cannot reach" in entry.record["registry"]["error"]
    assert [n["seq"] for n in named] == [entry.seq] and named[0]["hash"] != entry.hash


def test_reports_name_the_committed_entry(cli, registry, repo, tmp_path, sign_key, _ledger) -> None:
    """The JSON and table reports, written before the tag moved, name the entry that was then
    committed — for a promotion and for its idempotent re-run."""
    digest = _pushed(registry, repo, tmp_path, "dev", weights=64)
    for n in (1, 2):
        out = tmp_path / f"run{n}"
        r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
                "--plain-http", "--sign-key", sign_key[0], "-f", f"json={out}.json",
                "-f", f"table={out}.txt")  # fmt: skip
        assert r.code == 0, r.err
        doc = json.loads(Path(f"{out}.json").read_text())
        entry = _entries(_ledger)[-1]
        assert entry.seq == n and doc["ledger"] == {"path": str(_ledger), "seq": n, "hash": entry.hash}
        assert Path(f"{out}.txt").read_text().endswith(f"ledger: #{n} {entry.hash} in {_ledger}\n")
        assert entry.record["registry"]["promoted"] is True and entry.record["registry"]["digest"] == digest
        assert doc["unchanged"] is (n == 2) and entry.record["registry"]["unchanged"] is (n == 2)
    assert Client(registry.host, PLAIN).resolve(repo, "staging") == digest


class _Terminated(Exception):
    """What this test's SIGTERM handler raises (the default would end the test process)."""


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_a_sigterm_between_the_tag_put_and_the_commit_waits_for_the_commit(registry, repo, tmp_path, sign_key) -> None:
    """A cancelled CI job (a real SIGTERM to this process) the instant after the tag moved: the
    entry is committed first, then the signal takes effect; the tag and the entry agree."""
    client = Client(registry.host, PLAIN)
    _pushed(registry, repo, tmp_path / "old", "staging", weights=32)
    new = _pushed(registry, repo, tmp_path / "new", "dev", weights=64)
    ledger = tmp_path / "ledger.db"

    def cancel(step: str) -> None:
        if step == "tag-moved":
            os.kill(os.getpid(), signal.SIGTERM)

    def terminated(_number: int, _frame: object) -> None:
        raise _Terminated

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        with pytest.raises(_Terminated):
            _promote_to_staging(
                registry.ref(repo, "dev"), registry.ref(repo, "staging"), sign_key, ledger, on_event=cancel
            )
        assert signal.getsignal(signal.SIGTERM) is terminated  # the handler given back
    finally:
        signal.signal(signal.SIGTERM, before)
    assert client.resolve(repo, "staging") == new
    [entry] = _entries(ledger)  # one entry: no "not promoted" after the committed one
    assert entry.record["registry"]["promoted"] is True and entry.record["registry"]["digest"] == new


class _LosingRelay:
    """A TCP relay in front of the real registry that loses the answer to one request: the
    registry receives and carries out the request, and the client sees the connection drop before
    any answer (what a network fault or a timing-out proxy does to a PUT)."""

    def __init__(self, upstream: str, request_line: bytes) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.request_line = request_line
        self.lost = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.server.accept()
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        losing = threading.Event()

        def requests() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(1 << 16):
                    if not self.lost.is_set() and data.startswith(self.request_line):
                        self.lost.set()
                        losing.set()  # before the registry can answer it
                    upstream.sendall(data)

        threading.Thread(target=requests, daemon=True).start()
        with contextlib.suppress(OSError), client, upstream:
            while data := upstream.recv(1 << 16):
                if losing.is_set():
                    break  # the answer is lost
                client.sendall(data)
            for end in (client, upstream):
                end.shutdown(socket.SHUT_RDWR)  # closes at once (a thread may still be reading it)


def test_a_tag_put_whose_answer_is_lost_is_checked_and_put_back(registry, repo, tmp_path, sign_key) -> None:
    """The registry moves the tag but its answer never arrives: the PUT looks failed, yet it took
    effect. The tag is read back, found moved, and put back on what it held; the entry says not
    promoted."""
    old = _pushed(registry, repo, tmp_path / "old", "staging", weights=32)
    new = _pushed(registry, repo, tmp_path / "new", "dev", weights=64)
    relay = _LosingRelay(registry.host, f"PUT /v2/{repo}/manifests/staging ".encode())
    ledger = tmp_path / "ledger.db"
    try:
        with pytest.raises(RegistryError, match="cannot reach the registry") as caught:
            _promote_to_staging(registry.ref(repo, "dev"), f"oci://{relay.host}/{repo}:staging", sign_key, ledger)
    finally:
        relay.close()
    assert relay.lost.is_set()
    assert f"the PUT of oci://{relay.host}/{repo}:staging took effect all the same: put back on {old}" in str(
        caught.value
    )
    assert Client(registry.host, PLAIN).resolve(repo, "staging") == old != new
    [entry] = _entries(ledger)
    assert (
        entry.record["registry"]["promoted"] is False
        and "took effect all the same" in entry.record["registry"]["error"]
    )
