"""Builds the one JSON document the policies read. Policies read nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from scanner import __version__
from scanner.check import CheckResult
from scanner.core import Artifact
from scanner.inventory.model import Inventory
from scanner.waivers import Waiver, WaiverOutcome, apply_waivers

STAGES = ("dev", "staging", "prod")


def previous_stage(stage: str) -> str | None:
    i = STAGES.index(stage)
    return STAGES[i - 1] if i > 0 else None


def match_waivers(results: Sequence[CheckResult], waivers: Sequence[Waiver], now: dt.datetime) -> WaiverOutcome:
    """The one place findings meet waivers: every path (gate, audit, reports) calls this."""
    return apply_waivers([f for r in results for f in r.findings], waivers, now.date())


def build_input(
    artifact: Artifact,
    stage: str,
    inventory: Inventory,
    results: Sequence[CheckResult],
    waivers: WaiverOutcome,
    *,
    now: dt.datetime,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``findings`` are the annotated dicts of ``waivers.findings`` (each with ``waived``);
    ``findings_index`` lets policies look findings up by rule and severity instead of scanning."""
    findings = waivers.findings
    by_rule: dict[str, list[int]] = {}
    by_severity: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        by_rule.setdefault(f["id"], []).append(i)
        by_severity.setdefault(f["severity"], []).append(i)
    expired = {w.id for w in waivers.expired}
    unused = {w.id for w in waivers.unused}
    waiver_docs = [
        {**w.to_dict(), "expired": w.id in expired, "unused": w.id in unused, "matched": waivers.used.get(w.id, [])}
        for w in waivers.all_waivers
    ]
    doc: dict[str, Any] = {
        "artifact": artifact.to_dict(),
        "promotion": {"from": previous_stage(stage), "to": stage},
        "sbom": {
            "summary": inventory.summary(),
            "components": [c.to_dict() for c in inventory.components],
        },
        "findings": findings,
        "findings_index": {"by_rule": by_rule, "by_severity": by_severity},
        "checks": {r.check: {"complete": r.complete, "findings": len(r.findings)} for r in results},
        "signatures": [],
        "provenance": [],
        "waivers": waiver_docs,
        "context": {
            "now_ns": int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000,
            "now": now.isoformat(timespec="seconds"),
            "tool_version": __version__,
            **(context or {}),
        },
    }
    for r in results:
        if r.section:
            doc[r.section] = r.data
        doc["context"].update(r.context)
    return doc
