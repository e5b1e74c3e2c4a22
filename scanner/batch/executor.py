"""The executor interface: where tasks run. The driver only sees this."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from scanner.batch.model import Outcome, Task


class Executor(ABC):
    """Runs ``job.run_task`` for each submitted task somewhere and hands back every outcome.

    Contract: every submitted task yields exactly one outcome from ``completed`` (an
    ``ArtifactResult`` with ``error`` when it could not be judged: a task is never lost).
    ``completed`` yields in finishing order and ends when nothing is pending, including tasks
    submitted while iterating. ``close(cancel=True)`` stops work not yet finished."""

    name: str = "executor"
    shares_filesystem: bool = False  # workers see the driver's files (the driver may hash them)

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Queue a task."""

    @abstractmethod
    def completed(self) -> Iterator[tuple[Task, Outcome]]:
        """Outcomes as tasks finish."""

    @abstractmethod
    def close(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel`` drop what is still queued or running."""

    def prepared(self, state: Any) -> None:  # noqa: B027 (a hook: most executors need nothing)
        """The driver prepared for the run (``job.prepare``: the policies compiled, the database
        open) before the first task is submitted; an executor whose workers can start from that
        state keeps it. The state's database is closed after this returns."""

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many tasks can run at once (for the summary)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(cancel=exc_type is not None)


class Deferred(Executor):
    """An executor made on first use (``make``): a run answered entirely from the cache never
    starts one, nor imports what it needs (the local pool's ``multiprocessing``)."""

    def __init__(self, make: Callable[[], Executor], name: str, workers: int, shares_filesystem: bool) -> None:
        self._make = make
        self._made: Executor | None = None
        self.name = name
        self.shares_filesystem = shares_filesystem
        self._workers = workers

    def _executor(self) -> Executor:
        if self._made is None:
            self._made = self._make()
        return self._made

    def submit(self, task: Task) -> None:
        self._executor().submit(task)

    def completed(self) -> Iterator[tuple[Task, Outcome]]:
        return self._executor().completed() if self._made is not None else iter(())

    def prepared(self, state: Any) -> None:
        self._executor().prepared(state)

    def close(self, cancel: bool = False) -> None:
        if self._made is not None:
            self._made.close(cancel)

    @property
    def workers(self) -> int:
        return self._workers
