"""Builds the one JSON document the policies read. Policies read nothing else."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from scanner import __version__
from scanner.check import CheckResult
from scanner.core import Artifact, Finding
from scanner.inventory.model import Inventory

STAGES = ("dev", "staging", "prod")


def previous_stage(stage: str) -> str | None:
    i = STAGES.index(stage)
    return STAGES[i - 1] if i > 0 else None


def build_input(
    artifact: Artifact,
    stage: str,
    inventory: Inventory,
    results: Sequence[CheckResult],
    *,
    waivers: Sequence[dict[str, Any]] = (),
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    findings: list[Finding] = [f for r in results for f in r.findings]
    by_rule: dict[str, list[int]] = {}
    by_severity: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        by_rule.setdefault(f.id, []).append(i)
        by_severity.setdefault(f.severity.value, []).append(i)
    doc: dict[str, Any] = {
        "artifact": artifact.to_dict(),
        "promotion": {"from": previous_stage(stage), "to": stage},
        "sbom": {
            "summary": inventory.summary(),
            "components": [c.to_dict() for c in inventory.components],
        },
        "findings": [f.to_dict() for f in findings],
        "findings_index": {"by_rule": by_rule, "by_severity": by_severity},
        "checks": {r.check: {"complete": r.complete, "findings": len(r.findings)} for r in results},
        "signatures": [],
        "provenance": [],
        "waivers": list(waivers),
        "context": {"now_ns": time.time_ns(), "tool_version": __version__, **(context or {})},
    }
    for r in results:
        if r.section:
            doc[r.section] = r.data
    return doc
