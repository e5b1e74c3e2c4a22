"""The baseline: the metrics of the model the target stage holds now, which ``no_regression``
compares with.

- Local gates (``ledger_baseline``): the last decision in the ledger that ALLOWED a model with
  the same identity (``--model-name``, default the artifact's name) to that stage; its evidence
  record's ``quality.metrics``. The hash chain is verified first: a broken ledger gives no
  baseline but an error, and the regression rule refuses rather than compare with nothing.
- Registry (``vsa_baseline``): the gate's signed VSA attached to the digest the stage tag points
  at; the VSA records the metrics it admitted (``predicate.scanner.metrics``). The registry code
  resolves the tag, fetches the VSA referrers' bytes and passes them here; the VSA counts only
  when signed by a trusted key about exactly that digest, PASSED, for that stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.evidence.predicates import VSA, number_text

if TYPE_CHECKING:
    from scanner.check import AttachedInput
    from scanner.registry.discover import AttachedDocument
    from scanner.verify.attestation import AttestationTrust


@dataclass(frozen=True)
class Baseline:
    """What the target stage holds now. ``found`` is false for a first promotion; ``error``
    says why the baseline could not be established (the regression rule then denies).
    ``read``: the registry documents (VSA layers) evaluated to find it, named by digest for the
    evidence record (not part of ``to_dict``, which the policy reads)."""

    found: bool
    source: str | None = None  # "ledger" or "registry"
    stage: str | None = None
    model: str | None = None
    digest: str | None = None
    where: str | None = None  # ledger path and entry, or the VSA's reference
    recorded_at: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    read: tuple[AttachedInput, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "source": self.source,
            "stage": self.stage,
            "model": self.model,
            "digest": self.digest,
            "where": self.where,
            "recorded_at": self.recorded_at,
            "metrics": dict(self.metrics),
            "text": {name: number_text(v) for name, v in self.metrics.items()},
            "error": self.error,
        }


def ledger_baseline(path: Path, stage: str, model: str) -> Baseline:
    """The last decision in the ledger that ALLOWED a model with this identity to ``stage``:
    its recorded metrics. The chain is verified first; a broken ledger is no baseline (error)."""
    from scanner.errors import ScanError
    from scanner.evidence.ledger import Ledger

    if not path.is_file():
        return Baseline(found=False, source="ledger", stage=stage, model=model)
    try:
        with Ledger(path, create=False) as ledger:
            check = ledger.verify()
            if not check.ok:
                return Baseline(
                    found=False,
                    source="ledger",
                    stage=stage,
                    model=model,
                    where=str(path),
                    error=f"the ledger {path} fails verification ({check.problems[0]}): no trustworthy baseline",
                )
            for entry in ledger.allowed_to(stage):
                quality = entry.record.get("quality")
                if not isinstance(quality, Mapping) or quality.get("model") != model:
                    continue
                values = {
                    name: m["value"]
                    for name, m in (quality.get("metrics") or {}).items()
                    if isinstance(m, Mapping) and isinstance(m.get("value"), (int, float))
                }
                return Baseline(
                    found=True,
                    source="ledger",
                    stage=stage,
                    model=model,
                    digest=entry.artifact_digest,
                    where=f"{path}#{entry.seq}",
                    recorded_at=entry.recorded_at,
                    metrics=values,
                )
    except ScanError as exc:
        return Baseline(found=False, source="ledger", stage=stage, model=model, where=str(path), error=str(exc))
    return Baseline(found=False, source="ledger", stage=stage, model=model)


def vsa_baseline(
    documents: Sequence[AttachedDocument],
    *,
    stage: str,
    stage_digest: str,
    trust: AttestationTrust,
    model: str | None = None,
) -> Baseline:
    """Registry mode: the baseline from the VSA referrers of the digest the stage tag points
    at. ``documents`` are those referrers' layers as fetched (``registry.discover``: the bytes
    checked against their digest; each evaluated is named in ``Baseline.read``); the first VSA that counts
    (signed by a trusted signer, about ``stage_digest``), PASSED and admitting to ``stage``
    gives the metrics. When the tag points at nothing, call nothing: the baseline is
    ``Baseline(found=False)``. When it points at a digest without such a VSA, the result carries
    an ``error`` (the regression rule then refuses rather than compare with nothing)."""
    from scanner.verify.attestation import SubjectIdentity, verify_attestation_bytes

    subject = SubjectIdentity(digest=stage_digest, name=stage)
    reasons = []
    read: list[AttachedInput] = []
    for document in documents:
        source = document.source
        read.append(document.input)
        for a in verify_attestation_bytes(document.raw, source=source, subject=subject, trust=trust):
            if a.predicate_type != VSA:
                continue
            if not a.counted:
                reasons.append(f"{source}: {a.reason}")
            elif a.result != "PASSED" or a.summary.get("stage") != stage:
                reasons.append(f"{source}: {a.result} for stage {a.summary.get('stage')}")
            elif model is not None and a.summary.get("model") not in (None, model):
                reasons.append(f"{source}: about model {a.summary.get('model')}, not {model}")
            else:
                values = {m["type"]: m["value"] for m in a.summary.get("metrics") or []}
                return Baseline(
                    found=True,
                    source="registry",
                    stage=stage,
                    model=model or a.summary.get("model"),
                    digest=stage_digest,
                    where=source,
                    recorded_at=a.summary.get("time_verified"),
                    metrics=values,
                    read=tuple(read),
                )
    why = "; ".join(reasons) if reasons else "no verification summary attached"
    return Baseline(
        found=False,
        source="registry",
        stage=stage,
        model=model,
        digest=stage_digest,
        error=f"the {stage} tag's digest {stage_digest[:19]}… has no usable verification summary ({why})",
        read=tuple(read),
    )
