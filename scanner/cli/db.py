"""``scanner db``: the local vulnerability database (import, status, update)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from scanner.cli.audit import db_option
from scanner.cli.options import common_options

SUBCOMMANDS = ("import", "status", "update")


@click.group()
@click.pass_context
def db(ctx: click.Context) -> None:
    """Manage the local OSV vulnerability database (SQLite)."""
    # The config's values reach this group as one flat mapping; offer them to each subcommand.
    flat = ctx.default_map or {}
    if flat and not any(isinstance(v, dict) for v in flat.values()):
        ctx.default_map = {name: dict(flat) for name in SUBCOMMANDS}


def _target(path: Path | None) -> Path:
    from scanner.vulns.snapshot import default_db_path

    return path or default_db_path()


def _print_info(info: Any, fmt: str, action: str | None = None) -> None:
    from scanner import ui

    data = info.to_dict()
    data.update({"imported_at": info.imported_at, **{k: info.meta[k] for k in _COUNTS if k in info.meta}})
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    if action:
        ui.info(action)
    for key, value in data.items():
        click.echo(f"{key}: {value}")


_COUNTS = (
    "input_records",
    "withdrawn",
    "merged_duplicates",
    "packages",
    "unparseable_versions",
    "skipped_ranges",
    "invalid_cvss",
    "source_sha256",
)
_FORMAT = click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@db.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@db_option
@_FORMAT
@common_options
def import_(source: Path, db: Path | None, fmt: str) -> None:
    """Import OSV records from SOURCE: a directory of .json/.yaml files, an osv.dev all.zip,
    or a .jsonl.gz. Replaces the database atomically; GHSA records duplicating PYSEC ones
    (through their aliases) are merged into one."""
    import time

    from scanner.vulns.db import import_dump

    start = time.perf_counter()
    info = import_dump(source, _target(db))
    _print_info(info, fmt, f"imported {info.records} records into {info.path} in {time.perf_counter() - start:.2f}s")


@db.command()
@db_option
@_FORMAT
@common_options
def status(db: Path | None, fmt: str) -> None:
    """Source, snapshot date, record count and age of the database."""
    from scanner.vulns.db import open_info
    from scanner.vulns.snapshot import resolve_db

    _print_info(open_info(resolve_db(db)), fmt)


@db.command()
@click.option(
    "--url",
    "osv_url",
    envvar="SCANNER_OSV_URL",
    metavar="URL",
    help="Where to download the OSV PyPI dump (a mirror; default: osv.dev's PyPI all.zip).",
)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Network timeout in seconds.")
@db_option
@_FORMAT
@common_options
def update(osv_url: str | None, timeout: float, db: Path | None, fmt: str) -> None:
    """Download the OSV PyPI dump and import it (the only command that uses the network)."""
    from scanner.vulns.update import DEFAULT_URL
    from scanner.vulns.update import update as run_update

    info = run_update(osv_url or DEFAULT_URL, _target(db), timeout)
    _print_info(info, fmt, f"updated {info.path} from {info.source}")
