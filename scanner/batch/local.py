"""The local executor: a pool of worker processes on this machine (the default).

Not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies the whole pool is
broken and every task in flight fails with it, and a single stuck task cannot be stopped. Here
each worker has its own pipe, so the driver always knows which task a worker holds:

- a worker that dies (killed, out of memory, a crash in native code) is replaced, and its task
  is run once more; a second death records the artifact as an error, never drops it;
- a worker past the time budget plus a grace period (the budget is first enforced inside the
  worker, see ``budget.py``) is killed and replaced, and its artifact recorded as an error;
- on Linux, workers are forked from the driver itself once it has prepared (policies compiled,
  see ``job.prepare``) and warmed up (every module judging needs imported, ``warm.py``): a
  worker starts ready, with nothing to import or compile, and only opens the database again
  (``job.adopt``). A forked worker is a copy of the driver's main thread only: it is quiet and
  uses nothing the driver's other threads touch (the record and cache writers, the progress
  bar, which mostly start after the first workers anyway), only the compiled policy, its own
  database connection and its own pipe — so no lock one of those threads held at the fork can
  block it. Without a prepared state (an API caller that skipped ``prepared``) a forked worker
  prepares itself.
  Elsewhere they come from a fork server that imported what judging needs (``preload.py``), or
  are spawned, and prepare once in their initializer. Workers ignore SIGINT (the driver owns
  Ctrl-C and stops them);
- cache hits never reach them: the driver answers those itself (``run.py``), so workers are
  started only when some artifact must be judged.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from scanner.batch.executor import Executor
from scanner.batch.forksafe import die_with_parent, forking
from scanner.batch.model import ArtifactResult, BatchOptions, Outcome, Task
from scanner.errors import ScanError

GRACE_S = 5.0
MAX_START_FAILURES = 3
MAX_ATTEMPTS = 2
PREFETCH = 2  # tasks sent ahead to each worker, so it never waits for the driver between two


def _worker_main(conn: Connection, options: BatchOptions, known: frozenset[str], prepared: Any = None) -> None:
    """A worker process: prepare once (or adopt what the driver prepared before forking it),
    then answer tasks until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(os.getppid())  # a driver ended by SIGTERM leaves no worker judging on
    from scanner.batch import job

    try:
        if prepared is not None:
            import gc

            gc.freeze()  # what the driver made lives as long as the worker: not for the collector to walk
            job.adopt(prepared)
        else:
            job.install(options)
    except BaseException as exc:  # report why, then exit: the driver stops the run
        conn.send(("failed", str(exc) if isinstance(exc, ScanError) else f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        outcome = job.run_task(task, options, known)
        conn.send(("done", outcome))
        if isinstance(outcome, ArtifactResult) and outcome.tainted:
            return  # leave; the driver starts a fresh worker


def forks_from_driver() -> bool:
    """Whether workers are forked from the prepared driver (Linux: fork is the platform's own
    way; macOS system libraries do not support it)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _context(method: str | None = None) -> Any:
    """Fork from the driver; else a fork server that imported what judging needs; else spawn.
    ``method`` names one of them instead (tests run every path on Linux)."""
    methods = multiprocessing.get_all_start_methods()
    if method == "fork" or (method is None and forks_from_driver()):
        return multiprocessing.get_context("fork")
    if method in (None, "forkserver") and "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["scanner.batch.preload"])
        return ctx
    return multiprocessing.get_context("spawn")


def start_fork_server() -> None:
    """Start the fork server now, so its imports overlap with the driver's own preparation
    (only where workers are not forked from the driver)."""
    if not forks_from_driver() and "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


@dataclass
class _Slot:
    process: Any
    conn: Connection
    ready: bool = False
    tasks: deque[Task] = field(default_factory=deque)  # sent, unanswered; the first is running
    started: float = 0.0  # when the first of ``tasks`` started (about)
    retiring: bool = False  # it answered with a tainted result and is leaving


class LocalExecutor(Executor):
    name = "local"
    shares_filesystem = True

    def __init__(self, options: BatchOptions, workers: int | None = None, start_method: str | None = None) -> None:
        self.options = options
        self.known: frozenset[str] = frozenset()  # hits are answered by the driver
        self._size = max(1, workers or os.cpu_count() or 1)
        self._ctx = _context(start_method)
        self._queue: deque[Task] = deque()
        self._slots: list[_Slot] = []
        self._start_failures = 0
        self._closed = False
        self._prepared: Any = None  # what forked workers adopt (job.Prepared)

    def prepared(self, state: Any) -> None:
        """The driver prepared (``job.prepare``): when workers are forked from the driver, warm
        it up first (``warm.py``: every module judging needs imported once, here) and keep the
        state for the workers to adopt. Called before any worker starts."""
        if self._ctx.get_start_method() == "fork":
            from scanner.batch.warm import warm_quietly

            warm_quietly(state)
            self._prepared = state

    @property
    def workers(self) -> int:
        return self._size

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def _start(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self.options, self.known, self._prepared),
            name="scanner-batch-worker",
            daemon=True,
        )
        with forking():  # not in the middle of the recorder's or the cache writer's work
            proc.start()
        child.close()
        self._slots.append(_Slot(proc, parent))

    def _busy(self) -> list[_Slot]:
        return [s for s in self._slots if s.tasks]

    def completed(self) -> Iterator[tuple[Task, Outcome]]:
        while self._queue or self._busy():
            wanted = min(self._size, len(self._queue) + len(self._busy()))
            while len(self._slots) < wanted:
                self._start()
            for slot in self._slots:
                while slot.ready and len(slot.tasks) < PREFETCH and self._queue:
                    if not slot.tasks:
                        slot.started = time.monotonic()
                    slot.tasks.append(self._queue.popleft())
                    with contextlib.suppress(OSError):  # it died: its sentinel fires, the task is retried
                        slot.conn.send(slot.tasks[-1])
            handles: list[Any] = [s.conn for s in self._slots] + [s.process.sentinel for s in self._slots]
            for handle in wait(handles, timeout=self._timeout()):
                owner = next((s for s in self._slots if handle in (s.conn, s.process.sentinel)), None)
                if owner is not None:
                    yield from self._service(owner)
            yield from self._overdue()

    def _timeout(self) -> float:
        if self.options.budget is None:
            return 1.0
        deadlines = [s.started + self.options.budget + GRACE_S for s in self._busy()]
        return max(0.05, min([1.0, *(d - time.monotonic() for d in deadlines)]))

    def _service(self, slot: _Slot) -> Iterator[tuple[Task, Outcome]]:
        """A message from a worker, or its death."""
        message = None
        try:
            if slot.conn.poll():
                message = slot.conn.recv()
        except (EOFError, OSError):
            message = None
        if message is not None:
            kind, payload = message
            if kind == "ready":
                slot.ready = True
            elif kind == "failed":
                self.close(cancel=True)
                raise ScanError(f"a batch worker could not start: {payload}")
            elif kind == "done" and slot.tasks:
                task = slot.tasks.popleft()
                slot.started = time.monotonic()
                if isinstance(payload, ArtifactResult) and payload.tainted:
                    slot.ready, slot.retiring = False, True
                    self._requeue(slot)
                yield task, payload
            return
        if slot.process.is_alive():
            return
        yield from self._died(slot)

    def _requeue(self, slot: _Slot) -> None:
        """Tasks sent ahead to a worker that is gone, back to the front of the queue, uncharged."""
        while slot.tasks:
            self._queue.appendleft(slot.tasks.pop())

    def _died(self, slot: _Slot) -> Iterator[tuple[Task, Outcome]]:
        slot.process.join()
        code = slot.process.exitcode
        self._drop(slot)
        task = slot.tasks.popleft() if slot.tasks else None
        self._requeue(slot)
        if task is None:
            if not slot.ready and not slot.retiring:
                self._start_failures += 1
                if self._start_failures >= MAX_START_FAILURES:
                    self.close(cancel=True)
                    raise ScanError(f"batch workers keep dying while starting (exit code {code})")
            return
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if task.attempt < MAX_ATTEMPTS:
            self._queue.appendleft(replace(task, attempt=task.attempt + 1))
            return
        yield (
            task,
            ArtifactResult(
                task.source,
                error=f"the worker judging it died {task.attempt} times (last: {how})",
                attempts=task.attempt,
            ),
        )

    def _overdue(self) -> Iterator[tuple[Task, Outcome]]:
        if self.options.budget is None:
            return
        now = time.monotonic()
        for slot in list(self._busy()):
            if now - slot.started > self.options.budget + GRACE_S:
                task = slot.tasks.popleft()
                self._requeue(slot)
                slot.process.kill()
                slot.process.join()
                self._drop(slot)
                yield (
                    task,
                    ArtifactResult(
                        task.source,
                        error=f"time budget of {self.options.budget:g} s exceeded (worker stopped)",
                        seconds=now - slot.started,
                        attempts=task.attempt,
                    ),
                )

    def _drop(self, slot: _Slot) -> None:
        if slot in self._slots:
            self._slots.remove(slot)
        slot.conn.close()

    def close(self, cancel: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        for slot in self._slots:
            try:
                if cancel or slot.tasks:
                    slot.process.kill()
                else:
                    slot.conn.send(None)
            except OSError:
                pass
        for slot in self._slots:
            slot.process.join(timeout=5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            slot.conn.close()
        self._slots.clear()
