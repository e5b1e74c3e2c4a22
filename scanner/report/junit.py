"""JUnit XML, for CI test-report views (GitLab ``artifacts:reports:junit``, Jenkins, Azure).

A ``policy`` suite has one test case for the promotion decision and one per deny (a failure) or
warning (passed, with the message as output). Then one suite per check with one test case per rule:
a failure when an unwaived finding of that rule is at or above ``fail_on`` (default: the record's
``fail_on``, else ``high``), skipped when every finding of the rule is waived, passed otherwise
(findings listed as output); a check that could not examine everything is an error; a check
without findings is one passing test case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.core import Severity
from scanner.report import view

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_DETAIL_LINES = 200


def clean(text: Any) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: scanned names may hold them."""
    return _INVALID_XML.sub("\ufffd", str(text))


def render(record: dict[str, Any], *, fail_on: str | None = None, **_: Any) -> str:
    threshold = Severity.parse(fail_on or record.get("fail_on") or "high")
    artifact = record.get("artifact") or {}
    root = ET.Element("testsuites", name=clean(f"scanner {record.get('command', '')} {artifact.get('name', '')}"))
    suites = []
    if record.get("decision") is not None:
        suites.append(_policy_suite(record))
    grouped = view.by_check(record)
    complete = {c["check"]: c.get("complete", True) for c in record.get("checks") or []}
    for check, findings in grouped.items():
        suites.append(_check_suite(check, findings, complete.get(check, True), threshold))
    for suite in suites:
        suite.set("timestamp", clean(record.get("timestamp", "")))
        suite.set("time", "0")
        root.append(suite)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(name: str, cases: Sequence[ET.Element]) -> ET.Element:
    suite = ET.Element("testsuite", name=clean(name))
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if case.find(tag) is not None:
                counts[key] += 1
        suite.append(case)
    for key, value in counts.items():
        suite.set(key, str(value))
    return suite


def _case(classname: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=clean(classname), name=clean(name), time="0")


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})
    if text:
        el.text = clean(text)
    return el


def _policy_suite(record: Mapping[str, Any]) -> ET.Element:
    d = record["decision"]
    stage = record.get("stage")
    cases = []
    verdict = _case("scanner.policy", f"promotion to {stage}")
    if not d.get("allow"):
        rules = ", ".join(r["rule"] for r in d.get("deny") or []) or "policy"
        _child(verdict, "failure", _reasons(d.get("deny") or []), message=f"denied by {rules}", type="deny")
    cases.append(verdict)
    for r in d.get("deny") or []:
        case = _case("scanner.policy.deny", str(r["rule"]))
        _child(case, "failure", _reasons([r]), message=str(r.get("message", "")), type="deny")
        cases.append(case)
    for r in d.get("warn") or []:
        case = _case("scanner.policy.warn", str(r["rule"]))
        _child(case, "system-out", _reasons([r]))
        cases.append(case)
    return _suite("policy", cases)


def _reasons(reasons: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for r in reasons:
        line = f"[{r['rule']}] {r.get('message', '')}"
        if r.get("remediation"):
            line += f" — remediation: {r['remediation']}"
        lines.append(line)
    return "\n".join(lines)


def _check_suite(check: str, findings: Sequence[Mapping[str, Any]], complete: bool, threshold: Severity) -> ET.Element:
    cases = []
    if not complete:
        case = _case(f"scanner.{check}", f"{check}: complete")
        _child(
            case, "error", f"check {check} could not examine everything", message="not fully checked", type="incomplete"
        )
        cases.append(case)
    rules: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        rules.setdefault(f["id"], []).append(f)
    for rule, items in rules.items():
        case = _case(f"scanner.{check}", rule)
        open_items = [f for f in items if not f.get("waived")]
        failing = [f for f in open_items if view.severity_rank(f["severity"]) >= threshold.rank]
        detail = _details(items)
        if failing:
            _child(
                case,
                "failure",
                detail,
                message=f"{len(failing)} unwaived finding(s) at or above {threshold.value}: "
                f"{failing[0].get('message', '')}",
                type=rule,
            )
        elif not open_items:
            waivers = sorted({str(f["waived"].get("id")) for f in items})
            _child(case, "skipped", message=f"waived by {', '.join(waivers)}")
            _child(case, "system-out", detail)
        else:
            _child(case, "system-out", detail)
        cases.append(case)
    if not rules and complete:
        case = _case(f"scanner.{check}", f"{check}: no findings")
        cases.append(case)
    return _suite(f"check:{check}", cases)


def _details(items: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for f in items[:MAX_DETAIL_LINES]:
        waived = f" (waived: {f['waived'].get('id')})" if f.get("waived") else ""
        lines.append(f"{f['severity'].upper()} {f['subject']}: {f.get('message', '')}{waived}")
    if len(items) > MAX_DETAIL_LINES:
        lines.append(f"… {len(items) - MAX_DETAIL_LINES} more (see the JSON evidence record)")
    return "\n".join(lines)
