"""Builds the one JSON document the policies read. Policies read nothing else."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from scanner import __version__
from scanner.check import CheckResult
from scanner.core import Artifact
from scanner.inventory.components import Component, Inventory
from scanner.stage import Stage
from scanner.waivers import Waiver, WaiverOutcome, apply_waivers


def match_waivers(results: Sequence[CheckResult], waivers: Sequence[Waiver], now: dt.datetime) -> WaiverOutcome:
    """The one place findings meet waivers: every path (gate, audit, reports) calls this."""
    return apply_waivers([f for r in results for f in r.findings], waivers, now)


def build_input(
    artifact: Artifact,
    stage: Stage | str,
    inventory: Inventory,
    results: Sequence[CheckResult],
    waivers: WaiverOutcome,
    *,
    now: dt.datetime,
    context: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
    components: bool = True,
) -> dict[str, Any]:
    """``findings`` are the annotated dicts of ``waivers.findings`` (each with ``waived``);
    ``findings_index`` lets policies look findings up instead of scanning (see ``index_findings``).
    ``evidence`` holds ``attestations``, ``metrics`` and ``baseline`` (``scanner.evidence.quality``).
    ``components`` false leaves ``sbom.components`` empty: the gate passes it when no policy module
    reads it (the engine would not pass it to them anyway), so a large inventory is not copied
    into one more tree of dicts; ``sbom.summary`` and ``sbom.licenses`` are always complete.
    Every key is documented in ``policies/README.md`` and ``policies/input.schema.json``."""
    if isinstance(stage, str):
        stage = Stage.parse(stage)
    findings = waivers.findings
    listed = [c.to_dict() for c in inventory.components] if components else []
    expired = {w.id for w in waivers.expired}
    unused = {w.id for w in waivers.unused}
    waiver_docs = [
        {
            **w.to_dict(),
            "expires_ns": _ns(w.ends),
            "expired": w.id in expired,
            "unused": w.id in unused,
            "matched": waivers.used.get(w.id, []),
            "matched_count": len(waivers.used.get(w.id, [])),
        }
        for w in waivers.all_waivers
    ]
    doc: dict[str, Any] = {
        "artifact": artifact.to_dict(),
        "promotion": stage.promotion(),
        "sbom": {
            "summary": inventory.summary(),
            "components": listed,
            "licenses": index_licenses(listed if components else inventory.components),
        },
        "findings": findings,
        "findings_index": index_findings(findings),
        "checks": {r.check: {"complete": r.complete, "findings": len(r.findings)} for r in results},
        "signatures": [],
        "provenance": [],
        "attestations": {},
        "metrics": {},
        "baseline": {"found": False, "metrics": {}},
        "waivers": waiver_docs,
        "waivers_index": index_waivers(waiver_docs),
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
    doc.update(evidence or {})
    return doc


EXAMPLES = 5
_EXAMPLE_KEYS = ("id", "check", "severity", "subject")
# The evidence an example carries: what messages name. Every key is in ``input.findings``.
_EXAMPLE_EVIDENCE = (
    "vuln_id",
    "package",
    "version",
    "fixed_in",
    "fix_available",
    "reason",
    "element",
    "count",
    "global",
    "offset",
    "member",
    "format",
    "purl",
)


def index_findings(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Positions into ``findings`` and bounded summaries, so a rule looks up what it needs.

    ``by_rule``/``by_severity`` (positions of every finding, waived too) and ``waived``
    (positions of waived findings) are for tools and for policies that want every finding.
    ``open`` summarises the findings no active waiver covers (the ones that may deny) as
    groups ``{count, examples}`` (``examples``: the first few finding documents, each with its
    ``position``): ``open.rules[rule]`` = ``{check, count, severities: {severity: group}}``, and
    ``open.vulns.fixable`` / ``open.vulns.unfixable`` (severity → group) split ``VULN-KNOWN``
    by ``evidence.fix_available``. Summaries keep the policy's input small: regopy ingests about
    ten microseconds per value, so a rule that needs counts and examples should not receive
    every finding.
    """
    by_rule: dict[str, list[int]] = {}
    by_severity: dict[str, list[int]] = {}
    rules: dict[str, dict[str, Any]] = {}
    vulns: dict[str, dict[str, dict[str, Any]]] = {"fixable": {}, "unfixable": {}}
    waived: list[int] = []
    for i, f in enumerate(findings):
        rule, severity = f["id"], f["severity"]
        positions = by_rule.get(rule)
        if positions is None:
            positions = by_rule[rule] = []
        positions.append(i)
        positions = by_severity.get(severity)
        if positions is None:
            positions = by_severity[severity] = []
        positions.append(i)
        if f.get("waived"):
            waived.append(i)
            continue
        summary = rules.get(rule)
        if summary is None:
            summary = rules[rule] = {"check": f["check"], "count": 0, "severities": {}}
        summary["count"] += 1
        group = summary["severities"].get(severity)
        if group is not None and group["count"] >= EXAMPLES:
            group["count"] += 1  # the common case of many findings: counted, no example
        else:
            _add(summary["severities"], severity, i, f)
        if rule == "VULN-KNOWN":
            fix = (f.get("evidence") or {}).get("fix_available") is True
            _add(vulns["fixable" if fix else "unfixable"], severity, i, f)
    return {
        "by_rule": by_rule,
        "by_severity": by_severity,
        "waived": waived,
        "open": {"rules": rules, "vulns": vulns},
    }


def _add(groups: dict[str, dict[str, Any]], key: str, position: int, finding: dict[str, Any]) -> None:
    group = groups.get(key)
    if group is None:
        group = groups[key] = {"count": 0, "examples": []}
    group["count"] += 1
    if len(group["examples"]) < EXAMPLES:
        evidence = finding.get("evidence") or {}
        example = {k: finding.get(k) for k in _EXAMPLE_KEYS}
        example["evidence"] = {k: evidence[k] for k in _EXAMPLE_EVIDENCE if k in evidence}
        group["examples"].append({**example, "position": position})


SOONEST = 20


def index_waivers(waiver_docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The waivers a policy acts on, small: ``expired`` and ``unused`` (all of them), ``soonest``
    (the active waivers that expire first, at most 20, soonest first) and ``applied``
    (``{finding_count, waiver_count, examples}``: how many findings the active waivers cover)."""

    def brief(w: dict[str, Any]) -> dict[str, Any]:
        return {"id": w["id"], "owner": w["owner"], "expires": w["expires"], "expires_ns": w["expires_ns"]}

    active = [w for w in waiver_docs if not w["expired"]]
    applied = [w for w in active if w["matched_count"]]
    return {
        "expired": [brief(w) for w in waiver_docs if w["expired"]],
        "unused": [brief(w) for w in waiver_docs if w["unused"]],
        "soonest": [brief(w) for w in sorted(active, key=lambda w: w["expires_ns"])[:SOONEST]],
        "applied": {
            "finding_count": sum(w["matched_count"] for w in applied),
            "waiver_count": len(applied),
            "examples": [{**brief(w), "matched_count": w["matched_count"]} for w in applied[:EXAMPLES]],
        },
    }


def index_licenses(components: Sequence[dict[str, Any] | Component]) -> dict[str, Any]:
    """Distinct license expressions of the SBOM's components (their dicts, or the Components
    themselves) → ``{count, names, alternatives}`` (``names``: the first few as ``name version``;
    ``alternatives``: see ``license_alternatives``)."""
    out: dict[str, dict[str, Any]] = {}
    for c in components:
        licenses: Sequence[Any]
        name: Any
        version: Any
        if isinstance(c, Component):
            licenses, name, version = c.licenses, c.name, c.version
        else:
            licenses, name, version = c.get("licenses") or [], c.get("name"), c.get("version")
        for expr in licenses:
            if not isinstance(expr, str):
                continue
            entry = out.get(expr)
            if entry is None:
                entry = out[expr] = {"count": 0, "names": [], "alternatives": license_alternatives(expr)}
            entry["count"] += 1
            if len(entry["names"]) < EXAMPLES:
                entry["names"].append(f"{name} {version or ''}".strip())
    return out


def _ns(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_OPERATORS = {"AND", "OR", "WITH"}


@functools.lru_cache(maxsize=4096)
def _parse_alternatives(expr: str) -> tuple[tuple[str, ...], ...]:
    from license_expression import ExpressionError, Licensing

    try:
        parsed = Licensing().parse(expr)
    except (ExpressionError, ValueError, TypeError, RecursionError):
        parsed = None
    if parsed is None:
        tokens = expr.replace("(", " ").replace(")", " ").split()
        return (tuple(t for t in tokens if t.upper() not in _OPERATORS),)
    parts = parsed.args if type(parsed).__name__ == "OR" else (parsed,)
    return tuple(tuple(sorted({_key(sym) for sym in part.symbols})) for part in parts)


def _key(symbol: Any) -> str:
    inner = getattr(symbol, "license_symbol", symbol)  # "X WITH exception" → X
    return str(getattr(inner, "key", inner))


def license_alternatives(expr: str) -> list[list[str]]:
    """The license identifiers of an SPDX expression grouped by top-level OR alternative: a
    component is acceptable when one alternative holds no denied identifier. Nested choices count
    as one alternative holding all their identifiers (conservative)."""
    return [list(a) for a in _parse_alternatives(expr)]
