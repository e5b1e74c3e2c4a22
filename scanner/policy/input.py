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
    ``findings_index`` lets policies look findings up instead of scanning (see ``index_findings``).
    Every key is documented in ``policies/README.md`` and ``policies/input.schema.json``."""
    findings = waivers.findings
    expired = {w.id for w in waivers.expired}
    unused = {w.id for w in waivers.unused}
    waiver_docs = [
        {
            **w.to_dict(),
            "expires_ns": _day_end_ns(w.expires),
            "expired": w.id in expired,
            "unused": w.id in unused,
            "matched": waivers.used.get(w.id, []),
        }
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
        "findings_index": index_findings(findings),
        "checks": {r.check: {"complete": r.complete, "findings": len(r.findings)} for r in results},
        "signatures": [],
        "provenance": [],
        "waivers": waiver_docs,
        "context": {
            "now_ns": _ns(now),
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


def index_findings(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Positions into ``findings``, grouped so a rule looks up the few it needs.

    ``by_rule`` and ``by_severity`` cover every finding (waived too); ``open`` covers only the
    findings no active waiver covers (what may deny): ``by_rule``, ``by_check`` → severity and
    ``by_rule_severity`` (rule → severity), plus ``fixable``/``unfixable`` (severity → positions)
    for ``VULN-KNOWN`` by its ``evidence.fix_available``. ``waived`` lists the waived positions.
    """
    by_rule: dict[str, list[int]] = {}
    by_severity: dict[str, list[int]] = {}
    open_by_rule: dict[str, list[int]] = {}
    open_by_check: dict[str, dict[str, list[int]]] = {}
    open_by_rule_severity: dict[str, dict[str, list[int]]] = {}
    fixable: dict[str, list[int]] = {}
    unfixable: dict[str, list[int]] = {}
    waived: list[int] = []
    for i, f in enumerate(findings):
        rule, severity = f["id"], f["severity"]
        by_rule.setdefault(rule, []).append(i)
        by_severity.setdefault(severity, []).append(i)
        if f.get("waived"):
            waived.append(i)
            continue
        open_by_rule.setdefault(rule, []).append(i)
        open_by_check.setdefault(f["check"], {}).setdefault(severity, []).append(i)
        open_by_rule_severity.setdefault(rule, {}).setdefault(severity, []).append(i)
        if rule == "VULN-KNOWN":
            fix = (f.get("evidence") or {}).get("fix_available") is True
            (fixable if fix else unfixable).setdefault(severity, []).append(i)
    return {
        "by_rule": by_rule,
        "by_severity": by_severity,
        "open": {
            "by_rule": open_by_rule,
            "by_check": open_by_check,
            "by_rule_severity": open_by_rule_severity,
            "fixable": fixable,
            "unfixable": unfixable,
        },
        "waived": waived,
    }


def _ns(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _day_end_ns(day: dt.date) -> int:
    """The first instant after a waiver's last valid day (UTC): it is expired from then on."""
    return _ns(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc))
