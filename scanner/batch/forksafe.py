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

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()


@contextmanager
def busy() -> Iterator[None]:
    """Work no fork may cut in the middle of."""
    lock = _lock  # (a forked child gets a fresh one: the one it copied may be held)
    with lock:
        yield


@contextmanager
def forking() -> Iterator[None]:
    """Around a fork: it happens when no thread is ``busy``."""
    lock = _lock
    with lock:
        yield


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
