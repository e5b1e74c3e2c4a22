"""Reports an auditor can use, from real gate runs: versions and advisories as columns, links to
advisories, vulnerable components with what to upgrade to, the model card and model check, the
reasons with their evidence, SARIF anchored to the artifact, and the ledger's timeline."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from scanner.report import render, view
from scanner.report.sarif import to_sarif
from tests.conftest import REPO

APP = "flask==2.2.2\nwerkzeug==2.2.2\nidna==3.4\nurllib3==1.26.12\nPyYAML==6.0.1\n"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real records: an application denied at prod for fixable vulnerabilities, a model with a
    model card, and a ledger of several decisions in which the application improves."""
    import sys

    from scanner import ui
    from scanner.cli import main

    root = tmp_path_factory.mktemp("auditor")
    app = root / "app"
    app.mkdir()
    (app / "requirements.txt").write_text(APP)
    model = root / "model"
    model.mkdir()
    for name in ("README.md", "config.json"):
        shutil.copy(REPO / "examples" / "model" / name, model / name)
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import make_model

        make_model.main(model)
    finally:
        sys.path.remove(str(REPO / "examples"))
    ledger = root / "ledger.db"

    def gate(path: Path, stage: str, out: Path) -> dict[str, Any]:
        ui.configure(quiet=True, no_color=True, debug=False)
        try:
            main(["gate", str(path), "--stage", stage, "--ledger", str(ledger), "-f", f"json={out}"])
        except SystemExit as exc:
            assert exc.code in (0, 1)
        return json.loads(out.read_text())

    out: dict[str, Any] = {"root": root, "ledger": ledger}
    out["app"] = gate(app, "prod", root / "app.json")
    out["model"] = gate(model, "staging", root / "model.json")
    gate(app, "staging", root / "s1.json")
    (app / "requirements.txt").write_text(
        APP.replace("idna==3.4", "idna==3.7").replace("urllib3==1.26.12", "urllib3==1.26.19")
    )
    gate(app, "staging", root / "s2.json")
    return out


def _vuln(record: dict[str, Any], package: str) -> dict[str, Any]:
    return next(f for f in record["findings"] if (f.get("evidence") or {}).get("package") == package)


# -- table and Markdown ------------------------------------------------------------------------


def test_table_has_installed_fixed_and_advisory_columns_when_wide(records: dict[str, Any]) -> None:
    text = render("table", records["app"], width=160)
    header = next(line for line in text.splitlines() if "severity" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")][:7] == [
        "severity", "rule", "subject", "installed", "fixed", "advisory", "message",
    ]  # fmt: skip
    idna = next(line for line in text.splitlines() if "│ idna " in line)
    cells = [c.strip() for c in idna.strip("│ ").split("│")]
    assert cells[2:6] == ["idna", "3.4", "3.7", _vuln(records["app"], "idna")["evidence"]["vuln_id"]]


@pytest.mark.parametrize("width", [60, 80, 100, 140, 200])
def test_table_never_exceeds_the_width_and_keeps_the_versions(records: dict[str, Any], width: int) -> None:
    text = render("table", records["app"], width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    flat = " ".join(text.split())
    assert "3.4" in flat and "3.7" in flat and "PYSEC-" in flat.replace("│ ", "").replace(" │", "")


def test_markdown_has_the_columns_and_links_each_advisory(records: dict[str, Any]) -> None:
    md = render("markdown", records["app"])
    assert "| severity | rule | subject | installed | fixed | advisory | message |" in md
    vid = _vuln(records["app"], "idna")["evidence"]["vuln_id"]
    assert re.search(rf"\| idna \| 3\.4 \| 3\.7 \| \[{re.escape(vid)}\]\(https://osv\.dev/vulnerability/{vid}\) \|", md)


def test_a_hostile_advisory_id_is_text_not_a_link(records: dict[str, Any]) -> None:
    record = json.loads(json.dumps(records["app"]))
    finding = _vuln(record, "idna")
    finding["evidence"]["vuln_id"] = "x](javascript:alert(1))"
    finding["evidence"]["aliases"] = ['CVE-2024-1"><script>']
    assert view.advisories(finding) == []
    md = render("markdown", record)
    assert "javascript:alert" not in md.replace("javascript:alert\\(1\\)", "")
    assert '"><script>' not in render("html", record)


def test_advisory_pages() -> None:
    assert view.advisory("GHSA-43fp-rhv2-5gv8").url == "https://github.com/advisories/GHSA-43fp-rhv2-5gv8"  # type: ignore[union-attr]
    assert view.advisory("CVE-2023-36095").url == "https://www.cve.org/CVERecord?id=CVE-2023-36095"  # type: ignore[union-attr]
    assert view.advisory("PYSEC-2023-138").url == "https://osv.dev/vulnerability/PYSEC-2023-138"  # type: ignore[union-attr]
    for junk in ("", "no-dash-but spaces", "javascript:alert(1)", None, 7):
        assert view.advisory(junk) is None


# -- the HTML views ---------------------------------------------------------------------------


def test_vulnerable_components_say_what_to_upgrade_to(records: dict[str, Any]) -> None:
    comps = {c.name: c for c in view.vulnerable_components(records["app"])}
    assert set(comps) >= {"flask", "werkzeug", "idna", "urllib3"}
    werkzeug = [f for f in records["app"]["findings"] if (f.get("evidence") or {}).get("package") == "werkzeug"]
    from packaging.version import Version

    highest = max(werkzeug, key=lambda f: Version(f["evidence"]["fixed_in"]))["evidence"]["fixed_in"]
    assert comps["werkzeug"].upgrade_to == highest and len(comps["werkzeug"].vulns) == len(werkzeug)
    assert comps["idna"].upgrade_to == "3.7"
    ordered = [view.severity_rank(c.worst) for c in view.vulnerable_components(records["app"])]
    assert ordered == sorted(ordered, reverse=True)


def test_model_card_and_model_check_summary(records: dict[str, Any]) -> None:
    card = view.model_card(records["model"])
    assert card is not None and card["card"]["modelParameters"]["task"] == "text-classification"
    summary = view.check_summary(records["model"], "model")
    assert summary is not None and summary["files"] >= 2 and summary["complete"] is True


def test_every_reason_links_to_its_evidence(records: dict[str, Any]) -> None:
    reasons = {r["rule"]: r for r in view.decision_evidence(records["app"])}
    assert reasons["vuln-fixable"]["outcome"] == "deny"
    (vulns,) = reasons["vuln-fixable"]["checks"]
    assert vulns["check"] == "vulns" and vulns["open"] >= 4
    html = render("html", records["app"])
    assert f'href="#{vulns["anchor"]}"' in html and f'id="{vulns["anchor"]}"' in html


# -- SARIF ------------------------------------------------------------------------------------


def test_sarif_anchors_artifact_wide_results_to_the_artifact(
    records: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(records["root"])
    for name, uri in (("model", "model/"), ("app", "app/")):
        run = to_sarif(records[name])["runs"][0]
        policy = [r for r in run["results"] if r["ruleId"].startswith("POLICY/")]
        assert policy
        for r in policy:
            (loc,) = r["locations"]
            assert loc["physicalLocation"]["artifactLocation"]["uri"] == uri
            assert loc["logicalLocations"] == [{"fullyQualifiedName": name, "kind": "artifact"}]
    # a package still points at the line of the manifest that pins it
    run = to_sarif(records["app"])["runs"][0]
    idna = next(r for r in run["results"] if r["properties"].get("evidence", {}).get("package") == "idna")
    assert idna["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/requirements.txt"},
        "region": {"startLine": 3},
    }


def test_sarif_of_a_file_artifact_points_at_the_file(records: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    record = json.loads(json.dumps(records["app"]))
    record["artifact"] = {**record["artifact"], "kind": "requirements", "path": "app/requirements.txt"}
    monkeypatch.chdir(records["root"])
    results = [r for r in to_sarif(record)["runs"][0]["results"] if r["ruleId"].startswith("POLICY/")]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        "app/requirements.txt"
    }


# -- the ledger's timeline --------------------------------------------------------------------


def test_ledger_timeline_per_artifact_and_stage_with_the_trend(records: dict[str, Any]) -> None:
    from scanner.evidence.ledger import Ledger
    from scanner.report import history

    with Ledger(records["ledger"], create=False) as db:
        doc = history.build(db.entries(), db.verify(), {})
    lanes = {(a["artifact"], lane["stage"]): lane for a in doc["timeline"] for lane in a["lanes"]}
    assert set(lanes) == {("app", "prod"), ("app", "staging"), ("model", "staging")}
    staging = lanes[("app", "staging")]
    assert [p["seq"] for p in staging["points"]] == sorted(p["seq"] for p in staging["points"])
    assert len(staging["points"]) == 2 and staging["trend"]["direction"] == "better"
    assert staging["trend"]["open_change"] < 0 and staging["trend"]["digests"] == 2
    assert len(staging["chart"]["dots"]) == 2
    assert "▼ better" in history.render("markdown", doc)
    assert json.loads(history.render("json", doc))["timeline"] == json.loads(json.dumps(doc["timeline"]))


# -- in the browser ---------------------------------------------------------------------------


def test_auditor_views_in_chromium(browser: Any, records: dict[str, Any], tmp_path: Path) -> None:
    from scanner.evidence.ledger import Ledger
    from scanner.report import history
    from tests.report.conftest import ARTIFACTS

    def open_page(name: str, html: str) -> None:
        page = tmp_path / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        browser.open(page.as_uri())
        assert browser.eval("document.documentElement.getAttribute('data-js')") == "ready"
        browser.screenshot(ARTIFACTS / f"auditor-{name}.png")

    open_page("app", render("html", records["app"]))
    rows = browser.eval("document.querySelectorAll('#vulnerable-table tbody tr').length")
    assert rows == len(view.vulnerable_components(records["app"]))
    links = browser.eval("Array.from(document.querySelectorAll('td.advisories a, ul.vulns a')).map(a => a.href)")
    assert links and all(
        re.match(r"https://(osv\.dev/vulnerability/|github\.com/advisories/|www\.cve\.org/CVERecord\?id=)", u)
        for u in links
    )
    targets = browser.eval(
        "Array.from(document.querySelectorAll('.evidence-links a'))"
        ".map(a => !!document.querySelector(a.getAttribute('href')))"
    )
    assert targets and all(targets)
    upgrade = browser.eval(
        "document.querySelector('#vulnerable-table tr[data-package=idna] td.upgrade').textContent.trim()"
    )
    assert upgrade == "3.7"

    open_page("model", render("html", records["model"]))
    assert "text-classification" in browser.eval("document.getElementById('model-card').innerText")
    assert "FILES" in browser.eval("document.getElementById('model-check').innerText").upper()

    with Ledger(records["ledger"], create=False) as db:
        doc = history.build(db.entries(), db.verify(), {})
    open_page("ledger", history.render("html", doc))
    lanes = browser.eval(
        "Array.from(document.querySelectorAll('#timeline tr.lane'))"
        ".map(r => r.dataset.stage + ':' + r.dataset.direction)"
    )
    assert sorted(lanes) == ["prod:same", "staging:better", "staging:same"]
    assert browser.eval("document.querySelectorAll('#timeline circle.dot').length") == len(doc["decisions"])
