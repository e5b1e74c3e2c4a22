"""``scanner report``: the audit report over the ledger, re-rendering saved records, and
verifying the ledger's hash chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from scanner.cli.options import common_options, plan_outputs, write_outputs
from scanner.cli.render import record_renderer
from scanner.report import FORMATS
from scanner.textsafe import terminal

HISTORY_FORMATS = ["html", "markdown", "json"]


@click.group(invoke_without_command=True)
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SCANNER_LEDGER",
    help="Render every decision in this ledger (within --since/--until/--artifact; default: the user state "
    "directory's, $XDG_STATE_HOME/scanner/ledger.db, where `scanner gate` appends by default).",
)
@click.option("--since", metavar="DATE", help="Only decisions at or after this date or time (UTC, ISO 8601).")
@click.option("--until", metavar="DATE", help="Only decisions before this date or time (UTC, ISO 8601).")
@click.option("--artifact", metavar="NAME", help="Only decisions about this artifact name.")
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    metavar="FMT[=FILE]",
    help=f"One of: {', '.join(HISTORY_FORMATS)} (default markdown).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@common_options
@click.pass_context
def report(
    ctx: click.Context,
    ledger: Path | None,
    since: str | None,
    until: str | None,
    artifact: str | None,
    formats: tuple[str, ...],
    output: str | None,
) -> int:
    """Audit report over the ledger, or (subcommands) re-render and verify.

    \b
    scanner report --since 2026-11-01 -f html -o audit.html
    scanner report --ledger ci-ledger.db --artifact sentiment
    scanner report render gate.json --format sarif=gate.sarif
    scanner report verify-ledger

    Without --ledger the ledger read is the user state directory's, where the gate, promote and
    batch append when no ledger is named; the report names the file it read.
    Exit 0 when the ledger verifies, 1 when its hash chain is broken, 2 when it cannot be read.
    """
    if ctx.invoked_subcommand is not None:
        return 0
    if ledger is None and not (since or until or artifact or formats or output):
        click.echo(ctx.get_help())
        return 0
    from scanner.evidence.ledger import Ledger
    from scanner.report import history

    ledger = ledger or _default_ledger()

    plan = plan_outputs(formats, output, HISTORY_FORMATS, default="markdown")
    window = {"since": _when(since, "--since"), "until": _when(until, "--until"), "artifact": artifact}
    with Ledger(ledger, create=False) as db:
        entries = db.entries(since=window["since"], until=window["until"], artifact=artifact)
        verification = db.verify()
        verification.problems.extend(db.damaged)
    doc = history.build(entries, verification, window)
    write_outputs(plan, lambda fmt: history.render(fmt, doc))
    _warn_problems(verification)
    return 0 if verification.ok else 1


def _when(value: str | None, flag: str) -> str | None:
    """ISO date or date-time → the UTC text the ledger stores (``YYYY-MM-DDTHH:MM:SSZ``)."""
    if not value:
        return None
    import datetime as dt

    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected a date (YYYY-MM-DD) or ISO date-time, got {value!r}", param_hint=flag
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _default_ledger() -> Path:
    """The ledger an auditor reads when none is named: the one decisions go to by default
    (``ledger.state_path``). A ``.scanner/ledger.db`` in the working directory is not it (the
    default before decisions left the working directory, or one a checkout ships): said on
    stderr, so that nobody takes the report of one file for the other's."""
    import os

    from scanner import ui
    from scanner.evidence.ledger import state_path

    chosen = state_path()
    local = Path(".scanner") / "ledger.db"
    if os.path.lexists(local):
        ui.info(f"{local} in the working directory is not read (the default ledger is {chosen}); name it to read it")
    return chosen


def _warn_problems(verification: Any) -> None:
    from scanner import ui

    for problem in verification.problems:
        ui.error(f"ledger {verification.path}: {problem}")


@report.command("render")
@click.argument("record_path", type=click.Path(path_type=Path))
@click.option("-f", "--format", "formats", multiple=True, metavar="FMT[=FILE]", help=f"One of: {', '.join(FORMATS)}.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@common_options
def render(record_path: Path, formats: tuple[str, ...], output: str | None) -> int:
    """Render a JSON evidence record (from --format json) as another format."""
    from scanner.core import ScanError
    from scanner.jsonfile import read_json

    plan = plan_outputs(formats, output, list(FORMATS))
    record = read_json(record_path, "evidence record")
    if not isinstance(record, dict) or not str(record.get("schema", "")).startswith("scanner-evidence/"):
        raise ScanError("not a scanner evidence record (no 'schema': 'scanner-evidence/N')", record_path)
    write_outputs(plan, record_renderer(record))
    return 0


@report.command("verify-ledger")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path), required=False, envvar="SCANNER_LEDGER")
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
@common_options
def verify_ledger(db: Path | None, as_json: bool) -> int:
    """Walk the ledger's hash chain: every record unchanged, none missing or reordered.

    Without DB: the user state directory's ledger ($XDG_STATE_HOME/scanner/ledger.db), where the
    gate, promote and batch append when no ledger is named. The output names the file read.

    Exit 0 when intact, 1 when tampering or a gap is found, 2 when the ledger cannot be read.
    """
    from scanner.evidence.ledger import Ledger

    with Ledger(db or _default_ledger(), create=False) as ledger:
        result = ledger.verify()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        click.echo(f"ledger {result.path}: OK, {result.count} record(s), head #{result.head_seq} {result.head_hash}")
    else:
        click.echo(f"ledger {result.path}: BROKEN, {len(result.problems)} problem(s) in {result.count} record(s)")
        for problem in result.problems:
            click.echo(f"  {terminal(problem)}")
    return 0 if result.ok else 1
