"""The ledger's one writer in a batch run: decisions recorded in groups by a thread of their own.

A decision is recorded by writing its evidence record whole and flushing it to disk, then
committing its ledger entry (which the record names). One at a time, that is a flush of the
record, of its folder and of the database per decision — milliseconds each on a busy disk, while
the driver waits and the workers' results queue up. Here the driver hands each decision over and
goes on; the recorder takes the decisions handed over within ``LINGER`` of the group's first (up
to ``GROUP``), writes their records, flushes them together (``Folder.commit``), puts them in
place and commits their entries in one transaction. The order of the ledger is the order the
decisions were handed over; a record that cannot be written leaves none of its group's entries
and stops the run (the next ``put`` or ``close`` raises it: exit 2). ``close`` records
everything handed over before it returns — also after Ctrl-C: what finished is kept.

The ledger is opened by the recorder's thread (an SQLite connection belongs to the thread that
opened it); one that cannot be opened fails the constructor, before any work.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from scanner.atomic import Folder
from scanner.batch.forksafe import busy
from scanner.errors import ScanError

Decision = tuple[dict[str, Any], str | None, Callable[[dict[str, Any]], Iterable[str]]]
# (the record, its file's name in the folder or None, the record's text once it names its entry)

GROUP = 256
LINGER = 0.01  # seconds a group waits for more decisions after its first
WAITING = 1024  # decisions handed over and not yet recorded, at most (the driver waits beyond)


class Recorder:
    def __init__(self, ledger_path: Path, folder: Folder | None, *, linger: float = LINGER) -> None:
        self.path = Path(ledger_path)
        self._folder = folder
        self._linger = linger
        self._queue: queue.Queue[Decision | None] = queue.Queue(WAITING)
        self._failed: BaseException | None = None  # what stopped it (recording never resumes)
        self._told = False  # the driver was told (once)
        self.interrupted = False  # Ctrl-C came while ``close`` waited (all was recorded still)
        self._abandon = False  # Ctrl-C twice while closing: nothing more is recorded
        # set when the thread's work is over: waited for instead of ``Thread.join``, which a
        # Ctrl-C can interrupt so that the thread then counts as stopped while it still runs
        # (CPython 3.11: join's lock released on the running thread's behalf)
        self._ended = threading.Event()
        opened = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(opened,), name="scanner-ledger", daemon=True)
        self._thread.start()
        opened.wait()
        if self._failed is not None:
            self._ended.wait()
            raise self._failed

    def put(self, decision: Decision) -> None:
        """Record ``decision`` (soon); raises what stopped the recorder, if anything did."""
        self._raise()
        while True:
            try:
                self._queue.put(decision, timeout=1.0)
                return
            except queue.Full:  # the recorder is behind (the driver waits), or gone
                if self._ended.is_set():
                    raise ScanError("the ledger's recorder stopped", self.path) from None

    def close(self) -> None:
        """Record every decision handed over, then stop; raises what went wrong, if anything.
        Ctrl-C while it waits never cuts a group short (the process would end with records in
        place whose entries were never committed): the first lets the recorder finish everything
        handed over (``interrupted`` tells the caller), a second has it stop after the group it
        holds — the rest is not recorded — and is raised once it has."""
        while True:
            try:
                self._finish()
                break
            except KeyboardInterrupt:
                self._abandon = self.interrupted
                self.interrupted = True
        self._raise()
        if self._abandon:
            raise KeyboardInterrupt

    def _finish(self) -> None:
        while not self._ended.is_set():
            try:
                self._queue.put(None, timeout=1.0)  # (a second one, after Ctrl-C, is never read)
                break
            except queue.Full:
                continue
        self._ended.wait()

    def _raise(self) -> None:
        if self._failed is not None and not self._told:
            self._told = True
            raise self._failed

    def _run(self, opened: threading.Event) -> None:
        try:
            self._work(opened)
        finally:
            self._ended.set()

    def _work(self, opened: threading.Event) -> None:
        from scanner.evidence.ledger import Ledger

        try:
            ledger = Ledger(self.path)
        except BaseException as exc:
            self._failed = exc
            opened.set()
            return
        opened.set()
        with ledger:
            done = False
            while not done:
                group = self._gather()
                done = group[-1] is None
                decisions = [d for d in group if d is not None]
                if decisions and self._failed is None and not self._abandon:
                    try:
                        with busy():  # no fork copies this thread's locks mid-commit (forksafe)
                            self._record(ledger, decisions)
                    except BaseException as exc:  # the run stops: exit 2 naming the file
                        self._failed = exc if isinstance(exc, ScanError) else ScanError(f"cannot record: {exc}")

    def _gather(self) -> list[Decision | None]:
        """The next group: the first decision handed over, then every one that follows within
        ``linger`` seconds (up to ``GROUP``; None, the end, closes it). Each group costs a flush of
        the file system and of the database: decisions coming in one after another (a run the
        cache answers) are recorded a few groups at a time rather than one by one."""
        group = [self._queue.get()]
        deadline = time.monotonic() + self._linger
        while group[-1] is not None and len(group) < GROUP:
            try:
                group.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return group

    def _record(self, ledger: Any, decisions: list[Decision]) -> None:
        """Records written, flushed and put in place, then the entries committed together — or
        none: when a record cannot be written or the commit fails, the entries are rolled back
        and the records already in place removed again (none may name an entry that does not
        exist)."""
        folder = self._folder
        last = None
        try:
            with ledger.appending_all([record for record, _, _ in decisions]) as entries:
                last = entries[-1]
                for (record, name, text), (seq, digest) in zip(decisions, entries, strict=True):
                    record["ledger"] = ledger.pointer(seq, digest)
                    if folder is not None and name is not None:
                        folder.stage(name, text(record))
                if folder is not None:
                    folder.commit(durable=True)
        except BaseException:
            if last is not None and _committed(ledger, last):  # it failed once committed
                if folder is not None:
                    folder.settle()
                raise
            if folder is not None:
                folder.discard()
            for record, _, _ in decisions:
                record.pop("ledger", None)  # nothing was recorded
            raise
        if folder is not None:
            folder.settle()  # their entries are committed: the records stay


def _committed(ledger: Any, entry: tuple[int, str]) -> bool:
    try:
        return bool(ledger.committed(*entry))
    except Exception:  # unknown: the records stay (a record too many, never an entry without one)
        return True
