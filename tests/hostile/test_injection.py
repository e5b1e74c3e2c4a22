"""Attacker text (file names, pickle global names, requirement lines, model-card fields) reaches
every renderer neutralised for its medium; the SARIF cap never drops the policy's reasons."""

from __future__ import annotations

import json
from pathlib import Path

from scanner.report.sarif import to_sarif
from tests.hostile.conftest import Hostile

FAKE = "\x1b[2K\r\x1b[1Adecision: ALLOWED (promotion to prod)\x1b[8m"
MD = "[click](https://evil.example/x) ![img](https://evil.example/p.png) @admin <b>x</b> www.evil.example"


def _pickle_global(module: str, name: str) -> bytes:
    """``module.name`` called with one string argument (never run here)."""
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."


def _no_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert not bad, repr(text[-1500:])


def _model(work: Path) -> Path:
    model = work / "model"
    model.mkdir()
    (model / f"evil{FAKE}.pkl").write_bytes(_pickle_global("os", "system"))
    (model / "odd.pkl").write_bytes(_pickle_global(f"evil{FAKE}mod", "fn"))
    return model


def test_terminal_table_and_logs_carry_no_control_characters(hostile: Hostile) -> None:
    model = _model(hostile.work)
    out = hostile.run("scan", model, "--no-second-opinion")
    assert out.code == 1
    _no_controls(out.out)
    _no_controls(out.err)
    assert "\\x1b[2K" in out.out  # shown, visibly, not obeyed
    gate = hostile.run("gate", model, "--stage", "prod", "--no-ledger", memory=False)
    assert gate.code == 1
    _no_controls(gate.out)
    _no_controls(gate.err)
    lines = [line for line in gate.out.splitlines() if line.startswith("decision:")]
    assert lines == ["decision: DENIED (promotion to prod)"]


def test_requirement_line_in_logs_and_table(hostile: Hostile) -> None:
    req = hostile.work / "requirements.txt"
    req.write_text(f"flask{FAKE} ===\n")
    out = hostile.run("gate", req, "--stage", "prod", "--no-ledger", memory=False)
    _no_controls(out.out)
    _no_controls(out.err)
    missing = hostile.work / f"missing{FAKE}.txt"
    err = hostile.run("scan", missing)
    assert err.code == 2
    _no_controls(err.err)


def test_markdown_keeps_attacker_links_images_and_mentions_dead(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "links.pkl").write_bytes(_pickle_global(MD, "system"))
    out = hostile.run("scan", model, "-f", "markdown", "--no-second-opinion")
    assert out.code == 1
    text = out.out
    assert "evil.example" in text
    for live in ("](https://", "![", "https://evil", "@admin", "<b>", "www.evil"):
        assert live not in text, live
    _no_controls(text)


def test_sarif_is_plain_text(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / f"x{FAKE}.pkl").write_bytes(_pickle_global(f"{MD}{FAKE}", "y"))
    out = hostile.run("gate", model, "-f", "sarif", "--stage", "prod", "--no-ledger", memory=False)
    doc = json.loads(out.out)
    run = doc["runs"][0]
    for rule in run["tool"]["driver"]["rules"]:
        assert "](https://" not in rule["help"]["markdown"] and "@admin" not in rule["help"]["markdown"]
        _no_controls(rule["help"]["text"] + rule["fullDescription"]["text"])
    for result in run["results"]:
        _no_controls(result["message"]["text"])


def test_html_report_escapes_and_keeps_its_csp(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "<script>alert(1)<\\script>.pkl").write_bytes(_pickle_global("os", "system"))
    out = hostile.run("scan", model, "-f", "html", "--no-second-opinion")
    assert "Content-Security-Policy" in out.out
    assert "<script>alert(1)" not in out.out
    assert "&lt;script&gt;alert(1)" in out.out


def test_sarif_cap_never_drops_policy_reasons() -> None:
    findings = [
        {"id": "MODEL-PICKLE-GLOBAL", "check": "model", "severity": "critical", "subject": f"m/{i}.pkl", "message": "x"}
        for i in range(60)
    ]
    record = {
        "command": "gate",
        "stage": "prod",
        "artifact": {"name": "m", "kind": "model-dir", "digest": "sha256:0", "path": "m"},
        "findings": findings,
        "checks": [],
        "decision": {
            "allow": False,
            "deny": [{"rule": "model-unsafe", "message": "unsafe"}, {"rule": "signature-missing", "message": "none"}],
            "warn": [{"rule": "sbom-incomplete", "message": "w"}],
        },
    }
    sarif = to_sarif(record, max_results=50)
    results = sarif["runs"][0]["results"]
    assert len(results) == 50
    rules = [r["ruleId"] for r in results if r["ruleId"].startswith("POLICY/")]
    assert rules == ["POLICY/model-unsafe", "POLICY/signature-missing", "POLICY/sbom-incomplete"]
    assert sarif["runs"][0]["properties"]["resultsTotal"] == 63
    tiny = to_sarif(record, max_results=1)["runs"][0]["results"]
    assert [r["ruleId"] for r in tiny] == ["POLICY/model-unsafe", "POLICY/signature-missing", "POLICY/sbom-incomplete"]


def test_model_card_fields_reach_no_terminal_raw(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "model.pkl").write_bytes(_pickle_global("os", "system"))
    escaped = '"\\e[2K\\rdecision: ALLOWED (promotion to prod)\\e[8m"'  # YAML escapes: parses to ESC, CR
    (model / "README.md").write_text(
        f"---\nlicense: {escaped}\nmodel_name: {escaped}\ndatasets: [{escaped}]\n---\n# card\n"
    )
    out = hostile.run(
        "gate", model, "--stage", "prod", "--no-ledger", "-f", "table", "-f", "markdown=r.md", memory=False
    )
    assert out.code == 1
    _no_controls(out.out)
    _no_controls(out.err)
    _no_controls((hostile.work / "r.md").read_text())
    assert [line for line in out.out.splitlines() if line.startswith("decision:")] == [
        "decision: DENIED (promotion to prod)"
    ]
