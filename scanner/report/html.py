"""HTML: one self-contained page (inline CSS, SVG and a small script; loads nothing).

Scanned content (file names, model-card text, package summaries) is hostile: the template is
autoescaped and never marks scanned data safe; a Content-Security-Policy allows only our own
stylesheet and script by hash, so even markup that slipped through could not run or load
anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from scanner.core import Severity
from scanner.report import view
from scanner.report.quality import quality_view

MAX_FILES = 2000


def asset(name: str) -> str:
    from scanner.resources import templates_dir

    return (templates_dir() / name).read_text(encoding="utf-8")


def csp(css: str, js: str | None) -> str:
    """Nothing may load; only the inline style and script with these exact hashes may apply."""

    def h(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    script = h(js) if js is not None else "'none'"
    return (
        f"default-src 'none'; style-src {h(css)}; script-src {script}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def page_assets() -> dict[str, Any]:
    from markupsafe import Markup

    css, js = asset("report.css"), asset("report.js")
    return {"css": Markup(css), "js": Markup(js), "csp": csp(css, js)}


def safe_url(url: Any) -> str | None:
    """Only http(s) links are rendered as links (no ``javascript:``)."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


def chunks(record: dict[str, Any], **_: Any) -> Iterator[str]:
    """The page in pieces as the template renders it (a page over a large SBOM is written to its
    file without being one string)."""
    from scanner.report.templates import environment

    record = view.normalize(record)
    env = environment(autoescape=True)
    env.globals["advisories"] = view.advisories
    env.globals["vuln_columns"] = view.vuln_columns
    template = env.get_template("report.html.j2")
    yield from template.generate(record=record, v=page_view(record), **page_assets())


def render(record: dict[str, Any], **_: Any) -> str:
    return "".join(chunks(record))


def page_view(record: Mapping[str, Any]) -> dict[str, Any]:
    sections = {k: v for k, v in (record.get("sections") or {}).items() if v is not None}
    return {
        "label": view.decision_label(record),
        "severities": list(view.SEVERITIES),
        "ranks": {s.value: s.rank for s in Severity},
        "totals": view.totals(record),
        "matrix": view.matrix(record),
        "chart": view.chart(record),
        "groups": view.by_check(record),
        "complete": {c["check"]: c.get("complete", True) for c in record.get("checks") or []},
        "components": view.Components(record),
        "sections": sections,
        "section_columns": {k: _columns(v) for k, v in sections.items()},
        "run_url": safe_url(view.ci_run(record)),
        "max_files": MAX_FILES,
        "vulnerable": view.vulnerable_components(record),
        "vuln_checks": {k for k, fs in view.by_check(record).items() if any(view.is_vulnerability(f) for f in fs)},
        "model_card": view.model_card(record),
        "model_check": view.check_summary(record, "model"),
        "reasons": view.decision_evidence(record),
        "quality": quality_view(record),
    }


def _columns(entries: Any) -> list[str]:
    cols: list[str] = []
    if isinstance(entries, list):
        for e in entries:
            if isinstance(e, Mapping):
                cols += [k for k in e if k not in cols]
    return cols or ["value"]
