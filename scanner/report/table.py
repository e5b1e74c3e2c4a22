"""The terminal table: findings sorted by severity, then the decision."""

from __future__ import annotations

import io
from typing import Any

from scanner.core import Severity
from scanner.report import view

VULN_COLUMNS = ("installed", "fixed", "advisory")
WIDE = 110  # below this many columns the version and advisory columns fold into the message


def render(record: dict[str, Any], *, color: bool = False, width: int | None = None, **_: Any) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from scanner.textsafe import terminal as t

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width or 120, highlight=False)
    findings = sorted(record["findings"], key=lambda f: (-Severity(f["severity"]).rank, f["subject"], f["id"]))
    art = record["artifact"]
    console.print(f"{t(art['name'])} ({t(art['kind'])}) {t(art['digest'])}", markup=False)
    if findings:
        # vulnerabilities add what an upgrade needs: the installed and fixed versions and the
        # advisory, as columns when the terminal is wide enough, else at the start of the message
        vulns = any(view.is_vulnerability(f) for f in findings)
        wide = vulns and console.width >= WIDE
        table = Table(show_lines=False, highlight=False)
        for col in ("severity", "rule", "subject", *(VULN_COLUMNS if wide else ()), "message"):
            table.add_column(col, overflow="fold")
        for f in findings:
            waived = f.get("waived")
            severity = f["severity"].upper() + (f" (waived {waived.get('id')})" if waived else "")
            cols = view.vuln_columns(f)
            row = [severity, f["id"], cols.package or f["subject"]]
            message = view.vuln_message(f, limit=100)
            if wide:
                row += [cols.installed, cols.fixed, cols.advisory]
            elif cols.advisory:
                message = f"{cols.installed} → {cols.fixed or '?'} · {cols.advisory} · {message}"
            table.add_row(*(Text(t(x)) for x in (*row, message)))
        console.print(table)
    else:
        console.print("no findings")
    for c in record.get("checks") or []:
        if not c.get("complete", True):
            console.print(
                f"warning: the {t(c['check'])} check could not examine everything (not fully checked)", markup=False
            )
    counts = record.get("counts") or {}
    if counts:
        console.print(", ".join(f"{counts[s.value]} {s.value}" for s in reversed(Severity) if s.value in counts))
    from scanner.report.quality import lines as quality_lines

    for line in quality_lines(record):
        console.print(line, markup=False)
    decision = record.get("decision")
    if decision is not None:
        verdict = "ALLOWED" if decision["allow"] else "DENIED"
        console.print(
            f"decision: {verdict} (promotion to {t(record.get('stage'))})",
            markup=False,
            style="bold green" if decision["allow"] else "bold red",
        )
        for r in decision["deny"]:
            console.print(f"  deny  [{t(r['rule'])}] {t(r['message'])}", markup=False, style="red")
        for r in decision["warn"]:
            console.print(f"  warn  [{t(r['rule'])}] {t(r['message'])}", markup=False, style="yellow")
    return buf.getvalue()
