"""A fork waits for the driver's working threads (``batch.forksafe``): the child never inherits
a lock one of them held in the middle of its work — and a busy thread that needs a lock the
fork machinery takes (``concurrent.futures``' own, here) never waits for the forking one."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from scanner.batch.forksafe import busy, forking


def _wait(pid: int, seconds: float = 10) -> int | None:
    deadline = time.monotonic() + seconds
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return None
    return os.waitstatus_to_exitcode(done[1])


def test_a_fork_waits_for_work_in_progress_and_the_child_starts_free() -> None:
    started, release_at = threading.Event(), []

    def work() -> None:
        with busy():
            started.set()
            time.sleep(0.5)
            with ThreadPoolExecutor(2) as pool:  # takes concurrent.futures' fork-hook lock
                list(pool.map(abs, [-1, -2]))
            release_at.append(time.monotonic())

    worker = threading.Thread(target=work)
    worker.start()
    started.wait()
    with forking():
        pid = os.fork()
    if pid == 0:  # the child: its lock is free, not the copy held by a thread it does not have
        acquired = threading.Event()

        def take() -> None:
            with busy():
                acquired.set()

        threading.Thread(target=take, daemon=True).start()
        os._exit(0 if acquired.wait(5) else 1)
    forked_at = time.monotonic()
    worker.join(10)
    assert not worker.is_alive()  # no deadlock between the busy thread and the fork
    assert _wait(pid) == 0
    assert forked_at >= release_at[0]  # the fork came after the work, never in its middle
