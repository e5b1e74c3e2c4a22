"""The per-artifact time budget: one watchdog thread per process serves every budget."""

from __future__ import annotations

import os
import threading
import time

import pytest

from scanner.batch.budget import BudgetExceeded, time_budget


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_budget_interrupts_the_body_and_an_ended_one_never_fires() -> None:
    start = time.monotonic()
    with pytest.raises(BudgetExceeded), time_budget(0.2):
        _spin(30)
    assert 0.2 <= time.monotonic() - start < 5
    with time_budget(0.2):
        pass
    _spin(0.5)  # the ended budget's deadline passes here: nothing is raised


def test_budgets_of_several_threads_fire_each_in_its_own_thread() -> None:
    fired: dict[str, float] = {}

    def judge(name: str, budget: float, work: float) -> None:
        start = time.monotonic()
        try:
            with time_budget(budget):
                _spin(work)
        except BudgetExceeded:
            fired[name] = time.monotonic() - start

    threads = [
        threading.Thread(target=judge, args=("long", 1.0, 30)),
        threading.Thread(target=judge, args=("short", 0.2, 30)),
        threading.Thread(target=judge, args=("within", 5.0, 0.3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(fired) == {"long", "short"}
    assert fired["short"] < fired["long"]


def test_a_forked_process_has_its_own_watchdog() -> None:
    """A pool worker forked while the parent's watchdog ran gets a budget that fires."""
    with time_budget(60):  # the parent's watchdog is running (and holds this budget)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                with time_budget(0.2):
                    _spin(30)
            except BudgetExceeded:
                code = 0
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_shorter_budget_armed_while_a_longer_one_runs_fires_on_time() -> None:
    """The watchdog is woken only for a deadline earlier than the one it waits for (a budget
    per artifact, each ending later than the last, wakes nothing): a short budget armed while
    the watchdog waits for a long one must still fire on time."""
    done = threading.Event()

    def long_budget() -> None:
        with time_budget(120):
            done.wait(30)

    holder = threading.Thread(target=long_budget)
    holder.start()
    try:
        time.sleep(0.2)  # the watchdog now waits for the 120 s deadline
        start = time.monotonic()
        with pytest.raises(BudgetExceeded), time_budget(0.3):
            _spin(30)
        assert time.monotonic() - start < 5
    finally:
        done.set()
        holder.join()


_AFTER_A_HUGE_BUDGET = """
import sys, threading, time
from scanner.batch.budget import BudgetExceeded, time_budget
done = threading.Event()
def hold(seconds):
    with time_budget(seconds):
        done.wait(30)
holder = threading.Thread(target=hold, args=(float(sys.argv[1]),))
holder.start()
time.sleep(0.3)  # the watchdog now knows that budget's deadline
for _ in range(2):
    start = time.monotonic()
    try:
        with time_budget(0.3):
            while time.monotonic() - start < 10:
                pass
        print("never fired")
    except BudgetExceeded:
        print("fired")
done.set()
holder.join()
"""


@pytest.mark.parametrize("huge", ["1e12", "inf", "nan"])
def test_a_huge_budget_does_not_stop_the_watchdog_for_the_next_ones(huge: str) -> None:
    """A process judges for many runs (a Dask worker): a budget too large for a timed wait
    (``--time-budget 1e12``, ``inf``) must not end the watchdog thread, or every later budget in
    that process would never fire. (A real process: the watchdog is one per process.)"""
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", _AFTER_A_HUGE_BUDGET, huge], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.stdout.split() == ["fired", "fired"], proc.stderr
    assert "Traceback" not in proc.stderr
