"""The HTML report in a real browser: Debian's headless Chromium, driven over the DevTools pipe.

The page must work with its own CSP (script and style by hash), show the decision, list every
finding, sort and filter. A screenshot is kept under tests/report/artifacts/ (gitignored).
In CI (CI=true) a missing Chromium is a failure; locally the test is skipped with the reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from scanner.report import render
from tests.report.browser import Browser

ARTIFACTS = Path(__file__).parent / "artifacts"


def _open(browser: Browser, record: dict[str, Any], path: Path) -> None:
    path.write_text(render("html", record), encoding="utf-8")
    browser.open(path.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-js')") == "ready", "report script did not run"


def _column(browser: Browser, table: str, col: int) -> list[str]:
    return browser.eval(
        f"Array.from(document.querySelectorAll('#{table} tbody tr')).filter(r => !r.hidden)"
        f".map(r => r.cells[{col}].textContent.trim())"
    )


def _click_header(browser: Browser, table: str, col: int) -> None:
    browser.eval(f"document.querySelectorAll('#{table} thead th')[{col}].querySelector('button').click()")


def test_report_renders_sorts_and_filters(browser: Browser, sample_record: dict[str, Any], tmp_path: Path) -> None:
    _open(browser, sample_record, tmp_path / "report.html")
    browser.screenshot(ARTIFACTS / "report.png")
    assert (ARTIFACTS / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    banner = browser.eval("document.getElementById('decision').innerText")
    assert banner.startswith("DENIED") and "to prod" in banner
    # our stylesheet applied under the CSP (a blocked style would leave the banner unstyled)
    assert "gradient" in browser.eval("getComputedStyle(document.getElementById('decision')).backgroundImage")
    rows = browser.eval("document.querySelectorAll('tr.finding').length")
    assert rows == len(sample_record["findings"])
    # the hostile file name is text in the page, not an element
    assert browser.eval("document.querySelectorAll('img').length") == 0
    subjects = browser.eval("Array.from(document.querySelectorAll('#findings-1 td.subject')).map(c => c.textContent)")
    assert any('"><img src=x onerror=alert(1)>.pt' in s for s in subjects)

    # severity: most severe first as rendered; one click sorts ascending, the next descending
    assert _column(browser, "findings-3", 0) == ["medium", "low"]
    _click_header(browser, "findings-3", 0)
    assert _column(browser, "findings-3", 0) == ["low", "medium"]
    assert browser.eval("document.querySelectorAll('#findings-3 thead th')[0].getAttribute('aria-sort')") == (
        "ascending"
    )
    _click_header(browser, "findings-3", 0)
    assert _column(browser, "findings-3", 0) == ["medium", "low"]

    # filters: hide waived, then free text
    assert len(_column(browser, "findings-2", 1)) == 2
    browser.eval(
        "(() => { const box = document.querySelector('form[data-table=findings-2] input[name=waived]');"
        " box.click(); })()"
    )
    assert _column(browser, "findings-2", 7) == ["open"]  # vulnerabilities: + installed, fixed, advisories
    shown = browser.eval("document.querySelector('form[data-table=findings-2] .shown').textContent")
    assert shown == "1 of 2 shown"
    browser.eval(
        "(() => { const q = document.querySelector('form[data-table=component-table] input[type=search]');"
        " q.value = 'pyyaml'; q.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )
    assert _column(browser, "component-table", 0) == ["PyYAML"]


def test_sorting_many_rows(browser: Browser, sample_record: dict[str, Any], tmp_path: Path) -> None:
    rec = copy.deepcopy(sample_record)
    base = next(f for f in rec["findings"] if f["check"] == "sbom")
    severities = ["low", "critical", "info", "high", "medium"]
    rec["findings"] = [
        {**base, "id": f"SBOM-R{i % 7}", "subject": f"file{i}.txt", "severity": severities[i % 5], "waived": None}
        for i in range(1, 31)
    ]
    rec["checks"] = [{"check": "sbom", "complete": True, "findings": 30, "summary": {}}]
    _open(browser, rec, tmp_path / "many.html")
    _click_header(browser, "findings-1", 2)  # subject, natural (numeric-aware) order
    assert _column(browser, "findings-1", 2) == [f"file{i}.txt" for i in range(1, 31)]
    _click_header(browser, "findings-1", 2)
    assert _column(browser, "findings-1", 2) == [f"file{i}.txt" for i in range(30, 0, -1)]
    _click_header(browser, "findings-1", 0)  # severity: first click on it gives descending
    ranks = _column(browser, "findings-1", 0)
    order = ["critical", "high", "medium", "low", "info"]
    assert ranks == sorted(ranks, key=order.index)
    browser.eval(
        "(() => { const s = document.querySelector('form[data-table=findings-1] select[name=severity]');"
        " s.value = '3'; s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    assert set(_column(browser, "findings-1", 0)) == {"critical", "high"}


def test_ledger_audit_page_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    from scanner.evidence.ledger import Ledger
    from scanner.report import history

    db = tmp_path / "l.db"
    with Ledger(db) as ledger:
        for i, allow in enumerate((True, False, True)):
            ledger.append(
                {
                    "schema": "scanner-evidence/2",
                    "timestamp": f"2026-11-1{i}T10:00:00Z",
                    "artifact": {"name": f"<b>model{i}</b>", "kind": "model-dir", "digest": "sha256:" + "a" * 64},
                    "stage": "prod",
                    "findings": [],
                    "decision": {"allow": allow, "deny": [] if allow else [{"rule": "r", "message": "m"}], "warn": []},
                }
            )
        doc = history.build(ledger.entries(), ledger.verify(), {"since": None, "until": None, "artifact": None})
    page = tmp_path / "audit.html"
    page.write_text(history.render("html", doc))
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-js')") == "ready"
    assert browser.eval("document.querySelector('header').dataset.ledgerOk") == "true"
    outcomes = browser.eval("Array.from(document.querySelectorAll('tr.decision')).map(r => r.dataset.outcome)")
    assert outcomes == ["promoted", "blocked", "promoted"]
    assert browser.eval("document.querySelectorAll('b').length") == 0
    _click_header(browser, "decision-table", 0)
    _click_header(browser, "decision-table", 0)
    assert _column(browser, "decision-table", 0) == ["3", "2", "1"]
    browser.screenshot(ARTIFACTS / "audit.png")
    json.dumps(doc)  # the JSON form of the same report serialises
