"""Markdown: compact, for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

Counts by check and severity, the open findings (most severe first, capped so a PR comment stays
well under GitHub's 65,536-character limit), the waived ones folded away, and one line of
evidence (policy digest, database snapshot, CI run, ledger entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from scanner.report import view
from scanner.report.quality import quality_view

LIMIT = 50


def md_escape(value: Any) -> str:
    """Scanned text (file names, messages) must not become Markdown or HTML structure, links,
    images or mentions (see ``scanner.textsafe.markdown``)."""
    from scanner.textsafe import markdown

    return markdown(value)


def md_url(url: Any) -> str | None:
    """An http(s) URL safe inside ``[text](url)``: parentheses, spaces and brackets encoded."""
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        return None
    return quote(url, safe=":/?&=#%@+,;~-._")


def render(record: dict[str, Any], *, limit: int = LIMIT, **_: Any) -> str:
    from scanner.report.templates import environment

    record = view.normalize(record)
    findings = view.sort_findings(record["findings"])
    inputs = record.get("inputs") or {}
    policy = (inputs.get("policy") or {}).get("digest")
    open_findings = [f for f in findings if not f.get("waived")]
    v = {
        "vulns": any(view.is_vulnerability(f) for f in open_findings[:limit]),
        "rows": [_row(f) for f in open_findings[:limit]],
        "severities": list(view.SEVERITIES),
        "matrix": view.matrix(record),
        "open": open_findings,
        "waived": [f for f in findings if f.get("waived")],
        "incomplete": [c["check"] for c in record["checks"] if not c.get("complete", True)],
        "limit": limit,
        "policy": policy[:19] if policy else None,
        "db": inputs.get("vulnerability_db"),
        "run_url": md_url(view.ci_run(record)),
        "quality": quality_view(record),
    }
    template = environment(autoescape=False).get_template("report.md.j2")
    return template.render(record=record, v=v).rstrip() + "\n"


def _row(finding: Mapping[str, Any]) -> dict[str, str]:
    """One open finding as escaped Markdown cells; a vulnerability's advisory links to its page."""
    cols = view.vuln_columns(finding)
    links = [f"[{md_escape(a.id)}]({md_url(a.url)})" for a in view.advisories(finding)[:1]]
    return {
        "severity": md_escape(finding["severity"]),
        "rule": md_escape(finding["id"]),
        "subject": md_escape(cols.package or finding["subject"]),
        "installed": md_escape(cols.installed) or "·",
        "fixed": md_escape(cols.fixed) or "·",
        "advisory": " ".join(links) or md_escape(cols.advisory) or "·",
        "message": md_escape(view.vuln_message(finding)),
    }
