"""Forks wait until the driver's own threads are out of native code.

The driver forks processes (its local workers, the hashing children) while threads of its own
may be working: the ledger's recorder (SQLite, file flushes) and the cache's writer (hashing,
files). A fork copies only the forking thread, with every lock as it was at that instant: a lock
another thread held inside SQLite or OpenSSL would be held forever in the child, and a worker
that then opens its database or hashes a file would wait forever. So those threads do their work
inside ``busy()``, and the driver forks inside ``forking()``, which waits until none of them is
in it.

(Not an ``os.register_at_fork`` "before" hook: other modules' hooks take locks of their own —
``concurrent.futures`` its shutdown lock — in an order we do not choose, and a busy thread that
needs one of those while the forking thread holds it and waits for ours would wait forever.)
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@contextmanager
def busy() -> Iterator[None]:
    """Work no fork may cut in the middle of."""
    lock = _lock  # (a forked child gets a fresh one: the one it copied may be held)
    with lock:
        yield


@contextmanager
def forking() -> Iterator[None]:
    """Around a fork: it happens when no thread is ``busy``."""
    _prctl()
    lock = _lock
    with lock:
        yield


def die_with_parent(parent: int) -> None:
    """In a process the driver started (``parent``: the driver's pid, read before the fork): it
    is killed when the driver ends, however that happens. A driver ended by SIGTERM (a cancelled
    CI job) or SIGKILL runs none of its ``finally`` blocks, and a child hashing or judging a
    large artifact would go on for minutes as an orphan (children of a fork server die with it in
    turn). Linux only (``PR_SET_PDEATHSIG``); elsewhere nothing happens. The signal follows the
    thread that forked: the driver forks from the thread that runs the batch and waits for it."""
    prctl = _prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the driver was gone already, before the prctl
        os._exit(1)


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl``, looked up in the driver by ``forking`` (a forked child loads no library
    and imports nothing: a lock another thread held at the fork would never be released)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
