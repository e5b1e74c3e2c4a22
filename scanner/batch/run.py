"""The driver: submit every artifact, take the outcomes as they finish, keep the evidence.

When the cache has entries for this run's context, the driver first identifies the sources
itself (threads: hashing and network waits release the GIL) — local paths when the workers see
its filesystem (the local pool), ``oci://`` references always (a registry round trip, no pull) —
and answers the hits without starting a worker; only the rest are submitted. On a cluster, cache
hits on local paths come back from the workers as ``Known`` (the worker hashed the artifact and
found its key among the cached ones). Either way the driver re-verifies the entry before using it and
otherwise has the artifact judged again. Ctrl-C stops the executor and returns what finished; the
artifacts that did not are listed as not judged.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.batch.cache import ResultCache
from scanner.batch.evidence import EvidenceWriter, normalise
from scanner.batch.executor import Executor
from scanner.batch.model import ArtifactResult, BatchOptions, Known, Task

INTERRUPTED = "interrupted before it was judged"


@dataclass
class BatchReport:
    """Results in the order the sources were given."""

    results: list[ArtifactResult]
    options: BatchOptions
    executor: str
    workers: int
    seconds: float
    interrupted: bool = False
    cache_dir: str | None = None
    context: dict[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> list[ArtifactResult]:
        return [r for r in self.results if r.judged and r.allow]

    @property
    def denied(self) -> list[ArtifactResult]:
        return [r for r in self.results if r.judged and not r.allow]

    @property
    def errors(self) -> list[ArtifactResult]:
        return [r for r in self.results if not r.judged]

    @property
    def cached(self) -> int:
        return sum(1 for r in self.results if r.cached)

    def exit_code(self) -> int:
        """2 when any artifact could not be judged, else 1 when any was denied, else 0."""
        if self.errors:
            return 2
        return 1 if self.denied else 0


def run_batch(
    sources: Sequence[str],
    options: BatchOptions,
    executor: Executor,
    *,
    cache: ResultCache | None,
    writer: EvidenceWriter,
    known: frozenset[str] = frozenset(),
    on_result: Callable[[ArtifactResult], Any] = lambda _: None,
    warn: Callable[[str], Any] = lambda _: None,
    before_work: Callable[[], Any] = lambda: None,
) -> BatchReport:
    """``before_work`` runs once, before the first artifact goes to the executor (not at all
    when the cache answered for every one)."""
    start = time.perf_counter()
    done: dict[int, ArtifactResult] = {}
    interrupted = False
    workers = executor.workers

    def finish(task: Task, result: ArtifactResult) -> None:
        result = writer.write(task.index, result)
        done[task.index] = result
        on_result(result)

    try:
        tasks = [Task(index, source) for index, source in enumerate(sources)]
        if cache is not None and known:
            tasks = _answer_hits_here(tasks, options, cache, known, finish, warn, executor.shares_filesystem)
        if tasks:
            before_work()
        for task in tasks:
            executor.submit(task)
        for task, outcome in executor.completed():
            if isinstance(outcome, Known):
                lookup = cache.load(task.source, outcome.identity) if cache else None
                if lookup is None or lookup.result is None:
                    problem = lookup.problem if lookup else "no cache"
                    warn(f"cached verdict for {task.source} not trusted ({problem}): judging it again")
                    executor.submit(replace(task, use_cache=False))
                    continue
                result = replace(lookup.result, seconds=outcome.seconds, attempts=task.attempt)
            else:
                result = normalise(outcome, options)
                if cache is not None:
                    cache.store(result)
            finish(task, result)
    except KeyboardInterrupt:
        interrupted = True
        executor.close(cancel=True)
    results = [done.get(i) or ArtifactResult(source, error=INTERRUPTED) for i, source in enumerate(sources)]
    return BatchReport(
        results=results,
        options=options,
        executor=executor.name,
        workers=workers,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
        cache_dir=str(cache.dir) if cache else None,
        context=dict(options.context),
    )


def _answer_hits_here(
    tasks: list[Task],
    options: BatchOptions,
    cache: ResultCache,
    known: frozenset[str],
    finish: Callable[[Task, ArtifactResult], None],
    warn: Callable[[str], Any],
    local_paths: bool,
) -> list[Task]:
    """Identify sources in the driver — local paths hashed when the workers share its filesystem
    (``local_paths``), ``oci://`` references with one registry round trip (no pull, any
    executor) — finish verified hits, return the tasks still to run. A miss goes to a worker
    with ``use_cache`` off (it need not look again); a source the driver could not identify goes
    as it is (the worker meets the same problem and reports it, or is able to look itself)."""
    from scanner.batch.cache import key_id
    from scanner.batch.identify import identities
    from scanner.batch.sources import is_oci

    context = dict(options.context)

    def digest(task: Task) -> tuple[str | None, float]:
        from scanner.batch.budget import BudgetExceeded, time_budget
        from scanner.batch.job import source_identity

        start = time.perf_counter()
        try:
            with time_budget(options.budget):
                return source_identity(task.source, options)[1], time.perf_counter() - start
        except (Exception, BudgetExceeded):
            return None, 0.0

    remaining = []
    # registry round trips overlap in threads (made only for them); local artifacts are hashed
    # one after the other by a child process while this one verifies and writes (``identify``):
    # small files hash in less time than threads take to pass the GIL back and forth
    remote = [t for t in tasks if is_oci(t.source)]
    looked_up: dict[int, tuple[str | None, float]] = {}
    if remote:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="scanner-batch-hash") as pool:
            looked_up = dict(zip((t.index for t in remote), pool.map(digest, remote), strict=True))
    found = [(t, looked_up[t.index]) for t in tasks if t.index in looked_up]
    here = [t for t in tasks if t.index not in looked_up]
    if not local_paths:  # the workers hash them (they may not see these paths as this process does)
        remaining.extend(here)
        here = []
    patience = None if options.budget is None else options.budget + 10
    for task, (dig, seconds) in itertools.chain(found, identities(here, digest, patience=patience)):
        if dig is None:
            remaining.append(task)
            continue
        if key_id(context, task.source, dig) not in known:
            remaining.append(replace(task, use_cache=False))
            continue
        lookup = cache.load(task.source, dig)
        if lookup.result is None:
            warn(f"cached verdict for {task.source} not trusted ({lookup.problem}): judging it again")
            remaining.append(replace(task, use_cache=False))
            continue
        finish(task, replace(lookup.result, seconds=seconds))
    return remaining
