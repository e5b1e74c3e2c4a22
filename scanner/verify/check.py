"""The gate's signature and provenance checks. Their results fill the policy input's
``signatures`` and ``provenance`` sections; every failed verification is also a finding.

Options: ``GateContext.options.verify`` (``scanner.options.VerifyOptions``); the policy data
names identities and trusted builders when no option does. No signature found means an empty ``signatures`` list: the
policy decides whether that blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.check import Check, CheckResult, GateContext, InputFile
from scanner.core import Finding, Severity
from scanner.verify.result import SignatureResult


class SignatureCheck(Check):
    name = "signature"
    description = "Sigstore bundles, OpenSSF model signatures and key-signed DSSE envelopes, verified offline"

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, verify_artifact
        from scanner.verify.documents import reader_for

        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        path = ctx.artifact.path
        reader = reader_for(ctx)  # each signature file read once in the run, shared with provenance
        bundles = list(ctx.options.verify.bundles) or reader.discover(path)
        results = [r for b in bundles for r in verify_artifact(path, b, opts, ctx.files, reader=reader)]
        for r in results:  # what each was checked against and with, as outputs name them (piped: stdin)
            r.subject = ctx.artifact.show(r.subject)
            r.bundle = ctx.artifact.show(r.bundle) if r.bundle is not None else None
        findings = [_finding(r) for r in results if not r.verified]
        return CheckResult(
            check=self.name,
            findings=findings,
            data=[r.to_entry() for r in results],
            section="signatures",
            summary={"bundles": len(bundles), "verified": sum(r.verified for r in results), "failed": len(findings)},
            inputs=_shown_inputs(ctx, reader.inputs(bundles)),
        )


def _shown_inputs(ctx: GateContext, inputs: tuple[InputFile, ...]) -> tuple[InputFile, ...]:
    """The signature files read, as outputs name them (``Artifact.show``: ``model.sig`` carried in
    a pulled model, not the private folder it was pulled into)."""
    return tuple(replace(i, path=Path(ctx.artifact.show(i.path))) for i in inputs)


def _partial(check: str, subject: str, what: str, error: Any, evidence: dict[str, Any], fix: str) -> Finding:
    """A statement about a directory that leaves files unsigned (``evidence['unsigned']``)."""
    return Finding(
        id=f"{check.upper()}-PARTIAL-COVERAGE",
        check=check,
        severity=Severity.HIGH,
        subject=subject,
        message=f"{what} does not cover the whole directory: {error}",
        evidence=evidence,
        fix=fix,
    )


def _finding(r: SignatureResult) -> Finding:
    if r.unsigned:
        evidence = {"type": r.type, "bundle": r.bundle, "unsigned": r.unsigned, "identity": r.identity}
        fix = "sign the directory as it is now (every file), or remove the files nobody signed"
        return _partial("signature", r.subject, f"signature {r.bundle}", r.error, evidence, fix)
    return Finding(
        id="SIGNATURE-INVALID",
        check="signature",
        severity=Severity.HIGH,
        subject=r.subject,
        message=f"signature {r.bundle} does not verify: {r.error}",
        evidence={"type": r.type, "bundle": r.bundle, "identity": r.identity, "issuer": r.issuer, "error": r.error},
        fix="re-sign the artifact, or check --cert-identity/--cert-oidc-issuer, the key and the trusted root",
    )


class ProvenanceCheck(Check):
    name = "provenance"
    description = "SLSA provenance: signed, about this artifact, from a trusted builder and the expected source"

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, peek_predicate, verify_artifact
        from scanner.verify.bundle import file_documents
        from scanner.verify.documents import reader_for
        from scanner.verify.provenance import PREDICATE_TYPES, Expectations, evaluate
        from scanner.verify.result import VerifyFailure

        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        expect = Expectations.from_options(ctx.options.verify, ctx.policy_data)
        path = ctx.artifact.path
        reader = reader_for(ctx)  # the signature check's reads and discovery, not done again
        explicit = list(ctx.options.verify.provenance)
        candidates = explicit or reader.discover_provenance(path)
        # A signature bundle found beside the artifact counts when it holds SLSA provenance.
        bundles = list(ctx.options.verify.bundles) or reader.discover(path)
        for bundle in bundles:
            if bundle in candidates:
                continue
            try:
                if any(peek_predicate(d) in PREDICATE_TYPES for d in file_documents(reader.read(bundle))):
                    candidates.append(bundle)
            except VerifyFailure:
                continue  # not readable as a signature: the signature check reports it
        entries = []
        for candidate in candidates:
            for result in verify_artifact(path, candidate, opts, ctx.files, reader=reader):
                entry = evaluate(result, path, expect, ctx.files)
                entry["bundle"] = ctx.artifact.show(entry["bundle"]) if entry["bundle"] is not None else None
                entries.append(entry)
        findings = [_provenance_finding(ctx.artifact.show(path), e) for e in entries if not e["verified"]]
        return CheckResult(
            check=self.name,
            findings=findings,
            data=entries,
            section="provenance",
            summary={"statements": len(entries), "verified": sum(e["verified"] for e in entries)},
            inputs=_shown_inputs(ctx, reader.inputs([*candidates, *bundles])),
        )


def _provenance_finding(subject: str, entry: Mapping[str, Any]) -> Finding:
    """``subject``: the artifact as outputs name it (``Artifact.show``)."""
    if entry.get("unsigned"):
        evidence = {"bundle": entry["bundle"], "unsigned": entry["unsigned"], "builder_id": entry["builder_id"]}
        fix = "produce provenance naming every file of the directory (or its directory digest)"
        return _partial("provenance", subject, f"provenance {entry['bundle']}", entry["error"], evidence, fix)
    return Finding(
        id="PROVENANCE-INVALID",
        check="provenance",
        severity=Severity.HIGH,
        subject=subject,
        message=f"provenance {entry['bundle']} is not acceptable: {entry['error']}",
        evidence={
            "bundle": entry["bundle"],
            "builder_id": entry["builder_id"],
            "source": entry["source"],
            "subject_matches": entry["subject_matches"],
            "trusted_builder": entry["trusted_builder"],
            "error": entry["error"],
        },
        fix="rebuild on a trusted builder from the expected source, or update provenance.trusted_builders",
    )
