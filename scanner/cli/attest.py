"""``scanner attest``: sign a statement (test result, evaluation metrics, any predicate) about
an artifact's digest."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli.options import common_options


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
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="Where to write the signed attestation (- for stdout)."
)
@click.option("--attach", is_flag=True, help="With an oci:// PATH: attach the attestation to the digest as a referrer.")
@common_options
def attest(path: str, ptype: str, predicate: Path, sign_key: Path | None, output: str, attach: bool) -> int:
    """Write a signed in-toto statement about PATH's digest (the digest the gate computes).

    \b
    Example: an evaluation job signs its metrics, the gate counts them with --attestation.
      scanner attest model/ --predicate-type cyclonedx --predicate eval.cdx.json \\
          --sign-key eval.key -o model.eval.dsse.json

    Exit 0 when written, 2 when it could not be (bad predicate, key, or path).
    """
    from scanner import ui
    from scanner.pipeline import identify
    from scanner.core import ScanError
    from scanner.evidence.attest import build_statement, predicate_type, read_predicate, sign_statement

    if path.startswith("oci://") or attach:
        raise ScanError("attesting an artifact in a registry (oci:// with --attach) is not available yet", path)
    kind = predicate_type(ptype)
    body = read_predicate(predicate)
    artifact = identify(path)  # the identity every command gives PATH
    text, how = sign_statement(build_statement(artifact, kind, body), sign_key)
    if output == "-":
        sys.stdout.write(text + "\n")
    else:
        out = Path(output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ScanError(f"cannot write attestation: {exc.strerror or exc}", out) from None
    ui.info(f"attested {artifact.name} {artifact.digest} ({kind}) to {output} ({how})")
    return 0
