"""``scanner audit``: known vulnerabilities of Python dependencies, offline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scanner.cli.options import common_options, exit_code, output_options, parse_fail_on, plan_outputs, write_outputs
from scanner.cli.render import record_renderer
from scanner.report import FORMATS

if TYPE_CHECKING:
    from scanner.core import Artifact
    from scanner.vulns.deps import Dependency

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
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("--kind", type=click.Choice(KINDS), help="Override input detection.")
@db_option
@max_age_option
@click.option(
    "--waivers", type=click.Path(path_type=Path), envvar="SCANNER_WAIVERS", help="Waivers YAML (ignores with expiry)."
)
@output_options(list(FORMATS))
@common_options
def audit(
    path: Path | None,
    kind: str | None,
    db: Path | None,
    max_db_age: int | None,
    waivers: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    fail_on: str,
) -> int:
    """Audit the dependencies in PATH against the local vulnerability database (no network).

    PATH is a virtual environment or site-packages directory, a pinned requirements file,
    pyproject.toml, pylock.toml, a CycloneDX JSON SBOM, or a project directory; without PATH,
    the environment scanner runs in. Unpinned or unparseable dependencies are reported as
    VULN-UNAUDITED, never skipped.

    Exit 0 when nothing unwaived is at or above --fail-on, 1 when something is, 2 when the audit
    could not be completed (bad input, missing or stale database).
    """
    import datetime as dt

    from scanner import ui
    from scanner.core import ArtifactKind
    from scanner.evidence.record import build_record
    from scanner.inventory.model import Component, Inventory
    from scanner.vulns.audit import audit as run_audit
    from scanner.vulns.audit import check_age, check_result, describe
    from scanner.vulns.db import Database
    from scanner.vulns.deps import collect
    from scanner.vulns.snapshot import resolve_db
    from scanner.waivers import apply_waivers, load_waivers

    threshold = parse_fail_on(fail_on)
    plan = plan_outputs(formats, output, list(FORMATS))
    waiver_list = load_waivers(waivers) if waivers else []
    now = dt.datetime.now(dt.timezone.utc)
    with Database(resolve_db(db)) as database:
        check_age(database.info, max_db_age, now)
        ui.info(describe(database.info, now))
        artifact_kind = ArtifactKind(kind) if kind else None
        deps = collect(path, artifact_kind)
        result = run_audit(deps, database)
        info = database.info
    check = check_result(result, info, now, str(path) if path is not None else None)
    outcome = apply_waivers(check.findings, waiver_list, now)
    for w in outcome.expired:
        ui.warn(f"waiver {w.id} expired on {w.expires_text}: it no longer ignores anything")
    waived = [f for f in outcome.findings if f["waived"]]
    if waived:
        ui.info(f"{len(waived)} finding(s) waived: " + ", ".join(_waived_label(f) for f in waived))
    expired_ids = {w.id for w in outcome.expired}
    unused_ids = {w.id for w in outcome.unused}
    waiver_docs = [
        {
            **w.to_dict(),
            "expired": w.id in expired_ids,
            "unused": w.id in unused_ids,
            "matched": outcome.used.get(w.id, []),
        }
        for w in outcome.all_waivers
    ]
    inventory = Inventory(
        components=[
            Component(bom_ref=d.purl, name=d.name, version=d.version, purl=_purl(d), source=d.source) for d in deps
        ]
    )
    record = build_record(
        command="audit",
        artifact=_artifact(path, deps),
        inventory=inventory,
        results=[check],
        findings=outcome.findings,
        waivers=waiver_docs,
        extra={"vulnerability_db": check.context["vulnerability_db"], "audit": check.summary},
    )
    write_outputs(plan, record_renderer(record))
    return exit_code(record, threshold)


def _purl(dep: Dependency) -> str | None:
    return dep.purl if dep.version and not dep.reason else None


def _waived_label(finding: dict[str, Any]) -> str:
    ev = finding.get("evidence") or {}
    return f"{ev.get('vuln_id') or finding['id']} on {finding['subject']} by {finding['waived']['id']}"


def _artifact(path: Path | None, deps: Sequence[Dependency]) -> Artifact:
    """The audited thing. An environment's digest is over its (name, version) list, not over
    every installed file, which would cost seconds for nothing an audit reads."""
    import hashlib
    import sys

    from scanner.artifact import detect
    from scanner.core import Artifact, ArtifactKind
    from scanner.vulns.deps import detect_kind

    if path is None or path.is_dir():
        listing = "\n".join(sorted(f"{d.name}=={d.version}" for d in deps))
        digest = "sha256:" + hashlib.sha256(listing.encode()).hexdigest()
        where = path or Path(sys.prefix)
        kind = ArtifactKind.ENVIRONMENT if path is None else detect_kind(path)
        return Artifact(path=where, kind=kind, name=where.resolve().name or str(where), digest=digest)
    return detect(path)
