"""Markdown: compact, for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import re
from typing import Any

from scanner.core import Severity

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value: Any) -> str:
    """Scanned text (file names, messages) must not become Markdown or HTML structure."""
    text = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", text)


def render(record: dict[str, Any], **_: Any) -> str:
    from scanner.report.templates import environment

    findings = [{**f, "severity_rank": Severity(f["severity"]).rank} for f in record["findings"]]
    template = environment(autoescape=False).get_template("report.md.j2")
    return template.render(record={**record, "findings": findings}).rstrip() + "\n"
