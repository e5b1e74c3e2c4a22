"""``scanner sbom``: a CycloneDX 1.6 SBOM or ML-BOM for an artifact."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import common_options, plan_outputs, write_outputs

SBOM_FORMATS = ["cyclonedx-json", "spdx-json"]


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "-f", "--format", "formats", multiple=True, metavar="FMT[=FILE]", help=f"One of: {', '.join(SBOM_FORMATS)}."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the SBOM to this file.")
@common_options
def sbom(path: Path, formats: tuple[str, ...], output: str | None) -> int:
    """Inventory PATH as a CycloneDX 1.6 SBOM (applications) or ML-BOM (models)."""
    from scanner.artifact import detect
    from scanner.inventory.build import build_inventory
    from scanner.inventory.cyclonedx import to_cyclonedx_json

    plan = plan_outputs(formats, output, SBOM_FORMATS, default="cyclonedx-json")
    artifact = detect(path)
    inventory = build_inventory(artifact)
    from scanner.inventory.spdx3 import to_spdx3_json

    write_outputs(
        plan,
        lambda fmt: (
            to_spdx3_json(inventory, artifact) if fmt == "spdx-json" else to_cyclonedx_json(inventory, artifact)
        ),
    )
    return 0
