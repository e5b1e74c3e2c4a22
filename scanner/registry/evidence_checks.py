"""Signatures and provenance found in the registry, checked like the ones found beside a file.

A signature stored as a referrer signs the manifest digest (cosign, notation, oras): it is
verified against the manifest's exact bytes (``PulledArtifact.manifest_file``), whose SHA-256 is
that digest. Results join those of the ordinary checks (explicit ``--bundle``/``--provenance``, or a
model signature inside the tree) under the same check names, so the policy reads one
``signatures`` and one ``provenance`` list and ``signature-required`` can be met from the registry.
Our own verification summaries (earlier stages) are not signatures of the artifact and are left out.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.check import Check, CheckResult, GateContext
from scanner.verify.check import ProvenanceCheck, SignatureCheck, _finding, _provenance_finding

if TYPE_CHECKING:
    from scanner.registry.source import PulledArtifact


class RegistrySignatureCheck(SignatureCheck):
    description = SignatureCheck.description + "; and those attached to the digest in the registry"

    def __init__(self, pulled: PulledArtifact) -> None:
        self.pulled = pulled

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, verify_artifact

        local = super().run(ctx)
        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        results = []
        for bundle in self.pulled.signatures:
            for r in verify_artifact(self.pulled.manifest_file, bundle, opts):
                r.subject = self.pulled.ref
                r.bundle = f"{self.pulled.ref} referrer {bundle.name}"
                results.append(r)
        findings = [*local.findings, *(_finding(r) for r in results if not r.verified)]
        summary = dict(local.summary)
        summary["registry_bundles"] = len(self.pulled.signatures)
        summary["bundles"] = summary.get("bundles", 0) + len(self.pulled.signatures)
        summary["verified"] = summary.get("verified", 0) + sum(r.verified for r in results)
        summary["failed"] = len(findings)
        return replace(local, findings=findings, data=[*local.data, *(r.to_entry() for r in results)], summary=summary)


class RegistryProvenanceCheck(ProvenanceCheck):
    description = ProvenanceCheck.description + "; and provenance attached to the digest in the registry"

    def __init__(self, pulled: PulledArtifact) -> None:
        self.pulled = pulled

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, verify_artifact
        from scanner.verify.provenance import Expectations, evaluate

        local = super().run(ctx)
        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        expect = Expectations.from_options(ctx.options.verify, ctx.policy_data)
        entries = []
        for document in self.pulled.attestations:
            if not _holds_provenance(document):
                continue  # another predicate (an evaluation, a test result): the attestation check's
            for r in verify_artifact(self.pulled.manifest_file, document, opts):
                entry = evaluate(r, self.pulled.manifest_file, expect)
                entry["bundle"] = f"{self.pulled.ref} referrer {document.name}"
                entries.append(entry)
        findings = [
            *local.findings,
            *(_provenance_finding(self.pulled.manifest_file, e) for e in entries if not e["verified"]),
        ]
        summary = dict(local.summary)
        summary["statements"] = summary.get("statements", 0) + len(entries)
        summary["verified"] = summary.get("verified", 0) + sum(bool(e["verified"]) for e in entries)
        return replace(local, findings=findings, data=[*local.data, *entries], summary=summary)


def registry_checks(pulled: PulledArtifact) -> list[Check]:
    """The gate's checks with the two evidence checks extended to the registry."""
    from scanner.checklist import load_checks

    checks: list[Check] = []
    for check in load_checks():
        if check.name == SignatureCheck.name:
            checks.append(RegistrySignatureCheck(pulled))
        elif check.name == ProvenanceCheck.name:
            checks.append(RegistryProvenanceCheck(pulled))
        else:
            checks.append(check)
    return checks


def _holds_provenance(document: Path) -> bool:
    """Whether an attached in-toto document is SLSA provenance (read, not yet trusted); one that
    cannot be read is handed to verification, which reports why."""
    from scanner.verify.api import peek_predicate
    from scanner.verify.bundle import read_documents
    from scanner.verify.provenance import PREDICATE_TYPES
    from scanner.verify.result import VerifyFailure

    try:
        return any(peek_predicate(d) in PREDICATE_TYPES for d in read_documents(document))
    except VerifyFailure:
        return True
