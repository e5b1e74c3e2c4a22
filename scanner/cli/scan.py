"""``scanner scan``: check model files for unsafe serialization."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import common_options, exit_code, output_options, parse_fail_on, plan_outputs, write_outputs
from scanner.cli.render import record_renderer
from scanner.report import FORMATS

SCAN_CHECKS = ("model",)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--second-opinion/--no-second-opinion",
    default=True,
    show_default=True,
    envvar="SCANNER_SECOND_OPINION",
    help="Also run modelscan's engine on the files it supports and merge its findings.",
)
@click.option(
    "--unknown-globals",
    default="medium",
    show_default=True,
    metavar="SEVERITY",
    envvar="SCANNER_UNKNOWN_GLOBALS",
    help="Severity of a pickle import that is neither known-safe nor denied.",
)
@output_options(list(FORMATS))
@common_options
def scan(
    path: Path,
    second_opinion: bool,
    unknown_globals: str,
    formats: tuple[str, ...],
    output: str | None,
    fail_on: str,
) -> int:
    """Scan a model file or directory for unsafe serialization, without loading anything."""
    from scanner.artifact import detect
    from scanner.check import GateContext
    from scanner.checks import load_checks
    from scanner.core import ArtifactKind, ScanError
    from scanner.evidence.record import build_record
    from scanner.gate import run_checks
    from scanner.inventory.model import Inventory

    threshold = parse_fail_on(fail_on)
    if parse_fail_on(unknown_globals) is None:
        raise click.BadParameter("must be a severity", param_hint="--unknown-globals")
    settings = {"model_second_opinion": second_opinion, "model_unknown_global_severity": unknown_globals}
    plan = plan_outputs(formats, output, list(FORMATS))
    artifact = detect(path, ArtifactKind.MODEL_DIR if path.is_dir() else ArtifactKind.MODEL_FILE)
    checks = [c for c in load_checks() if c.name in SCAN_CHECKS]
    if not checks:
        raise ScanError("no model check is installed in this build")
    results = run_checks(GateContext(artifact=artifact, inventory=Inventory(), settings=settings), checks)
    record = build_record(command="scan", artifact=artifact, inventory=None, results=results)
    write_outputs(plan, record_renderer(record))
    return exit_code(record, threshold)
