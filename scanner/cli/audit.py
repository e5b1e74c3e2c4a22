"""``scanner audit``: known vulnerabilities of Python dependencies, offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from scanner.cli.options import (
    common_options,
    config_author,
    exit_code,
    output_options,
    parse_fail_on,
    plan_outputs,
    setting_sources,
    user_config,
    write_outputs,
)
from scanner.cli.registry_options import from_context, registry_options
from scanner.cli.render import record_renderer
from scanner.report import RECORD_FORMATS

F = TypeVar("F", bound=Callable[..., Any])
KINDS = ["environment", "requirements", "pyproject", "lockfile", "sbom", "app-dir"]


def db_option(func: F) -> F:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="SCANNER_DB",
        help="Vulnerability database (default: user cache, built from the bundled snapshot on first use).",
    )(func)


def max_age_option(func: F) -> F:
    return click.option(
        "--max-db-age",
        type=click.IntRange(min=0),
        envvar="SCANNER_MAX_DB_AGE",
        metavar="DAYS",
        help="Fail (exit 2) when the database snapshot is older than DAYS.",
    )(func)


@click.command()
@click.argument("source", required=False)
@click.option(
    "-r",
    "--requirement",
    "requirement",
    metavar="FILE",
    help="A requirements file to audit (pip-audit's -r; the same as giving it as SOURCE).",
)
@click.option("--kind", type=click.Choice(KINDS), help="Override input detection.")
@db_option
@max_age_option
@click.option(
    "--waivers", type=click.Path(path_type=Path), envvar="SCANNER_WAIVERS", help="Waivers YAML (ignores with expiry)."
)
@output_options(RECORD_FORMATS)
@registry_options
@common_options
def audit(
    source: str | None,
    requirement: str | None,
    kind: str | None,
    db: Path | None,
    max_db_age: int | None,
    waivers: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    fail_on: str,
) -> int:
    """Audit the dependencies in SOURCE against the local vulnerability database (no network).

    SOURCE (or -r FILE) is a virtual environment or site-packages directory, a pinned
    requirements file, pyproject.toml, a lock file, a CycloneDX SBOM (nested components
    included), a project directory, oci://REGISTRY/REPO[:TAG|@DIGEST] or - (standard input: an
    SBOM from another tool or a requirements file, told apart by content; --kind says which);
    without SOURCE, the environment of the running interpreter. The components are the same
    the gate and ``scanner sbom`` see. Unpinned or unparseable dependencies are reported as
    VULN-UNAUDITED, never skipped.

    Exit 0 when nothing unwaived is at or above --fail-on, 1 when something is, 2 when the audit
    could not be completed (bad input, missing or stale database).
    """
    from scanner import pipeline, ui
    from scanner.core import ArtifactKind
    from scanner.options import GateOptions, InventoryOptions, VulnOptions
    from scanner.waivers import load_waivers

    ctx = click.get_current_context()
    if requirement is not None:
        if source is not None:
            raise click.UsageError("give the input either as SOURCE or with -r, not both")
        source = requirement
    threshold = parse_fail_on(fail_on)
    plan = plan_outputs(formats, output, RECORD_FORMATS)
    waiver_list = tuple(load_waivers(waivers)) if waivers else ()
    options = GateOptions(
        registry=from_context(),
        kind=ArtifactKind(kind) if kind else None,
        waivers=waiver_list,
        waiver_file=waivers,
        inventory=InventoryOptions(verify_files=False, author=config_author(ctx)),
        vulns=VulnOptions(db=db, max_db_age=max_db_age),
        settings_sources=setting_sources(ctx),
        user_config=user_config(ctx),
    )
    outcome = pipeline.run(source, pipeline.AUDIT, options)
    record = outcome.record
    for w in record["waivers"]:
        if w["expired"]:
            ui.warn(f"waiver {w['id']} expired on {w['expires']}: it no longer ignores anything")
    waived = [f for f in record["findings"] if f["waived"]]
    if waived:
        ui.info(f"{len(waived)} finding(s) waived: " + ", ".join(_waived_label(f) for f in waived))
    check = next(r for r in outcome.results if r.check == "vulns")
    record.update({"vulnerability_db": check.context["vulnerability_db"], "audit": check.summary})
    write_outputs(plan, record_renderer(record))
    return exit_code(record, threshold)


def _waived_label(finding: dict[str, Any]) -> str:
    ev = finding.get("evidence") or {}
    return f"{ev.get('vuln_id') or finding['id']} on {finding['subject']} by {finding['waived']['id']}"
