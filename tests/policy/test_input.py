"""The input builder: schema conformance, indexes and summaries, and the engine's view of it."""

from __future__ import annotations

from pathlib import Path

from scanner.core import Finding, Severity
from scanner.policy.engine import Module, References
from scanner.policy.input import license_alternatives
from scanner.policy.schema import input_errors
from scanner.waivers import Waiver
from tests.policy.conftest import model, vuln


def test_built_input_matches_the_schema(make_input) -> None:
    import datetime as dt

    doc = make_input(
        "prod",
        [vuln(), vuln("GHSA-x", Severity.CRITICAL, fix=False), model()],
        licenses=["MIT OR AGPL-3.0-only"],
        waivers=[Waiver("W-1", {"rule": "MODEL-*"}, "r", "o", dt.date(2027, 1, 1))],
    )
    assert input_errors(doc) == []


def test_indexes_and_summaries(make_input) -> None:
    doc = make_input("prod", [vuln(), vuln("PYSEC-2", Severity.CRITICAL, fix=False), model()])
    idx = doc["findings_index"]
    assert idx["by_rule"] == {"VULN-KNOWN": [0, 1], "MODEL-PICKLE-GLOBAL": [2]}
    assert idx["by_severity"] == {"high": [0], "critical": [1, 2]}
    assert idx["waived"] == []
    rules = idx["open"]["rules"]
    assert rules["VULN-KNOWN"]["count"] == 2 and rules["VULN-KNOWN"]["check"] == "vulns"
    assert rules["MODEL-PICKLE-GLOBAL"]["severities"]["critical"]["examples"][0] == {
        "id": "MODEL-PICKLE-GLOBAL",
        "check": "model",
        "severity": "critical",
        "subject": "m.pkl",
        "evidence": {"global": "os.system", "offset": 12},
        "position": 2,
    }
    assert idx["open"]["vulns"]["fixable"]["high"]["count"] == 1
    assert idx["open"]["vulns"]["unfixable"]["critical"]["examples"][0]["position"] == 1
    assert doc["sbom"]["licenses"] == {"MIT": {"count": 1, "names": ["lib0 1.0"], "alternatives": [["MIT"]]}}


def test_examples_are_capped() -> None:
    from scanner.policy.input import index_findings

    findings = [{**Finding("X", "c", Severity.LOW, f"s{i}", "m").to_dict(), "waived": None} for i in range(12)]
    group = index_findings(findings)["open"]["rules"]["X"]["severities"]["low"]
    assert group["count"] == 12 and [e["position"] for e in group["examples"]] == [0, 1, 2, 3, 4]


def test_license_alternatives() -> None:
    assert license_alternatives("MIT OR AGPL-3.0-only") == [["MIT"], ["AGPL-3.0-only"]]
    assert license_alternatives("(MIT AND GPL-2.0-only)") == [["GPL-2.0-only", "MIT"]]
    assert license_alternatives("GPL-2.0-only WITH Classpath-exception-2.0") == [["GPL-2.0-only"]]
    assert license_alternatives("((broken") == [["broken"]]


def test_view_passes_only_named_keys() -> None:
    refs = References.scan(
        [Module(Path("a.rego"), "# input.findings in a comment does not count\nx := input.findings_index.open\n")]
    )
    doc = {"findings": [1], "findings_index": {"by_rule": {}, "open": {}}, "waivers": [{"id": "W", "matched": [1]}]}
    assert refs.view(doc) == {"findings_index": {"open": {}}}
    bare = References.scan([Module(Path("b.rego"), 'x := object.get(input, "findings", [])\n')])
    assert bare.everything and bare.view(doc) is doc


def test_view_cuts_the_summaries_records_to_named_fields(make_input, tmp_path) -> None:
    from scanner.policy.engine import PolicyEngine

    doc = make_input("prod", [vuln(), model()])
    example = doc["findings_index"]["open"]["rules"]["MODEL-PICKLE-GLOBAL"]["severities"]["critical"]["examples"][0]
    assert example["position"] == 1 and example["evidence"]["global"] == "os.system"
    assert "by_type" in doc["sbom"]["summary"] and "with_purl" in doc["sbom"]["summary"]
    text = "x := input.findings_index.open\ny := input.sbom.summary.by_type\n# position, global: only in a comment\n"
    refs = References.scan([Module(Path("a.rego"), "package p\n" + text + "z := f.subject\nw := f.evidence\n")])
    view = refs.view(doc)
    seen = view["findings_index"]["open"]["rules"]["MODEL-PICKLE-GLOBAL"]["severities"]["critical"]["examples"][0]
    assert seen == {"subject": example["subject"], "evidence": {}}
    vuln_example = view["findings_index"]["open"]["vulns"]["fixable"]["high"]["examples"][0]
    # `package` is a word of the module (its package line): a false match only costs time
    assert vuln_example == {"subject": "pkg:pypi/requests@2.28.1", "evidence": {"package": "requests"}}
    assert view["sbom"]["summary"] == {"by_type": doc["sbom"]["summary"]["by_type"]}
    # the document itself is not changed
    assert example["position"] == 1 and "with_purl" in doc["sbom"]["summary"]

    # a policy that names a field gets it
    (tmp_path / "p.rego").write_text(
        "package p\nimport rego.v1\n"
        'g := input.findings_index.open.rules["MODEL-PICKLE-GLOBAL"].severities.critical.examples[0]\n'
        "out := [g.position, g.evidence.global, object.keys(g)]\n"
    )
    out = PolicyEngine(tmp_path, cache=False).query(doc, "data.p.out")
    assert out == [1, "os.system", ["evidence", "position"]]
