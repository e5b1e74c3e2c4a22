"""A time budget for the code judging one artifact, inside a worker.

A timer thread raises ``BudgetExceeded`` in the judging thread (CPython's asynchronous exception,
``PyThreadState_SetAsyncExc``). That works in a process-pool worker's main thread and in a Dask
worker's task threads alike, where ``signal.alarm`` would not. The exception is delivered at the
next Python bytecode: the scanners read in bounded chunks, so that is soon; a long call inside C
code is only interrupted when it returns, which is why the local pool also kills a worker that
overruns its budget by a grace period (``local.py``).

``BudgetExceeded`` derives from ``BaseException`` so that the scanners' ``except Exception``
blocks cannot swallow it and report a half-checked artifact; a thread it interrupted may hold
half-updated state, so the caller marks the worker tainted (a pool worker exits and is replaced).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExceeded(BaseException):
    """The artifact took longer than its time budget."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Run the body with a budget; raises ``BudgetExceeded`` in this thread when it runs out."""
    if seconds is None:
        yield
        return
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(BudgetExceeded))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
        timer.cancel()
