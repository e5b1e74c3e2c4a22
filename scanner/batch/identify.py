"""The identities of local sources, hashed by child processes while the driver uses them.

Answering a cache hit is two halves of about the same cost: hashing the artifact again (its
identity, the key) and verifying the entry and writing the record. On Linux the driver forks
``CHILDREN`` children that hash the sources (each its share, one after the other) and send each
identity back over a pipe as soon as they have it, while the driver verifies and writes the ones
already sent: hashing and the driver's work run side by side instead of one after the other.

Each child is a copy of the driver's main thread that only reads the artifacts and writes to
its pipe: it never touches the cache, the records, the ledger or the terminal, and leaves with
``os._exit`` (nothing of the driver's is flushed or closed twice). It is told nothing but what
to hash, and what it sends back is only a key to look up: every entry is still verified by the
driver (its key, its seal), so a child that dies or sends garbage can cost a hit, never change a
verdict. Whatever the children did not report (one died, or ``fork`` is unavailable) the driver
hashes itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from scanner.batch.forksafe import die_with_parent, forking

T = TypeVar("T")
Identity = tuple[str | None, float]  # (the cache key's artifact part or None, seconds it took)

FORK_AT = 16  # fewer sources are hashed here: a fork costs about as much as hashing a few
CHILDREN = 2  # measured on 2 cores: 1 child, 2 and 3 children against none (docs/batch.md)


def identities(
    items: Sequence[T], identify: Callable[[T], Identity], *, patience: float | None = None
) -> Iterator[tuple[T, Identity]]:
    """``(item, identify(item))`` for every item, in the order the children finish them (then
    the ones they did not report, hashed here). Children that send nothing for ``patience``
    seconds (stuck: each item has its own time budget inside ``identify``) are stopped; the
    item each was on comes back with no key (``(None, 0.0)``: hashed here, it could hold the
    driver the same way; the caller has a worker, which is stopped at its budget, judge it)."""
    if len(items) < FORK_AT or not _can_fork():
        for item in items:
            yield item, identify(item)
        return
    first, rest = items[0], items[1:]
    yield first, identify(first)  # (also imports, here, whatever hashing needs)
    import selectors

    children: dict[int, int] = {}  # read end -> pid
    children_share: dict[int, int] = {}  # read end -> its share in ``shares``
    shares = [list(range(k, len(rest), CHILDREN)) for k in range(CHILDREN)]
    driver = os.getpid()
    reported: set[int] = set()
    pending: dict[int, bytes] = {}
    try:
        for k, share in enumerate(shares):
            read_fd, write_fd = os.pipe()
            held = None
            try:
                try:
                    with forking():  # not in the middle of the recorder's or the cache writer's work
                        # Ctrl-C held back across the fork: a child must never run the driver's
                        # code on (its own KeyboardInterrupt before it ignores SIGINT); the driver
                        # gets it once the child is in ``children``, to be stopped in ``finally``
                        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                        pid = os.fork()
                except OSError:  # no more processes now: this share is hashed here
                    os.close(read_fd)
                    os.close(write_fd)
                    continue
                if pid == 0:  # a child
                    try:
                        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops it
                        signal.pthread_sigmask(signal.SIG_SETMASK, held or set())
                        die_with_parent(driver)
                        _quiet()
                        for fd in (read_fd, *children):  # read ends: the driver's alone
                            os.close(fd)
                        with os.fdopen(write_fd, "w", encoding="utf-8") as out:
                            for i in share:
                                key, seconds = identify(rest[i])
                                out.write(json.dumps([i, key, seconds]) + "\n")
                                out.flush()
                    finally:
                        os._exit(0)
                children[read_fd] = pid
                children_share[read_fd] = k
                pending[read_fd] = b""
                os.close(write_fd)
            finally:
                if held is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
        with selectors.DefaultSelector() as sel:
            for fd in children:
                sel.register(fd, selectors.EVENT_READ)
            while pending:
                events = sel.select(timeout=patience)
                if not events:  # stuck: stopped below; the item each was on goes to a worker
                    for fd in pending:  # (hashed here, it could hold the driver the same way)
                        on = next((i for i in shares[children_share[fd]] if i not in reported), None)
                        if on is not None:
                            reported.add(on)
                            yield rest[on], (None, 0.0)
                    break
                for ready, _ in events:
                    fd = int(ready.fd)
                    data = os.read(fd, 1 << 16)
                    if not data:
                        sel.unregister(fd)
                        os.close(fd)
                        del pending[fd]
                        os.waitpid(children.pop(fd), 0)
                        continue
                    *lines, pending[fd] = (pending[fd] + data).split(b"\n")
                    for line in lines:
                        got = _parsed(line, len(rest))
                        if got is not None and got[0] not in reported:
                            reported.add(got[0])
                            yield rest[got[0]], (got[1], got[2])
    finally:
        for fd, pid in children.items():  # the driver stopped early (an error, Ctrl-C)
            os.close(fd)
            _stop(pid)
    for i, item in enumerate(rest):
        if i not in reported:
            yield item, identify(item)


def _parsed(line: bytes, count: int) -> tuple[int, str | None, float] | None:
    """One line the child sent, or None for anything else (a cut line: it died writing)."""
    try:
        i, key, seconds = json.loads(line)
    except (ValueError, TypeError):
        return None
    if not isinstance(i, int) or not 0 <= i < count or not (key is None or isinstance(key, str)):
        return None
    return i, key, float(seconds) if isinstance(seconds, (int, float)) else 0.0


def _quiet() -> None:
    """Nothing a child does reaches the terminal: no progress bar, no message (a lock the
    driver's own output held at the fork must never be waited for), not even from native code;
    nor does it hold the driver's stdout or stderr open (a pipe read to its end by a CI job)."""
    from scanner import ui

    ui.configure(quiet=True, progress=False)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = sys.stderr = open(null, "w")  # noqa: SIM115 (the child leaves with os._exit)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass


def _can_fork() -> bool:
    """Linux, where ``fork`` is the platform's own way of starting processes (the local workers
    are forked the same way: ``local.forks_from_driver``)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")
