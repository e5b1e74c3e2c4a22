"""``scanner sbom``: a CycloneDX 1.6 SBOM or ML-BOM for an artifact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from scanner.cli.options import common_options, config_author, plan_outputs, setting_sources, user_config, write_outputs
from scanner.cli.registry_options import from_context, registry_options

SBOM_FORMATS = ["cyclonedx-json", "cyclonedx-xml", "spdx-json"]
INPUT_TYPES = ["auto", "environment", "requirements", "pyproject", "lockfile", "sbom"]


@click.command()
@click.argument("source", required=False)
@click.option(
    "-f", "--format", "formats", multiple=True, metavar="FMT[=FILE]", help=f"One of: {', '.join(SBOM_FORMATS)}."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the SBOM to this file.")
@click.option(
    "--input-type",
    type=click.Choice(INPUT_TYPES),
    default="auto",
    show_default=True,
    help="What to read PATH as; in a project directory, which of its inputs to use "
    "(default precedence: lock file, requirements.txt, pyproject.toml, BOM, .venv).",
)
@click.option(
    "--merge",
    "merges",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Merge this CycloneDX BOM (JSON or XML) into the result; repeatable.",
)
@click.option(
    "--reproducible",
    is_flag=True,
    help="Fixed timestamp (SOURCE_DATE_EPOCH, else 1970-01-01) and a serial number derived from the content.",
)
@click.option(
    "--verify-files",
    is_flag=True,
    help="Environments: read every installed file and compare it with RECORD (the gate always does).",
)
@registry_options
@common_options
def sbom(
    source: str | None,
    formats: tuple[str, ...],
    output: str | None,
    input_type: str,
    merges: tuple[Path, ...],
    reproducible: bool,
    verify_files: bool,
) -> int:
    """Inventory SOURCE as a CycloneDX 1.6 SBOM (applications) or ML-BOM (models).

    SOURCE is a project directory, a venv or site-packages directory, a requirements file,
    pyproject.toml, a lock file (pylock.toml, uv.lock, poetry.lock), a CycloneDX BOM or
    oci://REGISTRY/REPO[:TAG|@DIGEST] or - (standard input: a BOM or requirements file by content,
    else a model file; --input-type says which); without SOURCE, the environment of the
    running interpreter.
    The BOM is validated against the CycloneDX schema before it is written: an invalid BOM is an
    error (exit 2). Problems met while reading the input are printed as warnings."""
    from scanner import pipeline, ui
    from scanner.inventory.cyclonedx import to_cyclonedx_json, to_cyclonedx_xml
    from scanner.options import GateOptions, InventoryOptions

    ctx = click.get_current_context()
    plan = plan_outputs(formats, output, SBOM_FORMATS, default="cyclonedx-json")
    options = GateOptions(
        registry=from_context(),
        inventory=InventoryOptions(
            input_type=input_type, verify_files=verify_files, merges=merges, author=config_author(ctx)
        ),
        settings_sources=setting_sources(ctx),
        user_config=user_config(ctx),
    )
    outcome = pipeline.run(source, pipeline.SBOM, options)
    inventory, artifact = outcome.inventory, outcome.artifact
    for finding in inventory.findings:
        ui.warn(f"{finding.id} {finding.subject}: {finding.message}")

    def render(fmt: str) -> str | Iterator[str]:
        if fmt == "spdx-json":
            from scanner.inventory.spdx3 import to_spdx3_json

            return to_spdx3_json(inventory, artifact)
        if fmt == "cyclonedx-xml":
            return to_cyclonedx_xml(inventory, artifact, reproducible=reproducible)
        if not reproducible and outcome.record.get("sbom"):
            from scanner.report.cyclonedx_json import chunks

            return chunks(outcome.record)  # the run's own validated document, written in pieces
        return to_cyclonedx_json(inventory, artifact, reproducible=reproducible)

    write_outputs(plan, render)
    return 0
