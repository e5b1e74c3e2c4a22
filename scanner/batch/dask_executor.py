"""The Dask executor: tasks on a ``distributed`` cluster (``--scheduler tcp://HOST:PORT`` or
``DASK_SCHEDULER_ADDRESS``). Needs the optional extra ``scanner[dask]``; imported only when used.

- The run's options (the policy snapshot as bytes, the stage, the context) reach every worker
  once, through a worker plugin registered with the scheduler: a worker that joins or is
  restarted later receives it too, and nothing depends on a filesystem shared with the driver.
  Each worker thread prepares on its first task and reuses that (policies compiled once).
- Each task is one artifact. ``oci://`` sources are pulled by the worker itself; a local path
  must exist on the worker (the same path on every machine).
- A worker that dies is restarted by its nanny and the scheduler runs its tasks again, up to
  ``distributed.scheduler.allowed-failures`` times (set it to 1 for the local pool's rule:
  one retry); after that the artifact is recorded as an error (``KilledWorker``).
- Results come back in finishing order; the driver alone writes the cache, records and ledger.
- Run workers with one thread each (``dask worker ADDR --nthreads 1 --nworkers N``): judging is
  Python code that holds the GIL, so threads in one process do not add speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.batch.executor import Executor
from scanner.batch.model import ArtifactResult, BatchOptions, Outcome, Task
from scanner.errors import ScanError

_REGISTERED: dict[str, tuple[BatchOptions, frozenset[str]]] = {}
WAIT_FOR_WORKERS_S = 60


def _missing_extra() -> ScanError:
    return ScanError("the Dask executor needs the optional extra: pip install 'scanner[dask]'")


try:
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - only without the extra
    WorkerPlugin = object  # type: ignore[assignment,misc]


class RunPlugin(WorkerPlugin):
    """Gives a worker the run's options when it joins (and forgets them at the end)."""

    def __init__(self, options: BatchOptions, known: frozenset[str]) -> None:
        self.options = options
        self.known = known

    def setup(self, worker: Any) -> None:
        _REGISTERED[self.options.run_id] = (self.options, self.known)

    def teardown(self, worker: Any) -> None:
        from scanner.batch import job

        _REGISTERED.pop(self.options.run_id, None)
        job.forget(self.options.run_id)


def run_on_worker(task: Task, run_id: str) -> Outcome:
    from scanner.batch import job

    registered = _REGISTERED.get(run_id)
    if registered is None:
        return ArtifactResult(task.source, error="the Dask worker has no options for this run (plugin missing)")
    options, known = registered
    return job.run_task(task, options, known)


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, address: str, options: BatchOptions, known: frozenset[str]) -> None:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise _missing_extra() from None
        try:
            self.client = Client(address, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ScanError(f"cannot reach the Dask scheduler: {exc}", address) from None
        self.options = options
        self._plugin = f"scanner-batch-{options.run_id}"
        try:
            self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
            self.client.register_plugin(RunPlugin(options, known), name=self._plugin)
        except TimeoutError:
            self.client.close()
            raise ScanError(f"the Dask cluster has no workers (waited {WAIT_FOR_WORKERS_S} s)", address) from None
        except Exception as exc:  # a worker that cannot import scanner, or one that refuses the plugin
            self.client.close()
            raise ScanError(f"the Dask workers cannot take this run: {type(exc).__name__}: {exc}", address) from None
        self._completed = as_completed(loop=self.client.loop, with_results=False)
        self._tasks: dict[Any, Task] = {}
        self._futures: dict[Any, Any] = {}
        self._closed = False

    @property
    def workers(self) -> int:
        info = self.client.scheduler_info(n_workers=-1)
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1

    def submit(self, task: Task) -> None:
        key = f"{self._plugin}-{task.index}-{task.attempt}-{int(task.use_cache)}"
        future = self.client.submit(run_on_worker, task, self.options.run_id, key=key, pure=False, retries=0)
        self._tasks[future.key] = task
        self._futures[future.key] = future
        self._completed.add(future)

    def completed(self) -> Iterator[tuple[Task, Outcome]]:
        from distributed import KilledWorker

        for future in self._completed:
            task = self._tasks.pop(future.key)
            self._futures.pop(future.key, None)
            outcome: Outcome
            try:
                outcome = future.result()
            except KilledWorker:
                outcome = ArtifactResult(
                    task.source,
                    error="the workers judging it died (the scheduler's allowed-failures was reached)",
                    attempts=task.attempt,
                )
            except Exception as exc:
                outcome = ArtifactResult(task.source, error=f"Dask task failed: {type(exc).__name__}: {exc}")
            future.release()
            yield task, outcome

    def close(self, cancel: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if cancel:
                self._completed.clear()
                self.client.cancel(list(self._futures.values()))
            self.client.unregister_worker_plugin(self._plugin)
        except Exception:  # the cluster may be gone; closing must not hide the real error
            pass
        self.client.close()
