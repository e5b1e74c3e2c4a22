"""Local workers forked from the driver once it has prepared (Linux), and the fork-server path
used where forking the driver is not possible: the same verdicts and records either way, and a
forked worker that opens its own database and checks it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scanner.batch.model import BatchOptions, Task


def _options() -> BatchOptions:
    from scanner.cli.batch import build_options

    return build_options("dev", None, None, None, None, None, 60)


def _run(sources: list[str], options: BatchOptions, start_method: str, records: Path) -> list[tuple]:
    from scanner.batch.evidence import EvidenceWriter
    from scanner.batch.local import LocalExecutor
    from scanner.batch.run import run_batch
    from scanner.cli.batch import _prepare

    executor = LocalExecutor(options, 2, start_method=start_method)
    writer = EvidenceWriter(records, None, options)
    try:
        with executor:
            report = run_batch(
                sources, options, executor, cache=None, writer=writer, before_work=lambda: _prepare(options, executor)
            )
    finally:
        writer.close()
    out = []
    for r in report.results:
        assert r.record is not None
        inputs = r.record["inputs"]
        out.append(
            (r.source, r.digest, r.allow, tuple(d.rule for d in r.deny), r.error, inputs["policy"], inputs["data"])
        )
    return out


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_every_way_of_starting_workers_gives_the_gates_verdicts(estate, tmp_path: Path, start_method: str) -> None:
    """Forked from the prepared driver (the Linux default) or from a fork server that prepares
    each worker itself: the verdicts, and the policy and data digests in the records, are those
    of one ``scanner gate`` per artifact."""
    from scanner import pipeline
    from scanner.batch.job import snapshot_digest
    from scanner.options import GateOptions

    options = _options()
    sources = [str(estate[k]) for k in ("clean-a", "evil", "clean-b")]
    got = _run(sources, options, start_method, tmp_path / "records")
    for (source, digest, allow, deny, error, policy, data), gated in zip(
        got, (pipeline.gate(s, GateOptions()) for s in sources), strict=True
    ):
        assert error is None, (source, error)
        assert gated.decision is not None
        assert (digest, allow, deny) == (
            gated.artifact.digest,
            gated.decision.allow,
            tuple(r.rule for r in gated.decision.deny),
        )
        assert (
            policy
            == gated.record["inputs"]["policy"]
            == {
                "path": options.policy.policy_path,
                "digest": snapshot_digest(options.policy),
            }
        )
        assert data == gated.record["inputs"]["data"]
    assert [g[2] for g in got] == [True, False, True] and "model-unsafe" in got[1][3]


def test_a_forked_worker_opens_its_own_database_and_checks_it(estate) -> None:
    """``job.adopt`` (what a forked worker does first): the compiled policy is the driver's, the
    database connection its own (the driver closed its one before forking). A database whose
    snapshot is not the one the driver prepared with makes the worker judge nothing."""
    from scanner import ui
    from scanner.batch import job

    options = _options()
    prepared = job.prepare(options)
    prepared.database.close()  # as the driver does before it forks
    try:
        adopted = job.adopt(prepared)
        assert adopted.policy is prepared.policy and adopted.mismatch is None
        assert adopted.database is not prepared.database
        assert adopted.gate_options.vulns.opened is adopted.database
        result = job.run_task(Task(0, str(estate["clean-a"])), options)
        assert result.error is None and result.allow is True
        job.forget(options.run_id)

        elsewhere = replace(prepared, context={**prepared.context, "db": "another snapshot"})
        assert job.adopt(elsewhere).mismatch is not None
        result = job.run_task(Task(0, str(estate["clean-a"])), options)
        assert result.allow is None and result.error is not None and "db differs from the driver's" in result.error
    finally:
        job.forget(options.run_id)
        ui.configure(quiet=False, no_color=False, debug=False)  # adopting quietened this process
