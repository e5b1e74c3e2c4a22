"""``scanner report``: render a saved evidence record in another format."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.options import common_options, plan_outputs, write_outputs
from scanner.cli.render import record_renderer
from scanner.report import FORMATS


@click.group()
def report() -> None:
    """Render evidence records."""


@report.command("render")
@click.argument("record_path", type=click.Path(path_type=Path))
@click.option("-f", "--format", "formats", multiple=True, metavar="FMT[=FILE]", help=f"One of: {', '.join(FORMATS)}.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@common_options
def render(record_path: Path, formats: tuple[str, ...], output: str | None) -> int:
    """Render a JSON evidence record (from --format json) as another format."""
    from scanner.core import ScanError

    plan = plan_outputs(formats, output, list(FORMATS))
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScanError("evidence record not found", record_path) from None
    except json.JSONDecodeError as exc:
        raise ScanError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", record_path) from None
    write_outputs(plan, record_renderer(record))
    return 0
