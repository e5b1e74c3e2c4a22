"""The quality part of a report, shared by the table, Markdown and HTML writers: each metric
against its bounds and the baseline (with the delta), and every attestation by predicate type,
signer and whether it counted. A pure function of the evidence record's ``quality`` section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATUS_TEXT = {
    "ok": "ok",
    "missing": "missing",
    "unsigned": "unsigned (stage takes signed only)",
    "below-min": "below min",
    "above-max": "above max",
    "regressed": "regressed",
    "unchecked": "not checked",
}


def quality_view(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{model, metrics: [row], attestations: [row], baseline}`` or None when the record has
    no quality section worth showing (no metric compared and no attestation given)."""
    q = record.get("quality")
    if not isinstance(q, Mapping):
        return None
    rows = [_metric_row(r) for r in q.get("comparison") or []]
    atts = [_attestation_row(a) for a in q.get("attestations") or []]
    if not rows and not atts:
        return None
    base = q.get("baseline") or {}
    return {"model": q.get("model"), "metrics": rows, "attestations": atts, "baseline": _baseline_text(base)}


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _metric_row(r: Mapping[str, Any]) -> dict[str, Any]:
    bounds = []
    if r.get("min") is not None:
        bounds.append(f"≥ {number(r['min'])}")
    if r.get("max") is not None:
        bounds.append(f"≤ {number(r['max'])}")
    delta = r.get("delta")
    return {
        "metric": r["metric"],
        "value": number(r.get("value")),
        "source": "signed" if r.get("signed") else (r.get("source") or "—"),
        "bounds": ", ".join(bounds) or "—",
        "baseline": number(r.get("baseline")),
        "delta": "—" if delta is None else f"{delta:+.6g}",
        "status": r.get("status", "ok"),
        "status_text": STATUS_TEXT.get(r.get("status", "ok"), str(r.get("status"))),
    }


def _attestation_row(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": a.get("predicate_type") or "unknown",
        "signer": a.get("signer") or "—",
        "counted": bool(a.get("counted")),
        "result": a.get("result") or ("—" if a.get("stage") is None else ""),
        "detail": (f"stage {a['stage']}" if a.get("stage") else "") or (a.get("reason") or ""),
        "source": a.get("source") or "",
    }


def _baseline_text(base: Mapping[str, Any]) -> str:
    if base.get("error"):
        return f"no trustworthy baseline: {base['error']}"
    if not base.get("found"):
        return f"no baseline: nothing of this model was admitted to {base.get('stage') or 'this stage'} before"
    where = f"{base.get('where')}, {base.get('recorded_at')}"
    return f"baseline: {base.get('digest')} held by {base.get('stage')} ({where})"


def lines(record: Mapping[str, Any]) -> list[str]:
    """Plain-text lines for the terminal table."""
    view = quality_view(record)
    if view is None:
        return []
    out = [f"quality of {view['model']}: {view['baseline']}"]
    for r in view["metrics"]:
        out.append(
            f"  {r['metric']}: {r['value']} ({r['source']}), bounds {r['bounds']}, "
            f"baseline {r['baseline']}, delta {r['delta']}: {r['status_text']}"
        )
    for a in view["attestations"]:
        mark = "counted" if a["counted"] else "NOT counted"
        extra = f" {a['result']}" if a["result"] not in ("", "—") else ""
        detail = f" ({a['detail']})" if a["detail"] else ""
        out.append(f"  attestation {a['type']}{extra} by {a['signer']}: {mark}{detail} [{a['source']}]")
    return out
