"""``scanner batch``: judge many artifacts in one run, on local worker processes or a Dask cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from scanner.cli.audit import db_option, max_age_option
from scanner.cli.options import (
    common_options,
    ledger_options,
    output_options,
    plan_outputs,
    setting_sources,
    user_config,
    write_outputs,
)

FORMATS = ["table", "json", "html", "sarif"]
MAX_POLICY_FILE = 16 << 20
MAX_POLICY_FILES = 2000


@click.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--from",
    "lists",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    multiple=True,
    help="Read sources from FILE, one per line ('#' comments; '-' is stdin). Repeatable.",
)
@click.option(
    "--stage",
    default="dev",
    show_default=True,
    envvar="SCANNER_STAGE",
    help="The stage every artifact is judged for (the policy data defines the ladder; default dev, staging, prod).",
)
@click.option("--policy", type=click.Path(path_type=Path), envvar="SCANNER_POLICY", help="Policy directory.")
@click.option("--data", type=click.Path(path_type=Path), envvar="SCANNER_DATA", help="Policy data JSON.")
@click.option("--waivers", type=click.Path(path_type=Path), envvar="SCANNER_WAIVERS", help="Waivers YAML.")
@db_option
@max_age_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Local worker processes (default: the number of cores). Ignored with --scheduler.",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    envvar="DASK_SCHEDULER_ADDRESS",
    help="Run on this Dask scheduler (needs scanner[dask]; env DASK_SCHEDULER_ADDRESS).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SCANNER_BATCH_CACHE",
    help="Result cache directory (default: the user cache directory).",
)
@click.option("--no-cache", is_flag=True, help="Judge every artifact; neither read nor write the cache.")
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="Per-artifact time budget; an artifact over it is recorded as not judged (0: none).",
)
@click.option(
    "--records",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the evidence records, one per artifact (default: batch/RUN-ID beside the default ledger, "
    "in the user state directory).",
)
@ledger_options(
    "Append every decision to this ledger (default: the user state directory's, $XDG_STATE_HOME/scanner/ledger.db, "
    "as for `scanner gate`).",
    "Do not record decisions in a ledger.",
)
@click.option("--plain-http", is_flag=True, help="oci:// sources: the registry speaks plain HTTP (no TLS).")
@output_options(FORMATS, fail_on=False)
@common_options
def batch(
    sources: tuple[str, ...],
    lists: tuple[Path, ...],
    stage: str,
    policy: Path | None,
    data: Path | None,
    waivers: Path | None,
    db: Path | None,
    max_db_age: int | None,
    workers: int | None,
    scheduler: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    time_budget: float,
    records: Path | None,
    ledger: Path | None,
    no_ledger: bool,
    plain_http: bool,
    formats: tuple[str, ...],
    output: str | None,
) -> int:
    """Judge every SOURCE (a local path or an oci:// reference) for a stage, as `scanner gate`
    would, with verdicts cached by digest.

    \b
    Exit 0 when every artifact is allowed, 1 when any is denied, 2 when any could not be judged
    (the summary names which), 130 when interrupted (what finished is kept).
    """
    from scanner import ui
    from scanner.batch.cache import ResultCache, default_dir
    from scanner.batch.evidence import EvidenceWriter
    from scanner.batch.run import run_batch
    from scanner.batch.sources import collect
    from scanner.batch.summary import line, render

    plan = plan_outputs(formats, output, FORMATS)
    items = collect(sources, lists)
    settings = setting_sources(click.get_current_context())
    found = user_config(click.get_current_context())
    _refuse_user_cache_inside(items)
    options = build_options(stage, policy, data, waivers, db, max_db_age, time_budget or None, settings)
    options = replace(options, user_config=str(found) if found else None)
    options = replace(options, plain_http=plain_http)
    cache = None
    if not no_cache:
        from scanner.batch.job import database_age

        cache = ResultCache(
            cache_dir or default_dir(),
            dict(options.context),
            expires=_waiver_expiry(waivers),
            db_age=database_age(options),
        )
    known = cache.known() if cache else frozenset()
    if not scheduler and not known:
        from scanner.batch.local import start_fork_server

        # every artifact will be judged: let the workers' imports overlap with the rest of the
        # set-up (after build_options, which built the database if it was missing). With cache
        # entries the workers start only if some artifact misses.
        start_fork_server()
    executor = make_executor(scheduler, workers, options, known)
    if records is None or (ledger is None and not no_ledger):
        # as for `scanner gate`: the user state directory, refused inside the working directory
        # or a directory being judged (any of them: the next run would judge this run's evidence)
        from scanner.evidence.ledger import default_path_for

        default_ledger = default_path_for(items)
        records = records or default_ledger.parent / "batch" / options.run_id
        ledger = ledger or default_ledger
    writer = EvidenceWriter(records, None if no_ledger else ledger, options)
    ui.info(f"batch {options.run_id}: {len(items)} artifact(s) for {options.stage} on {executor.name} workers")
    report = None
    try:
        with executor, _progress(len(items)) as (advance, echo):

            def on_result(result: Any) -> None:
                echo(line(result))
                advance()

            report = run_batch(
                items,
                options,
                executor,
                cache=cache,
                writer=writer,
                known=known,
                on_result=on_result,
                warn=ui.warn,
                before_work=lambda: _prepare(options, executor),
            )
    except KeyboardInterrupt:
        if report is None:
            raise
        report.interrupted = True  # Ctrl-C while the workers were stopped: the run had ended
    finally:
        writer.close()
        if cache is not None:
            cache.close()
    if writer.interrupted:  # Ctrl-C while the last decisions were recorded: they were
        report.interrupted = True
    for fmt, dest in plan:
        write_outputs([(fmt, dest)], lambda f, d=dest: render(report, f, d))  # type: ignore[misc]
    if report.errors:
        ui.error(f"{len(report.errors)} artifact(s) not judged: " + ", ".join(r.source for r in report.errors[:20]))
    if report.interrupted:
        return 130
    return report.exit_code()


def build_options(
    stage: str,
    policy: Path | None,
    data: Path | None,
    waivers: Path | None,
    db: Path | None,
    max_db_age: int | None,
    budget: float | None,
    settings: dict[str, str] | None = None,
) -> Any:
    """Read the policy, data and waivers once and fix the run's stage and context."""
    from dataclasses import replace

    from scanner.batch import job
    from scanner.batch.model import BatchOptions, PolicySnapshot
    from scanner.core import ScanError
    from scanner.files import walk
    from scanner.resources import policies_dir
    from scanner.safeio import read_bounded

    policy_dir = policy or policies_dir()
    if not policy_dir.is_dir():
        raise ScanError("policy directory not found", policy_dir)
    entries = [e for e in walk(policy_dir) if not e.escapes and not e.is_symlink and e.path.is_file()]
    if len(entries) > MAX_POLICY_FILES:
        raise ScanError(f"more than {MAX_POLICY_FILES} files: not a policy directory", policy_dir)
    files = tuple((e.rel, read_bounded(e.path, MAX_POLICY_FILE, what="policy file")) for e in entries)
    data_file = data or policy_dir / "data.json"
    data_bytes = None
    if data is not None or data_file.is_file():
        data_bytes = read_bounded(data_file, MAX_POLICY_FILE, what="policy data file")
    waiver_bytes = read_bounded(waivers, MAX_POLICY_FILE, what="waivers file") if waivers else None
    snapshot = PolicySnapshot(
        policy_files=files,
        policy_path=str(policy_dir),
        data=data_bytes,
        data_path=str(data_file) if data_bytes is not None else None,
        waivers=waiver_bytes,
        waivers_path=str(waivers) if waivers else None,
    )
    options = BatchOptions(
        run_id=os.urandom(6).hex(),
        stage=stage,
        policy=snapshot,
        db=str(db.resolve()) if db else None,
        max_db_age=max_db_age,
        budget=budget,
        settings=tuple(sorted((settings or {}).items())),
    )
    stage_name, context = job.driver_context(options)
    return replace(options, stage=stage_name, context=tuple(sorted(context.items())))


def _prepare(options: Any, executor: Any) -> None:
    """Compile the policies here before any artifact goes to a worker: a policy that does not
    compile stops the run (exit 2) instead of failing on every worker. Local workers are then
    forked from this prepared state (``LocalExecutor.prepared``)."""
    from scanner.batch import job

    prepared = job.prepare(options)
    try:
        executor.prepared(prepared)
    finally:
        prepared.database.close()


def make_executor(scheduler: str | None, workers: int | None, options: Any, known: frozenset[str]) -> Any:
    if scheduler:
        from scanner.batch.dask_executor import DaskExecutor

        if workers:
            from scanner import ui

            ui.warn("--workers is ignored with --scheduler (the cluster decides)")
        return DaskExecutor(scheduler, options, known)
    from scanner.batch.executor import Deferred

    def local() -> Any:
        from scanner.batch.local import LocalExecutor

        return LocalExecutor(options, workers)

    # made when the first artifact goes to a worker: a run answered from the cache starts none
    return Deferred(local, "local", max(1, workers or os.cpu_count() or 1), shares_filesystem=True)


def _waiver_expiry(path: Path | None) -> Any:
    if path is None:
        return None
    from scanner.waivers import load_waivers

    ends = [w.ends for w in load_waivers(path)]  # instants (UTC), not local dates
    return min(ends) if ends else None


@contextmanager
def _progress(total: int) -> Iterator[tuple[Any, Any]]:
    """A bar on a terminal (not with -q, NO_COLOR or a pipe); each finished artifact is printed
    above it (or as a line on stderr without it)."""
    import sys

    from scanner import ui

    if ui.is_quiet():
        yield (lambda: None), (lambda _text: None)
        return
    if not sys.stderr.isatty() or os.environ.get("NO_COLOR"):
        yield (lambda: None), ui.info
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, no_color=not ui.color_enabled(sys.stderr))
    with Progress(
        TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("batch", total=total)
        yield (lambda: bar.advance(task)), (lambda text: console.print(escape(text), highlight=False))


def _refuse_user_cache_inside(items: list[str]) -> None:
    """As ``scanner gate`` does for its one artifact, before anything is read or built: the user
    cache found by default inside any local source stops the run (exit 2). The driver would
    otherwise build the vulnerability database, and keep its result cache, inside a tree it then
    judges. (A user config found inside a source makes that artifact an error, as before: it is
    only read, never written.)"""
    from scanner import userdirs

    if userdirs.cache_dir_is_explicit():
        return  # named by the user: not refused (``pipeline.refuse_user_files_inside``)
    above = _folders_holding(userdirs.cache_dir())
    suspects = [item for item in items if above is None or _may_hold(item, above)]
    if not suspects:
        return
    from scanner.options import GateOptions
    from scanner.pipeline import GATE, refuse_user_files_inside

    for item in suspects:  # the gate's own check says whether it is, and names it
        refuse_user_files_inside(item, GATE, GateOptions())


def _folders_holding(location: Path) -> set[tuple[int, int]] | None:
    """(device, inode) of every existing folder that holds ``location`` or is it — along its
    absolute path as written and along its resolved path — or None when that cannot be told."""
    from pathlib import PurePath

    try:
        paths = {PurePath(os.path.abspath(location)), location.resolve()}
    except (OSError, RuntimeError):
        return None
    found = set()
    for path in paths:
        for folder in (path, *path.parents):
            try:
                st = os.stat(folder)
            except OSError:
                continue  # not there (yet): no existing source folder is it
            found.add((st.st_dev, st.st_ino))
    return found


def _may_hold(item: str, above: set[tuple[int, int]]) -> bool:
    """A cheap first look for ``_refuse_user_cache_inside`` (a few ``stat`` calls instead of
    resolving every source): False only when the folder of a local source, reached as the gate's
    check reaches it (as written, made absolute, and with its links followed), is none of the
    folders holding the user cache. Anything it cannot tell (a source that is not there, a
    registry reference, standard input) goes to the gate's check."""
    import stat

    from scanner.stdin import NAMES

    if not item or item.startswith("oci://") or item in NAMES:
        return True
    path = Path(item)
    try:
        st = os.stat(path)
        folder = path if stat.S_ISDIR(st.st_mode) else path.parent
        seen = [st if folder is path else os.stat(folder)]
        absolute = os.path.abspath(folder)
        if absolute != str(folder):
            seen.append(os.stat(absolute))
    except OSError:
        return True
    return any((s.st_dev, s.st_ino) in above for s in seen)
