"""``scanner verify``: check an artifact's signatures (and provenance) offline. Also the gate's
signature/provenance/attestation options (``gate_options``, ``verify_options``, ``emit_attestation``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scanner.cli.options import common_options, output_options, plan_outputs, write_outputs
from scanner.cli.registry_options import from_context, registry_options

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


def emit_attestation(outcome: Outcome, values: Mapping[str, Any]) -> Any:
    """After the decision: the signed VSA written in full beside ``--attestation-output``, not yet
    in place (``scanner.atomic.Staged``: ``commit`` or ``discard``); None without the option."""
    if not values.get("attestation_output"):
        return None
    from scanner.atomic import stage
    from scanner.evidence.vsa import signed_vsa

    out = values["attestation_output"]
    assert outcome.policy_dir is not None
    text, how = signed_vsa(
        outcome, policy_dir=outcome.policy_dir, policy_data=outcome.policy_data, sign_key=values.get("sign_key")
    )
    return stage(out, [text], "attestation", done=f"wrote verification summary to {out} ({how})")


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
@registry_options
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
    # Only the options' identities and builders count (no policy data): ``verify`` answers
    # whether the signatures hold, not what the policy makes of them.
    options = GateOptions(verify=verify_options({**flags, "bundle": bundle}), policy_data={}, registry=from_context())
    outcome = pipeline.run(source, pipeline.VERIFY, options)
    doc = _report(outcome, options.verify)
    write_outputs(plan, lambda fmt: json.dumps(doc, indent=2) + "\n" if fmt == "json" else _table(doc))
    return 0 if doc["verified"] else 1


def _report(outcome: Outcome, options: VerifyOptions) -> dict[str, Any]:
    """The signature and provenance checks' results as ``verify`` shows them. Without
    ``--builder-id``/``--source-*`` the provenance in verified signatures is shown, not judged."""
    from scanner.core import ScanError

    by_check = {r.check: r for r in outcome.results}
    signatures: list[dict[str, Any]] = by_check["signature"].data or []
    artifact = outcome.artifact.show(outcome.artifact.path)
    source_ref = outcome.artifact.source_ref or ""
    if not by_check["signature"].summary.get("bundles"):
        if source_ref.startswith("oci://"):
            raise ScanError("no signature found (looked at the referrers of the digest); give --bundle", source_ref)
        raise ScanError(
            "no signature found (looked for ARTIFACT.sigstore.json and ARTIFACT.sigstore, "
            "model.sig in a model directory); give --bundle",
            artifact,
        )
    judged: list[dict[str, Any]] = by_check["provenance"].data or []
    check_provenance = bool(options.builder_ids or options.source_repo or options.source_ref)
    if check_provenance:
        provenance = judged or [
            {"verified": False, "bundle": None, "error": "no signed statement to check provenance in"}
        ]
    else:
        from scanner.verify.provenance import PREDICATE_TYPES

        verified = {s["bundle"] for s in signatures if s["verified"]}
        shown = ("builder_id", "build_type", "source", "materials")
        provenance = [
            {"verified": None, "bundle": p["bundle"], **{k: p[k] for k in shown}}
            for p in judged
            if p["bundle"] in verified and p.get("predicate_type") in PREDICATE_TYPES
        ]
    ok = all(s["verified"] for s in signatures) and all(p["verified"] is not False for p in provenance)
    return {
        "artifact": source_ref if source_ref.startswith("oci://") else artifact,
        "digest": outcome.artifact.digest,
        "verified": ok,
        "signatures": signatures,
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
