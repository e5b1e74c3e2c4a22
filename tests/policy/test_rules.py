"""Each default rule at each stage, through the real input builder and the compiled engine."""

from __future__ import annotations

import pytest

from scanner.core import ArtifactKind, Finding, Severity
from tests.policy.conftest import GOOD_PROVENANCE, GOOD_SIGNATURE, STAGES, model, rules, vuln


def test_clean_artifact_is_allowed_everywhere(engine, make_input) -> None:
    for stage in STAGES:
        decision = engine.evaluate(make_input(stage))
        assert decision.allow, (stage, decision)
        assert decision.deny == () and decision.warn == ()


@pytest.mark.parametrize("stage", STAGES)
def test_unsafe_model_blocks_every_stage(engine, make_input, stage: str) -> None:
    doc = make_input(
        stage, [model(), model("MODEL-KERAS-LAMBDA", Severity.HIGH, "k.keras")], kind=ArtifactKind.MODEL_DIR
    )
    decision = engine.evaluate(doc)
    assert not decision.allow
    assert rules(decision.deny) == {"model-unsafe"}
    assert decision.deny[0].message == (
        "2 unsafe model serialization finding(s): "
        "MODEL-PICKLE-GLOBAL m.pkl (critical); MODEL-KERAS-LAMBDA k.keras (high)"
    )
    assert decision.deny[0].remediation and "safetensors" in decision.deny[0].remediation


@pytest.mark.parametrize("stage", STAGES)
def test_unscannable_model_blocks_every_stage(engine, make_input, stage: str) -> None:
    doc = make_input(stage, [model("MODEL-UNSCANNABLE", Severity.HIGH, "w.bin")], kind=ArtifactKind.MODEL_FILE)
    assert rules(engine.evaluate(doc).deny) == {"model-unscannable"}


def test_medium_model_finding_is_not_unsafe(engine, make_input) -> None:
    doc = make_input("prod", [model("MODEL-PICKLE-IMPORT", Severity.MEDIUM)], kind=ArtifactKind.MODEL_DIR)
    assert "model-unsafe" not in rules(engine.evaluate(doc).deny)


@pytest.mark.parametrize(("stage", "denied"), [("dev", False), ("staging", True), ("prod", True)])
def test_fixable_high_vulnerability(engine, make_input, stage: str, denied: bool) -> None:
    decision = engine.evaluate(make_input(stage, [vuln()]))
    assert ("vuln-fixable" in rules(decision.deny)) is denied
    if denied:
        [reason] = [r for r in decision.deny if r.rule == "vuln-fixable"]
        assert reason.message == (
            "1 known vulnerabilit(y/ies) at or above high with a fix available: "
            "PYSEC-2023-74 in requests 2.28.1 (high, fixed in 2.31.0)"
        )
    else:
        assert decision.allow


def test_fixable_critical_vulnerability_warns_at_dev(engine, make_input) -> None:
    decision = engine.evaluate(make_input("dev", [vuln(severity=Severity.CRITICAL)]))
    assert decision.allow and rules(decision.warn) == {"vuln-fixable"}


@pytest.mark.parametrize("stage", STAGES)
def test_vulnerability_without_fix_only_warns(engine, make_input, stage: str) -> None:
    decision = engine.evaluate(make_input(stage, [vuln(severity=Severity.CRITICAL, fix=False)]))
    assert decision.allow
    assert rules(decision.warn) == {"vuln-no-fix"}


def test_vulnerability_below_threshold_is_ignored(engine, make_input) -> None:
    for stage in STAGES:
        decision = engine.evaluate(make_input(stage, [vuln(severity=Severity.LOW)]))
        assert decision.allow and decision.warn == ()


@pytest.mark.parametrize(("stage", "denied"), [("dev", False), ("staging", False), ("prod", True)])
def test_unaudited_dependency(engine, make_input, stage: str, denied: bool) -> None:
    f = Finding("VULN-UNAUDITED", "vulns", Severity.MEDIUM, "flask", "x", {"package": "flask", "reason": "unpinned"})
    decision = engine.evaluate(make_input(stage, [f]))
    assert ("vuln-unaudited" in rules(decision.deny)) is denied
    if denied:
        assert decision.deny[0].message == "1 dependenc(y/ies) could not be audited: flask (unpinned)"


def test_missing_vulnerability_db_counts_as_unaudited_when_there_are_dependencies(engine, make_input) -> None:
    doc = make_input("prod", context={})
    assert rules(engine.evaluate(doc).deny) == {"vuln-unaudited"}
    model_doc = make_input("prod", context={}, kind=ArtifactKind.MODEL_DIR, licenses=())  # no packages
    assert engine.evaluate(model_doc).allow
    # the kind comes from markers the artifact controls: Python packages in a "model-dir" count
    model_with_packages = make_input("prod", context={}, kind=ArtifactKind.MODEL_DIR)
    assert rules(engine.evaluate(model_with_packages).deny) == {"vuln-unaudited"}


@pytest.mark.parametrize(("stage", "age", "denied"), [("prod", 8, True), ("prod", 7, False), ("staging", 30, False)])
def test_stale_vulnerability_database(engine, make_input, stage: str, age: int, denied: bool) -> None:
    db = {"vulnerability_db": {"source": "osv", "snapshot_date": "2026-10-01", "age_days": age, "records": 1}}
    decision = engine.evaluate(make_input(stage, context=db))
    assert ("vuln-db-stale" in rules(decision.deny)) is denied
    if denied:
        assert decision.deny[0].message == (
            "vulnerability database is 8 days old (snapshot 2026-10-01); this stage allows at most 7"
        )


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "no signature found for the artifact"),
        ({**GOOD_SIGNATURE, "verified": False, "error": "digest mismatch"}, "no signature verified (digest mismatch)"),
        (
            {**GOOD_SIGNATURE, "identity": "mallory@example.com"},
            "verified signature(s) by mallory@example.com (issuer https://token.actions.githubusercontent.com)"
            " but none from an allowed identity",
        ),
        (
            {**GOOD_SIGNATURE, "issuer": "https://accounts.google.com"},
            f"verified signature(s) by {GOOD_SIGNATURE['identity']} (issuer https://accounts.google.com)"
            " but none from an allowed identity",
        ),
    ],
)
def test_prod_requires_allowed_signature(engine, make_input, signature, message: str) -> None:
    doc = make_input("prod", signatures=[] if signature is None else [signature])
    decision = engine.evaluate(doc)
    assert [(r.rule, r.message) for r in decision.deny] == [("signature-required", message)]
    assert engine.evaluate(make_input("staging", signatures=[])).allow


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trusted_builder": False}, "builder https://github.com/actions/runner/github-hosted is not trusted"),
        ({"subject_matches": False}, "provenance subject does not match the artifact"),
        ({"verified": False, "error": "bad signature"}, "provenance not verified: bad signature"),
    ],
)
def test_prod_requires_trusted_provenance(engine, make_input, change, message: str) -> None:
    decision = engine.evaluate(make_input("prod", provenance=[{**GOOD_PROVENANCE, **change}]))
    assert [(r.rule, r.message) for r in decision.deny] == [("provenance-required", message)]
    none = engine.evaluate(make_input("prod", provenance=[]))
    assert [(r.rule, r.message) for r in none.deny] == [("provenance-required", "no provenance found for the artifact")]


@pytest.mark.parametrize(
    ("expression", "denied"),
    [
        ("AGPL-3.0-only", True),
        ("AGPL-3.0-or-later", True),
        ("AGPL-3.0+", True),
        ("MIT AND AGPL-3.0-only", True),
        ("(Apache-2.0 AND AGPL-3.0-only) OR (BSD-3-Clause AND AGPL-3.0-or-later)", True),
        ("AGPL-3.0-only WITH Classpath-exception-2.0", True),
        ("MIT OR AGPL-3.0-only", False),
        ("MIT", False),
        ("GPL-3.0-only", False),
        ("LGPL-3.0-or-later", False),
    ],
)
def test_license_deny_list(engine, make_input, expression: str, denied: bool) -> None:
    decision = engine.evaluate(make_input("prod", licenses=["MIT", expression]))
    assert ("license-denied" in rules(decision.deny)) is denied
    if denied:
        assert f"{expression} (lib1 1.0)" in decision.deny[0].message
        assert "license-denied" in rules(engine.evaluate(make_input("dev", licenses=[expression])).warn)


@pytest.mark.parametrize(("stage", "denied"), [("dev", False), ("staging", False), ("prod", True)])
def test_ntia_gaps(engine, make_input, stage: str, denied: bool) -> None:
    gaps = [
        Finding("SBOM-NTIA-SUPPLIER", "sbom", Severity.MEDIUM, "sbom", "x", {"element": "supplier", "count": 3}),
        Finding("SBOM-NTIA-AUTHOR", "sbom", Severity.LOW, "sbom", "x", {"element": "author", "count": 1}),
    ]
    decision = engine.evaluate(make_input(stage, gaps))
    assert ("sbom-incomplete" in rules(decision.deny)) is denied
    if denied:
        assert decision.deny[0].message == (
            "SBOM lacks NTIA minimum elements: author (1 component(s)), supplier (3 component(s))"
        )


@pytest.mark.parametrize("stage", STAGES)
def test_incomplete_check_blocks_every_stage(engine, make_input, stage: str) -> None:
    decision = engine.evaluate(make_input(stage, complete=False))
    assert [(r.rule, r.message) for r in decision.deny] == [
        ("checks-incomplete", "check findings could not examine everything")
    ]


@pytest.mark.parametrize(("stage", "denied"), [("dev", False), ("staging", False), ("prod", True)])
def test_other_findings_by_stage_threshold(engine, make_input, stage: str, denied: bool) -> None:
    f = Finding("SBOM-UNPINNED-REQUIREMENT", "sbom", Severity.MEDIUM, "requirements.txt:1", "unpinned")
    assert ("finding-severity" in rules(engine.evaluate(make_input(stage, [f])).deny)) is denied


def test_many_findings_are_summarised(engine, make_input) -> None:
    many = [vuln(f"PYSEC-2024-{i}", package=f"p{i}") for i in range(40)]
    [reason] = engine.evaluate(make_input("prod", many)).deny
    assert reason.message.startswith("40 known vulnerabilit(y/ies) at or above high with a fix available: ")
    assert reason.message.endswith(" and 35 more")
    assert reason.message.count("PYSEC-2024-") == 5


def test_hostile_names_round_trip(engine, make_input) -> None:
    name = 'evil"\\\n\x01é'
    f = Finding("SBOM-UNPINNED-REQUIREMENT", "sbom", Severity.HIGH, name, "x")
    [reason] = engine.evaluate(make_input("prod", [f])).deny
    assert reason.message == f"1 finding(s) at or above medium: SBOM-UNPINNED-REQUIREMENT {name} (high)"
