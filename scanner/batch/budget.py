"""A time budget for the code judging one artifact, inside a worker.

A watchdog thread (one per process, for every budget running in it) raises ``BudgetExceeded``
in the judging thread (CPython's asynchronous exception, ``PyThreadState_SetAsyncExc``). That
works in a process-pool worker's main thread and in a Dask worker's task threads alike, where
``signal.alarm`` would not. The exception is delivered at the next Python bytecode: the scanners
read in bounded chunks, so that is soon; a long call inside C code is only interrupted when it
returns, which is why the local pool also kills a worker that overruns its budget by a grace
period (``local.py``).

``BudgetExceeded`` derives from ``BaseException`` so that the scanners' ``except Exception``
blocks cannot swallow it and report a half-checked artifact; a thread it interrupted may hold
half-updated state, so the caller marks the worker tainted (a pool worker exits and is replaced).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_NAP = 3600.0  # the longest the watchdog waits at a time


class BudgetExceeded(BaseException):
    """The artifact took longer than its time budget."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Run the body with a budget; raises ``BudgetExceeded`` in this thread when it runs out.
    ``None`` or a budget that is no finite number (``inf``): none."""
    if seconds is None or not math.isfinite(seconds):
        yield
        return
    token = _WATCHDOG.arm(time.monotonic() + seconds, threading.get_ident())
    try:
        yield
    finally:
        _WATCHDOG.disarm(token)


class _Watchdog:
    """One thread per process keeps every running budget (a thread started per artifact would
    cost more than some artifacts take). A process forked while it ran (a pool worker) starts
    its own when it first needs one: threads do not survive a fork, and a lock another thread
    held at that moment must not be used (``_reset`` runs in the child)."""

    def __init__(self) -> None:
        self._tokens = itertools.count()
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._cond: threading.Condition | None = None
        self._armed: dict[int, tuple[float, int]] = {}  # token -> (deadline, thread to interrupt)
        self._wake = [0.0]  # when the watchdog wakes next (it is told of earlier deadlines only)

    def _ready(self) -> threading.Condition:
        with self._lock:
            if self._cond is None:
                self._cond = threading.Condition()
                watch = threading.Thread(
                    target=self._run, args=(self._cond, self._armed, self._wake), name="scanner-budget", daemon=True
                )
                watch.start()
            return self._cond

    def arm(self, deadline: float, target: int) -> int:
        cond = self._ready()
        with cond:
            token = next(self._tokens)
            self._armed[token] = (deadline, target)
            if deadline < self._wake[0]:  # a budget per artifact wakes no thread: it ends later
                cond.notify()
        return token

    def disarm(self, token: int) -> None:
        cond = self._cond
        if cond is not None:
            with cond:  # once this returns, that budget can no longer fire
                self._armed.pop(token, None)

    @staticmethod
    def _run(cond: threading.Condition, armed: dict[int, tuple[float, int]], wake: list[float]) -> None:
        with cond:
            while True:
                now = time.monotonic()
                for token, (deadline, target) in list(armed.items()):
                    if deadline <= now:
                        del armed[token]
                        _raise_in(target)
                wake[0] = min((d for d, _ in armed.values()), default=now + _NAP)
                # at most _NAP: a timed wait for a distant deadline (``--time-budget 1e12``) raises
                # OverflowError, which would end the watchdog and with it every later budget of
                # this process (a Dask worker serves many runs); an earlier deadline wakes it
                cond.wait(timeout=min(wake[0] - now, _NAP))


def _raise_in(thread_id: int) -> None:
    """``BudgetExceeded`` raised in the thread ``thread_id`` at its next bytecode."""
    import ctypes  # (imported when a budget first runs out)

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(BudgetExceeded))


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)
