"""The evidence record: one JSON document every report format renders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from scanner import __version__
from scanner.check import CheckResult
from scanner.core import Artifact, Decision
from scanner.inventory.model import Inventory

SCHEMA_VERSION = "1"


def build_record(
    *,
    command: str,
    artifact: Artifact,
    inventory: Inventory | None,
    results: Sequence[CheckResult],
    findings: list[dict[str, Any]] | None = None,
    waivers: list[dict[str, Any]] | None = None,
    decision: Decision | None = None,
    stage: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``findings`` are the waiver-annotated dicts when waivers were applied; otherwise the
    results' findings, unwaived."""
    if findings is None:
        findings = [{**f.to_dict(), "waived": None} for r in results for f in r.findings]
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    record: dict[str, Any] = {
        "schema": f"scanner-evidence/{SCHEMA_VERSION}",
        "command": command,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tool": {"name": "scanner", "version": __version__},
        "artifact": artifact.to_dict(),
        "stage": stage,
        "inventory": inventory.summary() if inventory else None,
        "components": [c.to_dict() for c in inventory.components] if inventory else [],
        "checks": [
            {"check": r.check, "complete": r.complete, "findings": len(r.findings), "summary": r.summary}
            for r in results
        ],
        "findings": findings,
        "counts": counts,
        "waivers": waivers or [],
        "decision": decision.to_dict() if decision else None,
    }
    if extra:
        record.update(extra)
    return record
