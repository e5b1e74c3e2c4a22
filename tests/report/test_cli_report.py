"""The gate's ledger options and the `scanner report` commands, through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from scanner.precommit import main as precommit_main


@pytest.fixture
def denied_req(tmp_path: Path) -> Path:
    req = tmp_path / "requirements.txt"
    req.write_text("evil<script>|x==1.0 ; python_version>'0'\nflask>=2\n")
    return req


@pytest.fixture
def clean_req(tmp_path: Path) -> Path:
    req = tmp_path / "clean" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("requests==2.32.3\n")
    return req


def test_gate_appends_each_decision_to_the_ledger(cli, tmp_path: Path, denied_req: Path, clean_req: Path) -> None:
    db = tmp_path / "ci" / "ledger.db"
    first = cli("gate", clean_req, "--ledger", db, "-f", "json")
    second = cli("gate", denied_req, "--stage", "prod", "--ledger", db, "-f", "json")
    assert (first.code, second.code) == (0, 1)
    r1, r2 = json.loads(first.out), json.loads(second.out)
    assert r1["ledger"]["seq"] == 1 and r2["ledger"]["seq"] == 2
    assert f"ledger: decision #2 appended to {db}" in second.err
    rows = sqlite3.connect(db).execute("SELECT seq, artifact, stage, allow, hash FROM decisions").fetchall()
    assert [(s, a, st, al) for s, a, st, al, _ in rows] == [
        (1, "requirements.txt", "dev", 1),
        (2, "requirements.txt", "prod", 0),
    ]
    assert rows[1][4] == r2["ledger"]["hash"]
    ok = cli("report", "verify-ledger", db)
    assert ok.code == 0 and ok.out.startswith(f"ledger {db}: OK, 2 record(s), head #2 {r2['ledger']['hash']}")


def test_no_ledger_default_path_and_config(cli, tmp_path: Path, clean_req: Path, monkeypatch) -> None:
    monkeypatch.delenv("SCANNER_LEDGER")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli("gate", clean_req, "--no-ledger", "-f", "json").code == 0
    assert not (tmp_path / "state").exists()
    assert cli("gate", clean_req, "-f", "json").code == 0
    assert (tmp_path / "state" / "scanner" / "ledger.db").is_file()  # the default: the user state directory
    assert not (work / ".scanner").exists()
    (work / "scanner.toml").write_text('ledger = "audit/decisions.db"\n')
    assert cli("gate", clean_req, "-f", "json").code == 0
    assert not (work / "audit").exists()  # a config in the working directory is never discovered
    assert cli("--config", work / "scanner.toml", "gate", clean_req, "-f", "json").code == 0
    assert (work / "audit" / "decisions.db").is_file()


def _ledger_with_three(cli, tmp_path: Path, denied_req: Path, clean_req: Path) -> Path:
    db = tmp_path / "l.db"
    for path, stage in ((clean_req, "dev"), (denied_req, "prod"), (clean_req, "staging")):
        cli("gate", path, "--stage", stage, "--ledger", db, "-f", "json")
    return db


def test_audit_report_over_the_ledger(cli, tmp_path: Path, denied_req: Path, clean_req: Path) -> None:
    db = _ledger_with_three(cli, tmp_path, denied_req, clean_req)
    md = cli("report", "--ledger", db, "--since", "2000-01-01")
    assert md.code == 0, md.err
    assert md.out.startswith("## scanner audit report: 3 decision(s) since 2000-01-01")
    assert "**2 promoted · 1 blocked · 0 with waived findings**" in md.out
    rows = [line for line in md.out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [r.split("|")[5].strip() for r in rows] == ["✅ promoted", "❌ blocked", "✅ promoted"]
    assert "<script>" not in md.out
    assert cli("report", "--ledger", db, "--since", "2999-01-01").out.count("No decisions in this window") == 1
    only = cli("report", "--ledger", db, "--artifact", "nothing-by-this-name", "-f", "json")
    assert json.loads(only.out)["totals"]["decisions"] == 0
    html = tmp_path / "audit.html"
    r = cli("report", "--ledger", db, "-f", f"html={html}")
    assert r.code == 0 and 'data-ledger-ok="true"' in html.read_text()
    bad = cli("report", "--ledger", db, "--since", "last tuesday")
    assert bad.code == 2 and "expected a date" in bad.err


def test_tampered_ledger_fails_verification_and_the_report_says_so(
    cli, tmp_path: Path, denied_req: Path, clean_req: Path
) -> None:
    db = _ledger_with_three(cli, tmp_path, denied_req, clean_req)
    con = sqlite3.connect(db)
    con.execute("UPDATE decisions SET record = replace(record, '\"allow\":false', '\"allow\":true') WHERE seq = 2")
    con.commit()
    con.close()
    r = cli("report", "verify-ledger", db)
    assert r.code == 1
    assert "BROKEN" in r.out and "#2: record content does not match its sha256 (edited)" in r.out
    as_json = json.loads(cli("report", "verify-ledger", db, "--json").out)
    assert as_json["ok"] is False and as_json["records"] == 3
    report = cli("report", "--ledger", db)
    assert report.code == 1 and "> [!CAUTION]" in report.out and "#2: record content" in report.err
    missing = cli("report", "verify-ledger", tmp_path / "nope.db")
    assert missing.code == 2 and "ledger not found" in missing.err


def test_render_saved_record_in_every_format(cli, tmp_path: Path, denied_req: Path) -> None:
    saved = tmp_path / "gate.json"
    assert cli("gate", denied_req, "--stage", "prod", "-f", f"json={saved}").code == 1
    for fmt, marker in (("sarif", '"version": "2.1.0"'), ("junit", "<testsuites"), ("html", "<!DOCTYPE html>")):
        r = cli("report", "render", saved, "--format", fmt)
        assert r.code == 0 and marker in r.out
        if fmt == "sarif":
            import jsonschema

            from tests.report.test_formats import SARIF_SCHEMA

            sarif = json.loads(r.out)
            jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
            rules = {res["ruleId"] for res in sarif["runs"][0]["results"]}
            assert {"SBOM-UNPARSEABLE-REQUIREMENT", "VULN-UNAUDITED"} <= rules
    notrecord = tmp_path / "x.json"
    notrecord.write_text('{"hello": 1}')
    r = cli("report", "render", notrecord, "-f", "html")
    assert r.code == 2 and "not a scanner evidence record" in r.err


def test_precommit_runs_each_file_and_returns_the_worst(clean_req: Path, denied_req: Path, tmp_path: Path) -> None:
    assert precommit_main(["requirements", str(clean_req)]) == 0
    assert precommit_main(["requirements", str(clean_req), str(tmp_path / "missing.txt")]) == 2
