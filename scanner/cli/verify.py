"""``scanner verify``: check an artifact's signatures (and provenance) offline. Also the gate's
signature/provenance/attestation options (``gate_options``, ``verify_options``, ``emit_attestation``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scanner.cli.options import common_options, output_options, plan_outputs, write_outputs

if TYPE_CHECKING:
    from scanner.options import VerifyOptions
    from scanner.pipeline import Outcome

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ["table", "json"]

_FILE = click.Path(dir_okay=False, path_type=Path)


def _identity_options(func: F) -> F:
    for decl, kwargs in reversed(
        [
            ("--cert-identity", {"metavar": "ID", "help": "Signer identity (certificate SAN), exact."}),
            ("--cert-identity-regexp", {"metavar": "RE", "help": "Signer identity as a regular expression."}),
            ("--cert-oidc-issuer", {"metavar": "URL", "help": "OIDC issuer of the signer's certificate."}),
            ("--trusted-root", {"type": _FILE, "help": "Sigstore trusted_root.json (default: pinned copy)."}),
            ("--staging", {"is_flag": True, "help": "Use the Sigstore staging instance's pinned root."}),
            ("--key", {"type": _FILE, "metavar": "PUB", "help": "Verify with this public key (managed key)."}),
        ]
    ):
        func = click.option(decl, **kwargs)(func)  # type: ignore[arg-type]
    return func


def gate_options(func: F) -> F:
    """The gate's signature, provenance and attestation options (values go to ``verify_options``)."""
    for decl, kwargs in reversed(
        [
            ("--bundle", {"type": _FILE, "multiple": True, "help": "Signature bundle (default: found beside)."}),
            ("--provenance", {"type": _FILE, "multiple": True, "help": "Provenance document (default: found beside)."}),
            ("--builder-id", {"multiple": True, "help": "Trusted builder id (default: policy data)."}),
            ("--source-repo", {"help": "Expected source repository of the provenance."}),
            ("--source-ref", {"help": "Expected source ref of the provenance."}),
            ("--sign-key", {"type": _FILE, "help": "Sign the gate's verification summary with this PEM key."}),
            ("--attestation-output", {"type": _FILE, "help": "Write a signed SLSA verification summary here."}),
        ]
    ):
        func = click.option(decl, **kwargs)(func)  # type: ignore[arg-type]
    return _identity_options(func)


def verify_options(flags: Mapping[str, Any]) -> VerifyOptions:
    """The typed verification options from the gate's or verify's flags."""
    from scanner.options import VerifyOptions

    return VerifyOptions(
        bundles=tuple(flags.get("bundle") or ()),
        provenance=tuple(flags.get("provenance") or ()),
        key=flags.get("key"),
        cert_chain=tuple(flags.get("cert_chain") or ()),
        cert_identity=flags.get("cert_identity"),
        cert_identity_regexp=flags.get("cert_identity_regexp"),
        cert_oidc_issuer=flags.get("cert_oidc_issuer"),
        github_repository=flags.get("github_repository"),
        github_ref=flags.get("github_ref"),
        github_trigger=flags.get("github_trigger"),
        github_sha=flags.get("github_sha"),
        trusted_root=flags.get("trusted_root"),
        staging=bool(flags.get("staging")),
        builder_ids=tuple(flags.get("builder_id") or ()),
        source_repo=flags.get("source_repo"),
        source_ref=flags.get("source_ref"),
    )


def emit_attestation(outcome: Outcome, values: Mapping[str, Any]) -> None:
    """After the decision: write the signed VSA when ``--attestation-output`` was given."""
    if not values.get("attestation_output"):
        return
    from scanner import ui
    from scanner.evidence.vsa import write_vsa

    out = values["attestation_output"]
    assert outcome.policy_dir is not None
    how = write_vsa(
        outcome, out, policy_dir=outcome.policy_dir, policy_data=outcome.policy_data, sign_key=values.get("sign_key")
    )
    ui.info(f"wrote verification summary to {out} ({how})")


@click.command()
@click.argument("source")
@click.option(
    "--bundle", type=_FILE, multiple=True, help="Signature file (default: ARTIFACT.sigstore.json, .sigstore)."
)
@_identity_options
@click.option("--github-repository", metavar="OWNER/REPO", help="GitHub Actions: the workflow's repository.")
@click.option("--github-ref", metavar="REF", help="GitHub Actions: the git ref the workflow ran on.")
@click.option("--github-trigger", metavar="EVENT", help="GitHub Actions: the triggering event (push, release...).")
@click.option("--github-sha", metavar="SHA", help="GitHub Actions: the commit the workflow ran on.")
@click.option("--cert-chain", type=_FILE, multiple=True, help="CA certificates for a certificate-signed model.")
@click.option("--builder-id", multiple=True, help="Provenance: trusted builder id (repeatable).")
@click.option("--source-repo", help="Provenance: expected source repository.")
@click.option("--source-ref", help="Provenance: expected source ref.")
@output_options(FORMATS, fail_on=False)
@common_options
def verify(source: str, bundle: tuple[Path, ...], formats: tuple[str, ...], output: str | None, **flags: Any) -> int:
    """Verify ARTIFACT's signatures offline: Sigstore bundles, OpenSSF model signatures (for a
    model directory), key-signed DSSE envelopes, and SLSA provenance inside them.

    \b
    Exit 0 when every signature verifies (and provenance meets --builder-id/--source-*),
    1 when one does not, 2 when verification could not run (missing file, bad key or root).
    """
    from scanner import pipeline
    from scanner.options import GateOptions

    plan = plan_outputs(formats, output, FORMATS)
    options = GateOptions(verify=verify_options({**flags, "bundle": bundle}))
    with pipeline.opened(source, options) as identified:
        doc = _verify(identified.path, options.verify)
    write_outputs(plan, lambda fmt: json.dumps(doc, indent=2) + "\n" if fmt == "json" else _table(doc))
    return 0 if doc["verified"] else 1


def _verify(artifact: Path, options: VerifyOptions) -> dict[str, Any]:
    """Every signature of the artifact, and the provenance in them. Only the options' identities
    count here (no policy data): ``verify`` answers whether the signatures hold, not the policy."""
    from scanner.core import ScanError
    from scanner.verify.api import Options, discover, verify_artifact
    from scanner.verify.provenance import Expectations, evaluate, is_provenance, summarize

    opts = Options.from_options(options)
    bundle = options.bundles
    bundles = list(bundle) or discover(artifact)
    if not bundles:
        raise ScanError(
            "no signature found (looked for ARTIFACT.sigstore.json and ARTIFACT.sigstore, "
            "model.sig in a model directory); give --bundle",
            artifact,
        )
    results = [r for b in bundles for r in verify_artifact(artifact, b, opts)]
    check_provenance = bool(options.builder_ids or options.source_repo or options.source_ref)
    expect = Expectations.from_options(options)
    provenance: list[dict[str, Any]] = []
    for r in results:
        if check_provenance and r.signature_ok and r.statement is not None:
            provenance.append(evaluate(r, artifact, expect))
        elif r.verified and is_provenance(r.statement):
            assert r.statement is not None
            provenance.append({"verified": None, "bundle": r.bundle, **summarize(r.statement)})
    if check_provenance and not provenance:
        provenance.append({"verified": False, "bundle": None, "error": "no signed statement to check provenance in"})
    ok = all(r.verified for r in results) and all(p["verified"] is not False for p in provenance)
    return {
        "artifact": str(artifact),
        "verified": ok,
        "signatures": [r.to_entry() for r in results],
        "provenance": provenance,
    }


def _table(doc: dict[str, Any]) -> str:
    lines = []
    for s in doc["signatures"]:
        mark = "OK  " if s["verified"] else "FAIL"
        issuer = f" ({s['issuer']})" if s["issuer"] else ""
        signer = f"signed by {s['identity']}{issuer}" if s["identity"] else "signed with the given key"
        what = signer if s["verified"] else s["error"]
        lines.append(f"{mark}  {s['type']:<15}  {s['bundle']}: {what}")
        for detail in s.get("details") or []:
            lines.append(f"      {detail}")
        if s["predicate_type"]:
            lines.append(f"      statement: {s['predicate_type']}")
    for p in doc["provenance"]:
        mark = {True: "OK  ", False: "FAIL", None: "INFO"}[p["verified"]]
        if p.get("builder_id") is not None or p.get("bundle"):
            src = p.get("source") or {}
            lines.append(
                f"{mark}  provenance       builder {p.get('builder_id')}, build type {p.get('build_type')}, "
                f"source {src.get('repository')}@{src.get('ref')}"
            )
        if p.get("error"):
            lines.append(f"FAIL  provenance       {p['error']}")
    verdict = "verified" if doc["verified"] else "NOT verified"
    lines.append(f"{doc['artifact']}: {verdict}")
    return "\n".join(lines) + "\n"
