"""``scanner attest``: sign a statement (test result, evaluation metrics, any predicate) about
an artifact's digest."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli.options import common_options
from scanner.cli.registry_options import registry_options


@click.command()
@click.argument("path")
@click.option(
    "--predicate-type",
    "ptype",
    required=True,
    metavar="URI",
    help="Predicate type URI (or test-result, cyclonedx, vsa).",
)
@click.option(
    "--predicate",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The predicate: a JSON object (for cyclonedx, a CycloneDX BOM).",
)
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM private key (default: Sigstore keyless with the CI's OIDC credential).",
)
@click.option("-o", "--output", metavar="FILE", help="Where to write the signed attestation (- for stdout).")
@click.option("--attach", is_flag=True, help="With an oci:// PATH: attach the attestation to the digest as a referrer.")
@registry_options
@common_options
def attest(path: str, ptype: str, predicate: Path, sign_key: Path | None, output: str | None, attach: bool) -> int:
    """Write a signed in-toto statement about PATH's digest (the digest the gate computes).

    PATH is a file or directory, or oci://REGISTRY/REPO[:TAG|@DIGEST] (the subject is then the
    manifest digest; --attach stores the attestation beside it, where the gate finds it).

    \b
    Example: an evaluation job signs its metrics, the gate counts them with --attestation.
      scanner attest model/ --predicate-type cyclonedx --predicate eval.cdx.json \\
          --sign-key eval.key -o model.eval.dsse.json

    Exit 0 when written, 2 when it could not be (bad predicate, key, path or registry).
    """
    from scanner import ui
    from scanner.cli.registry_options import from_context
    from scanner.core import ScanError
    from scanner.evidence.attest import (
        attach_to_registry,
        build_statement,
        predicate_type,
        read_predicate,
        registry_subject,
        sign_statement,
    )

    remote = path.startswith("oci://")
    if attach and not remote:
        raise ScanError("--attach needs an oci:// PATH (a local artifact has no registry to attach to)", path)
    if output is None and not attach:
        raise ScanError("say where the attestation goes: -o FILE (or --attach with an oci:// PATH)")
    kind = predicate_type(ptype)
    body = read_predicate(predicate)
    if remote:
        name, digest = registry_subject(path, from_context())
    else:
        from scanner.pipeline import identify

        artifact = identify(path)  # the identity every command gives PATH
        name, digest = artifact.name, artifact.digest
    text, how = sign_statement(build_statement(name, digest, kind, body), sign_key)
    if output == "-":
        sys.stdout.write(text + "\n")
    elif output is not None:
        out = Path(output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ScanError(f"cannot write attestation: {exc.strerror or exc}", out) from None
    if output is not None:
        ui.info(f"attested {name} {digest} ({kind}) to {output} ({how})")
    if attach:
        referrer = attach_to_registry(path, kind, text, sign_key is None, from_context())
        ui.info(f"attested {name}@{digest} ({kind}, {how}): attached as referrer {referrer}")
    return 0
