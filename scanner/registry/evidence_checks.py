"""Signatures and provenance found in the registry, checked like the ones found beside a file.

A signature stored as a referrer signs the manifest digest (cosign, notation, oras): it is
verified against the manifest's exact bytes (``PulledArtifact.manifest_file``), whose SHA-256 is
that digest. Each attached layer is verified from the bytes fetched once and checked against its
layer digest (``registry.discover.AttachedDocument``), and every one read is named in
``CheckResult.attached`` (the evidence record's ``inputs.attached_evidence``). Results join
those of the ordinary checks (explicit ``--bundle``/``--provenance``, or a model signature inside
the tree) under the same check names, so the policy reads one
``signatures`` and one ``provenance`` list and ``signature-required`` can be met from the registry.
Our own verification summaries (earlier stages) are not signatures of the artifact and are left out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scanner.check import Check, CheckResult, GateContext
from scanner.verify.check import ProvenanceCheck, SignatureCheck, _finding, _provenance_finding

if TYPE_CHECKING:
    from scanner.registry.discover import AttachedDocument
    from scanner.registry.source import PulledArtifact


class RegistrySignatureCheck(SignatureCheck):
    description = SignatureCheck.description + "; and those attached to the digest in the registry"

    def __init__(self, pulled: PulledArtifact) -> None:
        self.pulled = pulled

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, verify_document

        local = super().run(ctx)
        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        results = []
        for bundle in self.pulled.signatures:
            for r in verify_document(self.pulled.manifest_file, bundle.as_document(), opts):
                r.subject = self.pulled.ref
                r.bundle = _label(self.pulled, bundle)
                results.append(r)
        findings = [*local.findings, *(_finding(r) for r in results if not r.verified)]
        summary = dict(local.summary)
        summary["registry_bundles"] = len(self.pulled.signatures)
        summary["bundles"] = summary.get("bundles", 0) + len(self.pulled.signatures)
        summary["verified"] = summary.get("verified", 0) + sum(r.verified for r in results)
        summary["failed"] = len(findings)
        return replace(
            local,
            findings=findings,
            data=[*local.data, *(r.to_entry() for r in results)],
            summary=summary,
            attached=(*local.attached, *(b.input for b in self.pulled.signatures)),
        )


class RegistryProvenanceCheck(ProvenanceCheck):
    description = ProvenanceCheck.description + "; and provenance attached to the digest in the registry"

    def __init__(self, pulled: PulledArtifact) -> None:
        self.pulled = pulled

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.verify.api import Options, verify_document
        from scanner.verify.provenance import Expectations, evaluate

        local = super().run(ctx)
        opts = Options.from_options(ctx.options.verify, ctx.policy_data)
        expect = Expectations.from_options(ctx.options.verify, ctx.policy_data)
        entries = []
        read = []
        for document in self.pulled.attestations:
            if not _holds_provenance(document):
                continue  # another predicate (an evaluation, a test result): the attestation check's
            read.append(document.input)
            for r in verify_document(self.pulled.manifest_file, document.as_document(), opts):
                entry = evaluate(r, self.pulled.manifest_file, expect)
                entry["bundle"] = _label(self.pulled, document)
                entries.append(entry)
        findings = [
            *local.findings,
            *(_provenance_finding(self.pulled.ref, e) for e in entries if not e["verified"]),  # about the digest
        ]
        summary = dict(local.summary)
        summary["statements"] = summary.get("statements", 0) + len(entries)
        summary["verified"] = summary.get("verified", 0) + sum(bool(e["verified"]) for e in entries)
        return replace(
            local, findings=findings, data=[*local.data, *entries], summary=summary, attached=(*local.attached, *read)
        )


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


def _label(pulled: PulledArtifact, document: AttachedDocument) -> str:
    """How results name an attached document: the artifact and the referrer it came from."""
    return f"{pulled.ref} referrer {document.input.referrer}"


def _holds_provenance(document: AttachedDocument) -> bool:
    """Whether an attached in-toto document is SLSA provenance (its bytes as fetched, not yet
    trusted); one that cannot be parsed is handed to verification, which reports why."""
    from scanner.verify.api import peek_predicate
    from scanner.verify.bundle import file_documents
    from scanner.verify.provenance import PREDICATE_TYPES
    from scanner.verify.result import VerifyFailure

    try:
        return any(peek_predicate(d) in PREDICATE_TYPES for d in file_documents(document.as_document()))
    except VerifyFailure:
        return True
