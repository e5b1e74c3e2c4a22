"""Waivers through the whole path (matching, input, policy) and enforce / warn / off per stage."""

from __future__ import annotations

import datetime as dt

from scanner.core import Severity
from scanner.policy.engine import PolicyEngine
from scanner.resources import policies_dir
from scanner.waivers import Waiver
from tests.policy.conftest import model, rules, shipped_data, vuln


def _waiver(wid: str, selector: dict[str, str], expires: dt.date = dt.date(2027, 6, 1)) -> Waiver:
    return Waiver(wid, selector, "not reachable", "platform", expires, "security-lead")


def test_active_waiver_covers_the_finding_which_stays_visible(engine, make_input) -> None:
    doc = make_input("prod", [vuln()], waivers=[_waiver("W-1", {"finding": "CVE-2023-32681"})])
    decision = engine.evaluate(doc)
    assert decision.allow
    assert [(r.rule, r.message) for r in decision.warn] == [
        ("waivers-applied", "1 finding(s) accepted by 1 waiver(s): W-1 x1 (platform, until 2027-06-01)")
    ]
    [finding] = doc["findings"]
    assert finding["waived"] == {"id": "W-1", "reason": "not reachable", "owner": "platform", "expires": "2027-06-01"}
    assert doc["findings_index"]["waived"] == [0] and doc["findings_index"]["open"]["rules"] == {}


def test_expired_waiver_waives_nothing_and_is_a_deny_naming_it(engine, make_input) -> None:
    doc = make_input("dev", [model()], waivers=[_waiver("W-OLD", {"rule": "MODEL-*"}, dt.date(2026, 11, 22))])
    decision = engine.evaluate(doc)
    assert rules(decision.deny) == {"model-unsafe", "waiver-expired"}
    [expired] = [r for r in decision.deny if r.rule == "waiver-expired"]
    assert expired.message == ("1 expired waiver(s) waive nothing any more: W-OLD (expired 2026-11-22, owner platform)")
    assert doc["findings"][0]["waived"] is None


def test_waiver_is_valid_through_its_expiry_day(engine, make_input) -> None:
    doc = make_input("dev", [model()], waivers=[_waiver("W-TODAY", {"rule": "MODEL-*"}, dt.date(2026, 11, 23))])
    decision = engine.evaluate(doc)
    assert decision.allow
    assert rules(decision.warn) == {"waivers-applied", "waiver-expiring"}


def test_unused_waiver_is_warned(engine, make_input) -> None:
    decision = engine.evaluate(make_input("prod", waivers=[_waiver("W-2", {"rule": "VULN-KNOWN"})]))
    assert decision.allow
    assert [(r.rule, r.message) for r in decision.warn] == [
        ("waiver-unused", "1 waiver(s) match no finding: W-2 (owner platform)")
    ]


def test_wrong_selector_does_not_waive(engine, make_input) -> None:
    wrong = [
        _waiver("W-PKG", {"purl": "pkg:pypi/urllib3"}),
        _waiver("W-VER", {"purl": "pkg:pypi/requests@2.31.*"}),
        _waiver("W-ID", {"finding": "CVE-1999-0001"}),
        _waiver("W-PATH", {"rule": "VULN-KNOWN", "path": "models/*"}),
    ]
    doc = make_input("prod", [vuln()], waivers=wrong)
    decision = engine.evaluate(doc)
    assert rules(decision.deny) == {"vuln-fixable"}
    assert rules(decision.warn) == {"waiver-unused"}
    assert doc["findings"][0]["waived"] is None
    assert {w["id"] for w in doc["waivers"] if w["unused"]} == {"W-PKG", "W-VER", "W-ID", "W-PATH"}


def test_first_waiver_in_file_order_wins() -> None:
    from scanner.waivers import apply_waivers

    ws = [_waiver("W-GLOB", {"rule": "VULN-*"}), _waiver("W-EXACT", {"finding": "PYSEC-2023-74"})]
    out = apply_waivers([vuln()], ws, dt.date(2026, 11, 23))
    assert out.findings[0]["waived"]["id"] == "W-GLOB"
    assert [w.id for w in out.unused] == ["W-EXACT"]


def _with_mode(stage: str, rule: str, mode: str) -> PolicyEngine:
    data = shipped_data()
    data["scanner"]["config"]["stages"][stage]["rules"][rule] = mode
    return PolicyEngine(policies_dir(), data)


def test_rule_in_warn_mode_warns_instead_of_denying(make_input) -> None:
    doc = make_input("prod", [model()])
    decision = _with_mode("prod", "model-unsafe", "warn").evaluate(doc)
    assert decision.allow and rules(decision.warn) == {"model-unsafe"}
    off = _with_mode("prod", "model-unsafe", "off").evaluate(doc)
    assert off.allow and off.warn == ()


def test_rule_switched_to_enforce_at_dev(make_input) -> None:
    doc = make_input("dev", [vuln(severity=Severity.CRITICAL)])
    assert rules(_with_mode("dev", "vuln-fixable", "enforce").evaluate(doc).deny) == {"vuln-fixable"}


def test_unknown_mode_is_enforced_and_reported(make_input) -> None:
    decision = _with_mode("prod", "model-unsafe", "warning").evaluate(make_input("prod", [model()]))
    assert rules(decision.deny) == {"model-unsafe", "config"}
    assert "stage prod sets rule model-unsafe to warning (use enforce, warn or off)" in [
        r.message for r in decision.deny
    ]


def test_rule_missing_from_stage_config_is_enforced(make_input) -> None:
    data = shipped_data()
    del data["scanner"]["config"]["stages"]["dev"]["rules"]["vuln-fixable"]
    decision = PolicyEngine(policies_dir(), data).evaluate(make_input("dev", [vuln(severity=Severity.CRITICAL)]))
    assert rules(decision.deny) == {"vuln-fixable"}


def test_no_policy_data_fails_closed(make_input) -> None:
    decision = PolicyEngine(policies_dir(), {}).evaluate(make_input("dev"))
    assert not decision.allow
    assert "stage dev is not configured in data.scanner.config.stages" in [r.message for r in decision.deny]
