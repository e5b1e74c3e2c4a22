"""``scanner status``: the stage board of a registry repository."""

from __future__ import annotations

import json

import click

from scanner.cli.options import common_options, output_options, plan_outputs, write_outputs
from scanner.cli.registry_options import from_context, registry_options

FORMATS = ["table", "json"]


@click.command()
@click.argument("repository", metavar="oci://REGISTRY/REPO")
@registry_options
@output_options(FORMATS, fail_on=False)
@common_options
def status(repository: str, formats: tuple[str, ...], output: str | None) -> int:
    """The stage board of REPOSITORY: for every tag, the digest, and from the signed verification
    summaries attached to it the stage, decision, time and who promoted it; and what else is
    attached (signatures, attestations, SBOMs, evidence records)."""
    from scanner.registry.client import Client
    from scanner.registry.reference import parse_reference
    from scanner.registry.status import board, render_table

    ref = parse_reference(repository)
    plan = plan_outputs(formats, output, FORMATS)
    rows = board(Client(ref.registry, from_context()), ref.repository)

    def render(fmt: str) -> str:
        if fmt == "json":
            doc = {"repository": ref.name, "tags": [r.to_dict() for r in rows]}
            return json.dumps(doc, indent=2) + "\n"
        return render_table(ref.name, rows)

    write_outputs(plan, render)
    return 0
