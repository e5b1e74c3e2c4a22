"""The batch summary in each format: ``json``, ``table``, ``sarif`` and ``html``.

Sources and reasons come from artifacts and policies (hostile text): the HTML is autoescaped with
the same Content-Security-Policy as the single-artifact report (our stylesheet by hash, no
script, nothing loaded); the table strips control characters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scanner import __version__
from scanner.batch.model import ArtifactResult
from scanner.batch.run import BatchReport
from scanner.text import clean_text

FORMATS = ["table", "json", "html", "sarif"]
SCHEMA = "scanner-batch/1"


def render(report: BatchReport, fmt: str, dest: str | None = None) -> str:
    """The summary as text that can be encoded: a source path that is not UTF-8 (surrogates in
    Python) is shown with its bytes as ``\\xNN`` escapes (the JSON formats clean their values)."""
    text = {"json": to_json, "table": to_table, "sarif": to_sarif, "html": to_html}[fmt](report, dest)
    return text if fmt in ("json", "sarif") else clean_text(text)


def counts(report: BatchReport) -> dict[str, int]:
    return {
        "artifacts": len(report.results),
        "allowed": len(report.allowed),
        "denied": len(report.denied),
        "errors": len(report.errors),
        "cached": report.cached,
    }


def to_json(report: BatchReport, _dest: str | None = None) -> str:
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "scanner", "version": __version__},
        "stage": report.options.stage,
        "run": report.options.run_id,
        "executor": report.executor,
        "workers": report.workers,
        "seconds": round(report.seconds, 3),
        "interrupted": report.interrupted,
        "cache": report.cache_dir,
        "context": report.context,
        "counts": counts(report),
        "not_judged": [r.source for r in report.errors],
        "results": [r.summary() for r in report.results],
    }
    return json.dumps(clean_text(doc), indent=2, ensure_ascii=False) + "\n"


def _clean(text: object) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def verdict(result: ArtifactResult) -> str:
    if not result.judged:
        return "ERROR"
    return "ALLOWED" if result.allow else "DENIED"


def line(result: ArtifactResult) -> str:
    """One streamed line per finished artifact."""
    detail = _clean(result.error) if not result.judged else ", ".join(_clean(r.rule) for r in result.deny)
    cached = " (cached)" if result.cached else ""
    return f"{verdict(result):<8} {_clean(result.source)}{cached}{': ' + detail if detail else ''}"


def to_table(report: BatchReport, _dest: str | None = None) -> str:
    rows = [line(r) for r in report.results]
    c = counts(report)
    rows.append(
        f"{c['artifacts']} artifact(s) for {report.options.stage}: {c['allowed']} allowed, {c['denied']} denied, "
        f"{c['errors']} not judged ({c['cached']} from cache) in {report.seconds:.1f} s on {report.workers} "
        f"{report.executor} worker(s)" + (" — INTERRUPTED" if report.interrupted else "")
    )
    if report.errors:
        rows.append("not judged: " + ", ".join(_clean(r.source) for r in report.errors))
    return "\n".join(rows) + "\n"


def to_sarif(report: BatchReport, _dest: str | None = None) -> str:
    """One run; each deny reason of each artifact is a result located at the artifact; what
    could not be judged is a tool execution notification (and ``executionSuccessful`` false)."""
    from scanner.textsafe import plain  # messages carry names an artifact or a listing chose

    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for r in report.denied:
        for reason in r.deny:
            rule_id = f"POLICY/{reason.rule}"
            rules.setdefault(rule_id, {"id": rule_id, "shortDescription": {"text": f"policy rule {reason.rule}"}})
            results.append(
                {
                    "ruleId": rule_id,
                    "level": "error",
                    "message": {"text": plain(_with_fix(reason))},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(r.source)}}}],
                    "partialFingerprints": {"scannerBatch/v1": f"{r.digest}:{reason.rule}"},
                    "properties": {"digest": r.digest, "stage": report.options.stage},
                }
            )
    rule_list = list(rules.values())
    index = {rule["id"]: i for i, rule in enumerate(rule_list)}
    for res in results:
        res["ruleIndex"] = index[res["ruleId"]]
    notifications = [
        {"level": "error", "message": {"text": plain(f"{r.source}: {r.error}")}, "locations": [_location(r)]}
        for r in report.errors
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "scanner", "version": __version__, "rules": rule_list}},
                "automationDetails": {"id": f"scanner/batch/{report.options.stage}/"},
                "invocations": [
                    {"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(clean_text(doc), indent=2, ensure_ascii=False) + "\n"


def _with_fix(reason: Any) -> str:
    return reason.message + (f" ({reason.remediation})" if reason.remediation else "")


def _uri(source: str) -> str:
    if "://" in source:
        return source
    return "file://" + quote(os.fsencode(Path(source).as_posix()))  # a name's bytes, UTF-8 or not


def _location(r: ArtifactResult) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(r.source)}}}


def to_html(report: BatchReport, dest: str | None = None) -> str:
    from scanner.report.html import asset, csp
    from scanner.report.templates import environment

    base = Path(dest).resolve().parent if dest else Path.cwd()
    css = asset("report.css") + asset("batch.css")

    def link(r: ArtifactResult) -> str | None:
        if not r.record_path:
            return None
        return quote(Path(os.path.relpath(Path(r.record_path).resolve(), base)).as_posix())

    from markupsafe import Markup

    from scanner.textsafe import plain  # control characters shown as escapes (then HTML-escaped)

    template = environment(autoescape=True).get_template("batch.html.j2")
    return template.render(
        report=report,
        counts=counts(report),
        version=__version__,
        denied=[(r, link(r)) for r in report.denied],
        errors=[(r, link(r)) for r in report.errors],
        allowed=[(r, link(r)) for r in report.allowed],
        css=Markup(css),
        csp=csp(css, None),
        shown=plain,
    )
