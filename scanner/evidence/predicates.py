"""What the gate understands inside a verified in-toto statement: a test result, evaluation
metrics in a CycloneDX BOM, and the gate's own SLSA verification summary.

``summarize`` turns a predicate into a small, bounded summary for the policy input: ``result``
(``PASSED``/``FAILED``, or None when the predicate type has no verdict), ``metrics`` (evaluation
metrics with a numeric value), and for a VSA the ``stage`` it admitted the artifact to. A
predicate of a known type that does not have the shape its specification gives raises
``PredicateError``: such an attestation is reported and not counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
CYCLONEDX_BOM = "https://cyclonedx.org/bom"
VSA = "https://slsa.dev/verification_summary/v1"
STAGE_LEVEL_PREFIX = "SCANNER_STAGE_"
MAX_METRICS = 200
MAX_NAMES = 20


class PredicateError(ValueError):
    """The predicate of a known type does not have its specified shape (one readable line)."""


@dataclass(frozen=True)
class Metric:
    """One evaluation metric. ``name`` is how policy data refers to it: the metric type, with
    ``@slice`` appended when the measurement is about a slice of the data."""

    type: str
    value: float
    slice: str | None = None
    lower: float | None = None
    upper: float | None = None

    @property
    def name(self) -> str:
        return f"{self.type}@{self.slice}" if self.slice else self.type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "value": self.value, "slice": self.slice}
        if self.lower is not None or self.upper is not None:
            out["confidence_interval"] = {"lower": self.lower, "upper": self.upper}
        return out


def is_cyclonedx(predicate_type: str) -> bool:
    """``https://cyclonedx.org/bom`` (cosign's name), also with a version suffix (``/v1.6``)."""
    return predicate_type == CYCLONEDX_BOM or predicate_type.startswith(CYCLONEDX_BOM + "/")


def summarize(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The policy-input summary of a verified statement's predicate (see the module docstring)."""
    ptype = str(statement.get("predicateType"))
    predicate = statement.get("predicate")
    if predicate is None:
        predicate = {}
    if not isinstance(predicate, Mapping):
        raise PredicateError("the predicate is not a JSON object")
    if ptype == TEST_RESULT:
        return _test_result(predicate)
    if is_cyclonedx(ptype):
        return {"result": None, "metrics": [m.to_dict() for m in bom_metrics(predicate)]}
    if ptype == VSA:
        return _vsa(predicate)
    return {"result": None, "metrics": []}


def _test_result(predicate: Mapping[str, Any]) -> dict[str, Any]:
    result = predicate.get("result")
    if result not in ("PASSED", "WARNED", "FAILED"):
        raise PredicateError(f"test-result predicate has result {_short(result)} (expected PASSED, WARNED or FAILED)")
    out: dict[str, Any] = {"result": "FAILED" if result == "FAILED" else "PASSED", "metrics": []}
    if result == "WARNED":
        out["warned"] = True
    counts = (("passedTests", "passed_tests"), ("failedTests", "failed_tests"), ("warnedTests", "warned_tests"))
    for key, name in counts:
        tests = predicate.get(key)
        if isinstance(tests, list):
            out[name] = len(tests)
            if key == "failedTests" and tests:
                out["failed_names"] = [str(t)[:200] for t in tests[:MAX_NAMES]]
    url = predicate.get("url")
    if isinstance(url, str):
        out["url"] = url[:500]
    return out


def _vsa(predicate: Mapping[str, Any]) -> dict[str, Any]:
    result = predicate.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise PredicateError(
            f"verification summary has verificationResult {_short(result)} (expected PASSED or FAILED)"
        )
    levels = predicate.get("verifiedLevels")
    levels = [v for v in levels if isinstance(v, str)] if isinstance(levels, list) else []
    stages = [v.removeprefix(STAGE_LEVEL_PREFIX).lower() for v in levels if v.startswith(STAGE_LEVEL_PREFIX)]
    verifier = predicate.get("verifier")
    verifier_id = verifier.get("id") if isinstance(verifier, Mapping) else None
    out: dict[str, Any] = {
        "result": result,
        "metrics": [],
        "stage": stages[0] if stages else None,
        "verifier": verifier_id if isinstance(verifier_id, str) else None,
        "time_verified": predicate.get("timeVerified") if isinstance(predicate.get("timeVerified"), str) else None,
    }
    recorded = predicate.get("scanner")
    if isinstance(recorded, Mapping):
        # what the gate recorded about the model it admitted (``scanner.verify.vsa``): the
        # registry baseline reads the metrics back from here
        values = recorded.get("metrics")
        if isinstance(values, Mapping):
            out["metrics"] = [
                {"type": str(k), "value": v, "slice": None}
                for k, v in list(values.items())[:MAX_METRICS]
                if _finite(v) is not None
            ]
        if isinstance(recorded.get("model"), str):
            out["model"] = recorded["model"]
    return out


def bom_metrics(bom: Mapping[str, Any]) -> list[Metric]:
    """``modelCard.quantitativeAnalysis.performanceMetrics`` of every ``machine-learning-model``
    component (top level and nested) of a CycloneDX BOM; values that are not numbers are left out.
    A document that is not a CycloneDX BOM raises PredicateError."""
    if bom.get("bomFormat") != "CycloneDX":
        raise PredicateError("CycloneDX predicate is not a CycloneDX BOM (bomFormat is not 'CycloneDX')")
    out: list[Metric] = []
    stack = [c for c in _list(bom.get("components"))]
    meta = bom.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("component"), Mapping):
        stack.append(meta["component"])
    seen = 0
    while stack and seen < 10_000:
        seen += 1
        comp = stack.pop(0)
        if not isinstance(comp, Mapping):
            continue
        stack.extend(_list(comp.get("components")))
        if comp.get("type") != "machine-learning-model":
            continue
        card = comp.get("modelCard")
        qa = card.get("quantitativeAnalysis") if isinstance(card, Mapping) else None
        for m in _list(qa.get("performanceMetrics") if isinstance(qa, Mapping) else None):
            metric = performance_metric(m)
            if metric is not None and len(out) < MAX_METRICS:
                out.append(metric)
    return out


def performance_metric(entry: Any) -> Metric | None:
    """One CycloneDX ``performanceMetrics`` entry (``type``, ``value``, ``slice``,
    ``confidenceInterval``) as a Metric, or None without a type or a numeric value."""
    if not isinstance(entry, Mapping):
        return None
    kind, value = entry.get("type"), _finite(entry.get("value"))
    if not isinstance(kind, str) or not kind.strip() or value is None:
        return None
    ci = entry.get("confidenceInterval")
    ci = ci if isinstance(ci, Mapping) else {}
    slice_ = entry.get("slice")
    return Metric(
        type=kind.strip()[:200],
        value=value,
        slice=slice_.strip()[:200] if isinstance(slice_, str) and slice_.strip() else None,
        lower=_finite(ci.get("lowerBound")),
        upper=_finite(ci.get("upperBound")),
    )


def number_text(value: float) -> str:
    """The shortest text that reads back as the same number (``0.81``, not the engine's
    ``0.8100000000000001``): policies print values from this, never format floats themselves."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _finite(value: Any) -> float | None:
    """A finite number from a JSON number or numeric text ("0.91", "91.2%" is not numeric)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
