"""`scanner policy eval|test` and the error paths: every failure is exit 2 with a clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.core import ScanError
from scanner.policy.engine import PolicyEngine
from tests.policy.conftest import model, vuln


def _save(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_eval_allowed_and_denied(cli, make_input, tmp_path: Path) -> None:
    r = cli("policy", "eval", "--input", _save(tmp_path / "ok.json", make_input("prod")))
    assert r.code == 0 and json.loads(r.out) == {"allow": True, "deny": [], "warn": []}
    r = cli("policy", "eval", "--input", _save(tmp_path / "bad.json", make_input("staging", [vuln(), model()])))
    assert r.code == 1
    assert sorted(d["rule"] for d in json.loads(r.out)["deny"]) == ["model-unsafe", "vuln-fixable"]


def test_eval_rejects_schema_violations_naming_file_and_path(cli, make_input, tmp_path: Path) -> None:
    doc = make_input("prod", [vuln()])
    doc["findings"][0]["severity"] = "severe"
    del doc["promotion"]["to"]
    path = _save(tmp_path / "in.json", doc)
    r = cli("policy", "eval", "--input", path)
    assert r.code == 2 and r.out == ""
    assert r.err.strip() == (
        f"scanner: error: {path}: policy input does not match input.schema.json: "
        "$.findings[0].severity: 'severe' is not one of ['critical', 'high', 'medium', 'low', 'info']; "
        "$.promotion: 'to' is a required property"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        ("[]", "$: [] is not of type 'object'"),
    ],
)
def test_eval_bad_input_files(cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    r = cli("policy", "eval", "--input", path)
    assert r.code == 2 and message in r.err and str(path) in r.err and "Traceback" not in r.err
    missing = cli("policy", "eval", "--input", tmp_path / "nope.json")
    assert missing.code == 2 and "input file not found" in missing.err


def test_missing_and_malformed_data_files(cli, make_input, tmp_path: Path) -> None:
    inp = _save(tmp_path / "in.json", make_input("prod"))
    r = cli("policy", "eval", "--input", inp, "--data", tmp_path / "none.json")
    assert r.code == 2 and "policy data file not found" in r.err
    bad = tmp_path / "data.json"
    bad.write_text('{"scanner": ')
    r = cli("policy", "eval", "--input", inp, "--data", bad)
    assert r.code == 2 and f"{bad}: invalid JSON at line 1 column 13" in r.err


def test_malformed_waiver_file_stops_the_gate(cli, tmp_path: Path) -> None:
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    w = tmp_path / "waivers.yaml"
    w.write_text("waivers:\n  - {id: A, selector: {rule: X}, reason: r, owner: o, expires: soon}\n")
    r = cli("gate", d, "--waivers", w)
    assert r.code == 2 and "expires must be a date" in r.err and str(w) in r.err


def test_compile_error_names_file_line_col(cli, make_input, tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "gate.rego").write_text("package scanner.gate\nimport rego.v1\n\nallow if { input.x == }\n")
    r = cli("policy", "eval", "--input", _save(tmp_path / "in.json", make_input("prod")), "--policy", pol)
    assert r.code == 2 and r.out == ""
    assert (
        r.err.strip() == f"scanner: error: {pol / 'gate.rego'}:4:20: policy does not compile: Invalid boolean operator"
    )


def test_policy_without_allow_is_an_error_not_an_allow(make_input, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text('package scanner.gate\nimport rego.v1\nwarn contains "x" if false\n')
    with pytest.raises(ScanError, match=r"data.scanner.gate.allow is not defined as true or false"):
        PolicyEngine(tmp_path).evaluate(make_input("prod"))


def test_minimal_user_policy_without_warn_rule(make_input, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text(
        "package scanner.gate\nimport rego.v1\ndefault allow := false\nallow if count(deny) == 0\n"
        'deny contains {"rule": "no-models", "message": "no"} if input.artifact.kind == "model-dir"\n'
    )
    decision = PolicyEngine(tmp_path).evaluate(make_input("prod"))
    assert decision.allow and decision.warn == ()


def test_user_policy_reading_every_finding_gets_them(make_input, tmp_path: Path) -> None:
    """The engine passes `findings` when a module names it (the shipped ones read summaries)."""
    (tmp_path / "gate.rego").write_text(
        "package scanner.gate\nimport rego.v1\ndefault allow := false\nallow if count(deny) == 0\n"
        'deny contains {"rule": "no-os-system", "message": f.subject} if {\n'
        '  some f in input.findings\n  f.evidence.global == "os.system"\n}\n'
    )
    decision = PolicyEngine(tmp_path).evaluate(make_input("prod", [model()]))
    assert [(r.rule, r.message) for r in decision.deny] == [("no-os-system", "m.pkl")]


def test_policy_test_command_passes_on_shipped_policies(cli) -> None:
    r = cli("policy", "test")
    assert r.code == 0, r.out + r.err
    lines = r.out.splitlines()
    assert lines[-1].endswith(" passed, 0 failed") and int(lines[-1].split()[0]) >= 25
    assert "PASS  scanner.gate_test.test_unsafe_model_denied_at_every_stage" in lines


def test_policy_test_reports_failures_exit_1(cli, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text(
        'package scanner.gate\nimport rego.v1\ndefault allow := false\nallow if input.promotion.to == "dev"\n'
    )
    (tmp_path / "gate_test.rego").write_text(
        "package scanner.gate_test\nimport rego.v1\nimport data.scanner.gate\n"
        'test_dev_allowed if { gate.allow with input.promotion.to as "dev" }\n'
        'test_prod_allowed if { gate.allow with input.promotion.to as "prod" }\n'
    )
    r = cli("policy", "test", tmp_path)
    assert r.code == 1
    assert r.out.splitlines() == [
        "PASS  scanner.gate_test.test_dev_allowed",
        f"FAIL  scanner.gate_test.test_prod_allowed  (undefined; {tmp_path / 'gate_test.rego'}:5)",
        "1 passed, 1 failed",
    ]


def test_policy_test_refuses_with_input_as(cli, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text("package scanner.gate\nimport rego.v1\ndefault allow := true\n")
    (tmp_path / "gate_test.rego").write_text(
        "package scanner.gate_test\nimport rego.v1\n# with input as in a comment is fine\n"
        'test_x if { data.scanner.gate.allow with input as {"a": 1} }\n'
    )
    r = cli("policy", "test", tmp_path)
    assert r.code == 2
    assert f"{tmp_path / 'gate_test.rego'}:4:37: `with input as …` crashes regopy 1.5.2" in r.err


def test_policy_test_without_tests_is_an_error(cli, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text("package scanner.gate\nimport rego.v1\ndefault allow := true\n")
    r = cli("policy", "test", tmp_path)
    assert r.code == 2 and "no test_ rules" in r.err


def test_compile_error_output_does_not_reach_stdout(capfd, tmp_path: Path) -> None:
    (tmp_path / "gate.rego").write_text("package scanner.gate\nallow if {\n")
    with pytest.raises(ScanError, match="policy does not compile"):
        PolicyEngine(tmp_path)
    assert capfd.readouterr().out == ""
