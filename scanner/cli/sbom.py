"""``scanner sbom``: a CycloneDX 1.6 SBOM or ML-BOM for an artifact."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import common_options, plan_outputs, write_outputs

SBOM_FORMATS = ["cyclonedx-json", "cyclonedx-xml", "spdx-json"]
INPUT_TYPES = ["auto", "environment", "requirements", "pyproject", "lockfile", "sbom"]


@click.command()
@click.argument("path", type=click.Path(path_type=Path), required=False)
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
@common_options
def sbom(
    path: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    input_type: str,
    merges: tuple[Path, ...],
    reproducible: bool,
    verify_files: bool,
) -> int:
    """Inventory PATH as a CycloneDX 1.6 SBOM (applications) or ML-BOM (models).

    PATH is a project directory, a venv or site-packages directory, a requirements file,
    pyproject.toml, a lock file (pylock.toml, uv.lock, poetry.lock) or a CycloneDX BOM; without
    PATH, the environment of the running interpreter. The BOM is validated against the
    CycloneDX schema before it is written: an invalid BOM is an error (exit 2).
    Problems met while reading the input are printed as warnings."""
    from scanner import ui
    from scanner.inventory.build import build_inventory
    from scanner.inventory.cyclonedx import to_cyclonedx_json, to_cyclonedx_xml

    plan = plan_outputs(formats, output, SBOM_FORMATS, default="cyclonedx-json")
    if path is None:
        import sys

        from scanner.core import Artifact, ArtifactKind
        from scanner.inventory.environment import environment_digest, inventory_environment

        inventory = inventory_environment(None, verify_files=verify_files)
        prefix = Path(sys.prefix)
        artifact = Artifact(prefix, ArtifactKind.ENVIRONMENT, prefix.name, environment_digest(inventory))
    else:
        from scanner.artifact import detect
        from scanner.core import ArtifactKind
        from scanner.inventory.build import looks_like_env

        kind = None
        if input_type != "auto":
            if not path.is_dir():
                kind = ArtifactKind(input_type)
            elif input_type == "environment" and looks_like_env(path):
                kind = ArtifactKind.ENVIRONMENT
            else:
                kind = ArtifactKind.APP_DIR
        if kind in (None, ArtifactKind.ENVIRONMENT) and path.is_dir() and looks_like_env(path):
            # An environment's identity is the digest of its distributions' file summaries:
            # hashing the whole tree again (as detect() does) would double the work.
            import dataclasses

            from scanner.core import Artifact
            from scanner.inventory.environment import environment_digest

            pending = Artifact(path, ArtifactKind.ENVIRONMENT, path.resolve().name, "")
            inventory = build_inventory(pending, verify_files=verify_files)
            artifact = dataclasses.replace(pending, digest=environment_digest(inventory))
        else:
            artifact = detect(path, kind)
            inventory = build_inventory(artifact, input_type, verify_files=verify_files)
    if merges:
        from scanner.inventory.ingest import inventory_sbom, merge

        for extra in merges:
            inventory = merge(inventory, inventory_sbom(extra))
    for finding in inventory.findings:
        ui.warn(f"{finding.id} {finding.subject}: {finding.message}")

    def render(fmt: str) -> str:
        if fmt == "spdx-json":
            from scanner.inventory.spdx3 import to_spdx3_json

            return to_spdx3_json(inventory, artifact)
        if fmt == "cyclonedx-xml":
            return to_cyclonedx_xml(inventory, artifact, reproducible=reproducible)
        return to_cyclonedx_json(inventory, artifact, reproducible=reproducible)

    write_outputs(plan, render)
    return 0
