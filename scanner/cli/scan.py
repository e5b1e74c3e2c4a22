"""``scanner scan``: check model files for unsafe serialization."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import common_options, exceeds, output_options, parse_fail_on, plan_outputs, write_outputs
from scanner.cli.render import record_renderer
from scanner.report import FORMATS

SCAN_CHECKS = ("model",)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@output_options(list(FORMATS))
@common_options
def scan(path: Path, formats: tuple[str, ...], output: str | None, fail_on: str) -> int:
    """Scan a model file or directory for unsafe serialization, without loading anything."""
    from scanner.artifact import detect
    from scanner.check import GateContext
    from scanner.checks import load_checks
    from scanner.core import ArtifactKind, ScanError
    from scanner.evidence.record import build_record
    from scanner.gate import run_checks
    from scanner.inventory.model import Inventory

    threshold = parse_fail_on(fail_on)
    plan = plan_outputs(formats, output, list(FORMATS))
    artifact = detect(path, ArtifactKind.MODEL_DIR if path.is_dir() else ArtifactKind.MODEL_FILE)
    checks = [c for c in load_checks() if c.name in SCAN_CHECKS]
    if not checks:
        raise ScanError("no model check is installed in this build")
    results = run_checks(GateContext(artifact=artifact, inventory=Inventory()), checks)
    record = build_record(command="scan", artifact=artifact, inventory=None, results=results)
    write_outputs(plan, record_renderer(record))
    return 1 if exceeds(record["findings"], threshold) else 0
