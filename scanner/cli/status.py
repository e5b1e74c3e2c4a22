"""``scanner status``: the stage board of a registry repository."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.options import common_options, output_options, plan_outputs, write_outputs
from scanner.cli.registry_options import from_context, registry_options

FORMATS = ["table", "json"]


@click.command()
@click.argument("repository", metavar="oci://REGISTRY/REPO")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify each verification summary's signature with this public key (PEM).",
)
@registry_options
@output_options(FORMATS, fail_on=False)
@common_options
def status(repository: str, key: Path | None, formats: tuple[str, ...], output: str | None) -> int:
    """The stage board of REPOSITORY: for every tag, the digest, and from the signed verification
    summaries attached to it the stage, decision, time and who promoted it; and what else is
    attached (signatures, attestations, SBOMs, evidence records). BY comes from the summary's
    referrer annotation; with --key the summary's signature is verified (SIGNER says whether it held)."""
    from scanner.registry.client import Client
    from scanner.registry.reference import parse_reference
    from scanner.registry.status import board, render_table

    ref = parse_reference(repository)
    plan = plan_outputs(formats, output, FORMATS)
    public_key = None
    if key is not None:
        from scanner.verify.keyed import load_public_key

        public_key = load_public_key(key)
    rows = board(Client(ref.registry, from_context()), ref.repository, public_key)

    def render(fmt: str) -> str:
        if fmt == "json":
            doc = {"repository": ref.name, "tags": [r.to_dict() for r in rows]}
            return json.dumps(doc, indent=2) + "\n"
        return render_table(ref.name, rows)

    write_outputs(plan, render)
    return 0
