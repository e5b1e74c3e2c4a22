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
