"""The evidence the quality rules read: verified attestations by predicate type, the model's
metrics (signed or not, and from where), and the baseline — the metrics of the model the target
stage holds now.

``gather`` runs once per gate, after the checks: it verifies the attestations given with
``--attestation`` (and any handed over as bytes, e.g. discovered in a registry), collects the
metrics, finds the baseline, and returns a ``QualityEvidence`` whose ``result`` joins the
check results (its findings are waivable like any other) and whose ``policy_sections()`` become
the policy input's ``attestations``, ``metrics`` and ``baseline``.

Options: ``scanner.verify.attestation.AttestationOptions`` (files, trusted keys, model name,
documents as bytes, the ledger to find the baseline in, or a baseline found by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scanner.check import AttachedInput, CheckResult, InputFile
from scanner.core import Finding, Severity
from scanner.evidence.baseline import Baseline, ledger_baseline
from scanner.evidence.predicates import Metric, is_cyclonedx, number_text, performance_metric

if TYPE_CHECKING:
    from scanner.core import Artifact
    from scanner.files import FileSet
    from scanner.inventory.model import Inventory
    from scanner.registry.discover import AttachedDocument
    from scanner.verify.api import Options as VerifyApiOptions
    from scanner.verify.attestation import Attestation, AttestationOptions
    from scanner.verify.documents import DocumentReader

SIGNED = "attestation"
CARD = "model-card"


@dataclass
class QualityEvidence:
    model: str
    attestations: list[Attestation]
    metrics: dict[str, dict[str, Any]]
    baseline: Baseline

    @property
    def result(self) -> CheckResult:
        """The attestation check's result: one finding per attestation that did not count; its
        inputs are the documents evaluated (``Attestation.document``: the bytes read, each once)."""
        findings = [_finding(a) for a in self.attestations if not a.counted]
        counted = sum(a.counted for a in self.attestations)
        read = list(dict.fromkeys(a.document for a in self.attestations if a.document is not None))
        read += [d for d in self.baseline.read if d not in read]  # the stage tag's VSAs (promote)
        return CheckResult(
            check="attestation",
            findings=findings,
            data=[a.to_entry() for a in self.attestations],
            section="attestations",
            summary={"attestations": len(self.attestations), "counted": counted, "not_counted": len(findings)},
            inputs=tuple(d for d in read if isinstance(d, InputFile)),
            attached=tuple(d for d in read if isinstance(d, AttachedInput)),
        )

    def policy_sections(self) -> dict[str, Any]:
        """``attestations`` (counted ones, by predicate type), ``metrics`` and ``baseline``."""
        by_type: dict[str, list[dict[str, Any]]] = {}
        for a in self.attestations:
            if a.counted and a.predicate_type:
                by_type.setdefault(a.predicate_type, []).append(a.to_entry())
        return {"attestations": by_type, "metrics": self.metrics, "baseline": self.baseline.to_dict()}

    def record(self, stage: str, policy_data: Mapping[str, Any]) -> dict[str, Any]:
        """The evidence record's ``quality`` section: what reports show (metrics against the
        stage's bounds and the baseline, every attestation and whether it counted) and what a
        later gate reads back as its baseline."""
        bounds = stage_quality(policy_data, stage)
        return {
            "model": self.model,
            "metrics": self.metrics,
            "bounds": bounds,
            "baseline": self.baseline.to_dict(),
            "attestations": [a.to_entry() for a in self.attestations],
            "comparison": compare(self.metrics, bounds, self.baseline),
        }


def stage_quality(policy_data: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The stage's quality and evidence settings, every key present (for reports)."""
    conf = _get(policy_data, "scanner", "config", "stages", stage)
    conf = conf if isinstance(conf, Mapping) else {}
    quality = conf.get("quality")
    q: Mapping[str, Any] = quality if isinstance(quality, Mapping) else {}
    return {
        "min": dict(q.get("min") or {}),
        "max": dict(q.get("max") or {}),
        "no_regression": list(q.get("no_regression") or []),
        "signed_only": q.get("signed_only") is True,
        "lower_is_better": list(q.get("lower_is_better") or []),
        "regression_tolerance": dict(q.get("regression_tolerance") or {}),
        "evidence_required": list(conf.get("evidence_required") or []),
        "previous_stage_required": conf.get("previous_stage_required") is True,
    }


def compare(metrics: Mapping[str, Mapping[str, Any]], bounds: Mapping[str, Any], baseline: Baseline) -> list[dict]:
    """One row per metric that has a bound, a regression check, or a baseline value: value,
    bound(s), baseline, delta (value - baseline) and ``status`` — ``ok``, ``missing``,
    ``unsigned`` (the stage takes only signed metrics), ``below-min``, ``above-max``,
    ``regressed`` or ``unchecked`` (no bound or regression check names it). For the reports:
    the policy (``policies/quality.rego``) decides; this mirrors it."""
    names = [*bounds["min"], *bounds["max"], *bounds["no_regression"]]
    rows = []
    for name in dict.fromkeys([*names, *(n for n in metrics if n in baseline.metrics)]):
        entry = metrics.get(name)
        value: float | None = entry["value"] if entry else None
        lo, hi = _number(bounds["min"].get(name)), _number(bounds["max"].get(name))
        base = baseline.metrics.get(name)
        lower_better = name in bounds["lower_is_better"] or (hi is not None and lo is None)
        tolerance = _number(bounds["regression_tolerance"].get(name)) or 0.0
        if name not in names:
            status = "unchecked"  # shown for its baseline delta; no bound or regression check
        elif value is None or entry is None:
            status = "missing"
        elif not entry["signed"] and bounds["signed_only"]:
            status = "unsigned"
        elif lo is not None and value < lo:
            status = "below-min"
        elif hi is not None and value > hi:
            status = "above-max"
        elif (
            name in bounds["no_regression"]
            and base is not None
            and (value > base + tolerance if lower_better else value < base - tolerance)
        ):
            status = "regressed"
        else:
            status = "ok"
        rows.append(
            {
                "metric": name,
                "value": value,
                "source": entry["source"] if entry else None,
                "signed": entry["signed"] if entry else None,
                "min": lo,
                "max": hi,
                "baseline": base,
                "delta": None if value is None or base is None else round(value - base, 10),
                "lower_is_better": lower_better,
                "status": status,
            }
        )
    return rows


def gather(
    artifact: Artifact,
    inventory: Inventory | None,
    stage: str,
    options: AttestationOptions,
    verify: VerifyApiOptions,
    files: FileSet | None = None,
    reader: DocumentReader | None = None,
) -> QualityEvidence:
    """Verify the attestations (files, then documents held as bytes), collect the metrics and
    find the baseline. ``verify`` gives the keyless identity rules and the trusted root;
    ``files`` is the run's FileSet (a directory's file digests, without reading it again);
    ``reader`` the run's reader of signature files (an attestation file is read through it:
    once, and as the same bytes as a check that read it)."""
    from scanner.verify.attestation import AttestationTrust, SubjectIdentity, check_documents

    trust = AttestationTrust.of(options.keys, verify, options.signing_key)
    attestations = (
        check_documents(
            options.documents,
            options.files,
            subject=SubjectIdentity.of_artifact(artifact, files),
            trust=trust,
            reader=reader,
        )
        if options.files or options.documents
        else []
    )
    model = options.model_name or artifact.name
    metrics = collect_metrics(inventory, attestations)
    baseline = options.baseline
    if baseline is None:
        baseline = ledger_baseline(options.ledger, stage, model) if options.ledger else Baseline(found=False)
    return QualityEvidence(model, attestations, metrics, baseline)


def attached_documents(pulled: Any) -> tuple[AttachedDocument, ...]:
    """Registry mode: the attestations attached to the digest (in-toto/DSSE referrers, the
    gate's VSAs of earlier promotions, and Sigstore bundles that carry a DSSE statement), as
    fetched (``scanner.registry.discover.AttachedDocument``: the bytes checked against their
    layer digest, never read again) for ``AttestationOptions.documents``. ``pulled`` is a
    ``scanner.registry.source.PulledArtifact``; a signature over the manifest is not a statement."""
    out = []
    for attached in pulled.attached:
        if attached.kind not in ("attestation", "vsa", "signature"):
            continue
        for document in attached.documents:
            if attached.kind == "signature" and b'"dsseEnvelope"' not in document.raw:
                continue
            out.append(document)
    return tuple(out)


def collect_metrics(inventory: Inventory | None, attestations: Sequence[Attestation]) -> dict[str, dict[str, Any]]:
    """Metric name → ``{value, source, signed, signer, where, slice, confidence_interval}``.

    Signed metrics (CycloneDX predicates of counted attestations) come first; the model card's
    (``model-index`` / the ML-BOM's modelCard) only fill names no signed attestation gave. A
    name is the metric type, ``type@slice`` for a sliced one; a type measured on exactly one
    slice and never without one is also reachable by its bare type."""
    out: dict[str, dict[str, Any]] = {}
    for a in attestations:
        if a.counted and a.predicate_type and is_cyclonedx(a.predicate_type):
            metrics = [m for m in (performance_metric(m) for m in _summary_metrics(a)) if m is not None]
            _add(out, metrics, source=SIGNED, signed=True, signer=a.signer, where=a.source)
    card: list[Metric] = []
    for extras in inventory.cyclonedx_extras.values() if inventory else []:
        qa = _get(extras, "modelCard", "quantitativeAnalysis")
        for entry in qa.get("performanceMetrics") or [] if isinstance(qa, Mapping) else []:
            metric = performance_metric(entry)
            if metric is not None:
                card.append(metric)
    _add(out, card, source=CARD, signed=False, signer=None, where="model card")
    return out


def _summary_metrics(a: Attestation) -> list[dict[str, Any]]:
    """The summary's metrics back in CycloneDX shape for ``performance_metric``."""
    out = []
    for m in a.summary.get("metrics") or []:
        ci = m.get("confidence_interval") or {}
        out.append(
            {
                "type": m["type"],
                "value": m["value"],
                "slice": m.get("slice"),
                "confidenceInterval": {"lowerBound": ci.get("lower"), "upperBound": ci.get("upper")},
            }
        )
    return out


def _add(
    out: dict[str, dict[str, Any]],
    metrics: Sequence[Metric],
    *,
    source: str,
    signed: bool,
    signer: str | None,
    where: str,
) -> None:
    added: dict[str, dict[str, Any]] = {}
    for m in metrics:
        if m.name in out or m.name in added:
            continue  # an earlier (signed, or first-given) value wins
        added[m.name] = {
            "value": m.value,
            "text": number_text(m.value),
            "source": source,
            "signed": signed,
            "signer": signer,
            "where": where,
            **{k: v for k, v in m.to_dict().items() if k in ("slice", "confidence_interval")},
        }
    sliced: dict[str, list[str]] = {}
    for m in metrics:
        sliced.setdefault(m.type, []).append(m.name)
    out.update(added)
    for kind, names in sliced.items():
        if kind not in out and len(names) == 1 and names[0] in added:
            out[kind] = added[names[0]]


_FIX = {
    "ATTESTATION-UNTRUSTED": "sign it with a key given to --attestation-key, or a keyless identity the gate trusts",
    "ATTESTATION-SUBJECT-MISMATCH": "attest this artifact's digest (scanner attest PATH ... computes it)",
    "ATTESTATION-INVALID": "give an in-toto Statement v1 in a DSSE envelope or a Sigstore bundle",
}


def _finding(a: Attestation) -> Finding:
    problem = a.problem or "ATTESTATION-INVALID"
    return Finding(
        id=problem,
        check="attestation",
        severity=Severity.MEDIUM,
        subject=a.source,
        message=f"attestation {a.source} does not count: {a.reason}",
        evidence={
            "bundle": a.source,
            "predicate_type": a.predicate_type,
            "signer": a.signer,
            "reason": a.reason,
        },
        fix=_FIX.get(problem),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return {}
        d = d.get(k)
    return d if d is not None else {}
