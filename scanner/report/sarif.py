"""SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

One run per record. Every result has a physical location (the file; for a package, the manifest
line that pins it, else the manifest; for an archive member, the archive plus a logical location),
rule metadata with help text, a stable ``partialFingerprints`` entry, and waived findings carry an
accepted ``suppression``. Policy denies and warnings become results too (rule ``POLICY/<rule>``),
since some have no finding behind them (a missing signature). GitHub keeps at most 5,000 results
per run (and rejects more than 25,000): results are capped, most severe first, and the run's
``properties`` say how many were left out. The policy's reasons are always kept: only findings
are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from scanner.report import view
from scanner.report.json_format import dumps_layout
from scanner.report.rules import DOCS, rule_help
from scanner.textsafe import markdown, plain

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 5000
FINGERPRINT_KEY = "scannerFinding/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def render(record: dict[str, Any], *, max_results: int = MAX_RESULTS, **_: Any) -> str:
    return dumps_layout(to_sarif(record, max_results=max_results), depth=4) + "\n"


def to_sarif(record: Mapping[str, Any], *, max_results: int = MAX_RESULTS) -> dict[str, Any]:
    findings = view.sort_findings(record.get("findings") or [])
    rules: dict[str, dict[str, Any]] = {}
    locator = view.Locator(record)
    results = [_finding_result(locator, f, rules) for f in findings]
    results.sort(key=lambda r: (r["level"] != "error", r["level"] != "warning", bool(r.get("suppressions"))))
    # The reasons for the decision are never the ones left out: the cap applies to findings only.
    reasons = _policy_results(record, rules)
    results = reasons + results
    _dedupe_fingerprints(results)
    total = len(results)
    included = results[: max(max_results, len(reasons))]
    rule_list = list(rules.values())
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    for r in included:
        r["ruleIndex"] = index[r["ruleId"]]
    tool = record.get("tool") or {}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "scanner",
                "version": str(tool.get("version", "")),
                "semanticVersion": str(tool.get("version", "")),
                "informationUri": DOCS,
                "rules": rule_list,
            }
        },
        "automationDetails": {"id": f"scanner/{record.get('command', 'scan')}/{record.get('stage') or 'none'}/"},
        "invocations": [_invocation(record)],
        "results": included,
        "properties": {
            "decision": view.decision_label(record),
            "artifact": {k: (record.get("artifact") or {}).get(k) for k in ("name", "kind", "digest")},
            "resultsTotal": total,
            "resultsIncluded": len(included),
            "resultsTruncated": total > len(included),
            "maxResults": max_results,
            "evidenceSchema": record.get("schema"),
        },
    }
    if total > len(included):
        run["properties"]["truncationNote"] = (
            f"{total - len(included)} of {total} results left out (code scanning keeps at most {max_results} per "
            "run); the JSON evidence record has all of them"
        )
    vcp = _version_control(record)
    if vcp:
        run["versionControlProvenance"] = [vcp]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule(
    rules: dict[str, dict[str, Any]], rule_id: str, check: str, severity: str, example: Mapping[str, Any]
) -> None:
    existing = rules.get(rule_id)
    if existing is not None:
        props = existing["properties"]
        if float(SECURITY_SEVERITY.get(severity, "0")) > float(props["security-severity"]):
            props["security-severity"] = SECURITY_SEVERITY[severity]
            existing["defaultConfiguration"]["level"] = LEVELS.get(severity, "warning")
        return
    h = rule_help(rule_id, example)
    # help text may fall back to a finding's message (artifact text): plain text, and in the
    # Markdown variant escaped so that no link, image or mention of the artifact's goes live
    title, text = plain(h.title), plain(h.help)
    rules[rule_id] = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("/", "-").split("-") if part),
        "shortDescription": {"text": title},
        "fullDescription": {"text": text},
        "help": {"text": text, "markdown": f"**{markdown(h.title)}**\n\n{markdown(h.help)}"},
        "helpUri": DOCS,
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {
            "tags": ["security", "supply-chain", check],
            "security-severity": SECURITY_SEVERITY.get(severity, "5.5"),
        },
    }


def sarif_uri(path: str) -> str:
    """A URI reference: relative paths percent-encoded, absolute ones as ``file://`` URIs (a
    directory's trailing ``/`` kept)."""
    if path.startswith("/"):
        return PurePosixPath(path).as_uri() + ("/" if path.endswith("/") and path != "/" else "")
    return quote(path or ".", safe="/!$&'()*+,;=:@-._~")


def _location(loc: view.Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": sarif_uri(loc.uri)}}
    if loc.line:
        physical["region"] = {"startLine": loc.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    if loc.logical:
        out["logicalLocations"] = [{"fullyQualifiedName": loc.logical, "kind": loc.logical_kind or "module"}]
    return out


def _finding_result(locator: view.Locator, f: Mapping[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    _rule(rules, f["id"], f["check"], f["severity"], f)
    text = str(f.get("message") or f["id"])
    if f.get("fix"):
        text += f" Fix: {f['fix']}"
    result: dict[str, Any] = {
        "ruleId": f["id"],
        "level": LEVELS.get(f["severity"], "warning"),
        "message": {"text": plain(text)},
        "locations": [_location(locator.locate(f))],
        "partialFingerprints": {FINGERPRINT_KEY: view.fingerprint(f)},
        "properties": {
            "severity": f["severity"],
            "check": f["check"],
            "subject": f["subject"],
            "evidence": dict(f.get("evidence") or {}),
        },
    }
    waived = f.get("waived")
    if waived:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"waiver {waived.get('id')}: {waived.get('reason')} "
                f"(owner {waived.get('owner')}, expires {waived.get('expires')})",
            }
        ]
    return result


def _policy_results(record: Mapping[str, Any], rules: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    decision = record.get("decision") or {}
    artifact = record.get("artifact") or {}
    anchor = view.Locator(record).artifact_location()
    out = []
    for kind, severity in (("deny", "high"), ("warn", "medium")):
        for reason in decision.get(kind) or []:
            rule_id = f"POLICY/{reason['rule']}"
            _rule(rules, rule_id, "policy", severity, {"message": reason.get("message")})
            text = str(reason.get("message") or reason["rule"])
            if reason.get("remediation"):
                text += f" Remediation: {reason['remediation']}"
            key = f"{rule_id}\n{artifact.get('name')}\n{record.get('stage')}"
            out.append(
                {
                    "ruleId": rule_id,
                    "level": LEVELS[severity],
                    "message": {"text": plain(f"Promotion to {record.get('stage')} {kind}: {text}")},
                    "locations": [_location(anchor)],
                    "partialFingerprints": {FINGERPRINT_KEY: hashlib.sha256(key.encode()).hexdigest()},
                    "properties": {"decision": kind, "stage": record.get("stage")},
                }
            )
    return out


def _dedupe_fingerprints(results: list[dict[str, Any]]) -> None:
    """Two results must not share a fingerprint (code scanning would merge them): later
    duplicates get an ordinal, stable while the findings' order is."""
    seen: dict[str, int] = {}
    for r in results:
        fp = r["partialFingerprints"][FINGERPRINT_KEY]
        seen[fp] = seen.get(fp, 0) + 1
        if seen[fp] > 1:
            r["partialFingerprints"][FINGERPRINT_KEY] = hashlib.sha256(f"{fp}#{seen[fp]}".encode()).hexdigest()


def _invocation(record: Mapping[str, Any]) -> dict[str, Any]:
    inv: dict[str, Any] = {"executionSuccessful": True}
    if record.get("timestamp"):
        inv["endTimeUtc"] = record["timestamp"]
    notes = [
        {"level": "error", "message": {"text": f"check {c['check']} could not examine everything (not complete)"}}
        for c in record.get("checks") or []
        if not c.get("complete", True)
    ]
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv


def _version_control(record: Mapping[str, Any]) -> dict[str, Any] | None:
    ci = record.get("ci") or {}
    if not ci.get("repository"):
        return None
    vcp: dict[str, Any] = {"repositoryUri": ci["repository"]}
    if ci.get("commit"):
        vcp["revisionId"] = ci["commit"]
    if ci.get("ref"):
        vcp["branch"] = ci["ref"]
    return vcp
