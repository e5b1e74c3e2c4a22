"""``scanner scan``: check model files for unsafe serialization."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import (
    common_options,
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
from scanner.errors import ScanError
from scanner.report import RECORD_FORMATS


@click.command()
@click.argument("source")
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
@click.option(
    "--waivers",
    type=click.Path(path_type=Path),
    envvar="SCANNER_WAIVERS",
    help="Waivers YAML (accepted risks with owner and expiry), as for gate and audit.",
)
@output_options(RECORD_FORMATS)
@registry_options
@common_options
def scan(
    source: str,
    second_opinion: bool,
    unknown_globals: str,
    waivers: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    fail_on: str,
) -> int:
    """Scan a model file or directory (or oci://REGISTRY/REPO[:TAG|@DIGEST]) for unsafe
    serialization, without loading anything. Every file is sniffed by content."""
    from scanner import pipeline, ui
    from scanner.options import GateOptions, ModelOptions
    from scanner.waivers import load_waivers

    threshold = parse_fail_on(fail_on)
    unknown = parse_fail_on(unknown_globals)
    if unknown is None:
        raise click.BadParameter("must be a severity", param_hint="--unknown-globals")
    plan = plan_outputs(formats, output, RECORD_FORMATS)
    options = GateOptions(
        waivers=tuple(load_waivers(waivers)) if waivers else (),
        waiver_file=waivers,
        registry=from_context(),
        model=ModelOptions(second_opinion=second_opinion, unknown_global_severity=unknown),
        settings_sources=setting_sources(click.get_current_context()),
        user_config=user_config(click.get_current_context()),
    )
    outcome = pipeline.run(source, pipeline.SCAN, options)
    if not any(r.check == "model" for r in outcome.results):
        raise ScanError("no model check is installed in this build")
    for w in outcome.record["waivers"]:
        if w.get("expired"):
            ui.warn(f"waiver {w['id']} expired on {w['expires']}: it no longer ignores anything")
    write_outputs(plan, record_renderer(outcome.record))
    return exit_code(outcome.record, threshold)
