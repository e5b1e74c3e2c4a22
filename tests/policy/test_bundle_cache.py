"""Compiled policies are cached across runs, keyed by the modules, the data and the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.policy.engine import PolicyEngine

GATE = """package scanner.gate
import rego.v1
default allow := false
allow if count(deny) == 0
deny contains {"rule": "big", "message": sprintf("%v > %v", [input.n, data.limit])} if input.n > data.limit
"""


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(tmp_path / "cache"))
    d = tmp_path / "policy"
    d.mkdir()
    (d / "gate.rego").write_text(GATE + 'warn contains {"rule": "w", "message": "m"} if false\n')
    return d


def test_second_engine_runs_the_cached_plan_without_compiling(policy: Path, tmp_path: Path) -> None:
    first = PolicyEngine(policy, {"limit": 3})
    assert first._compiled is not None  # nothing cached yet: compiled
    assert first.evaluate({"n": 5}).deny[0].message == "5 > 3"
    assert list((tmp_path / "cache" / "policy").glob("*.rbb"))
    second = PolicyEngine(policy, {"limit": 3})
    assert second._compiled is None  # loaded, not compiled
    assert second.evaluate({"n": 5}).deny[0].message == "5 > 3"
    assert second.evaluate({"n": 1}).allow


def test_other_data_or_policy_text_is_another_plan(policy: Path) -> None:
    PolicyEngine(policy, {"limit": 3}).evaluate({"n": 5})
    other = PolicyEngine(policy, {"limit": 10})
    assert other._compiled is not None
    assert other.evaluate({"n": 5}).allow
    (policy / "gate.rego").write_text(GATE.replace("input.n > data.limit", "input.n >= data.limit"))
    changed = PolicyEngine(policy, {"limit": 5})
    assert changed._compiled is not None
    assert not changed.evaluate({"n": 5}).allow  # the fallback query (no warn rule) through the cache too
    assert not PolicyEngine(policy, {"limit": 5}).evaluate({"n": 5}).allow


def test_damaged_cache_entry_is_rebuilt(policy: Path, tmp_path: Path) -> None:
    PolicyEngine(policy, {"limit": 3}).evaluate({"n": 5})
    for plan in (tmp_path / "cache" / "policy").glob("*.rbb"):
        plan.write_bytes(b"\x00garbage" * 10)
    engine = PolicyEngine(policy, {"limit": 3})
    assert engine.evaluate({"n": 5}).deny[0].message == "5 > 3"
    assert PolicyEngine(policy, {"limit": 3})._compiled is None  # rewritten whole


def test_cache_off_always_compiles(policy: Path) -> None:
    PolicyEngine(policy, {"limit": 3}).evaluate({"n": 5})
    assert PolicyEngine(policy, {"limit": 3}, cache=False)._compiled is not None


def test_the_same_policies_elsewhere_reuse_the_plan(policy: Path, tmp_path: Path) -> None:
    """The plan is keyed by each module's path inside the policy directory, not by where the
    directory is: a checkout in another workspace (or a batch run's private copy) loads the plan
    instead of compiling and caching one more. A renamed module is another plan."""
    PolicyEngine(policy, {"limit": 3}).evaluate({"n": 5})
    plans = sorted((tmp_path / "cache" / "policy").glob("*.rbb"))
    elsewhere = tmp_path / "elsewhere" / "checkout"
    elsewhere.mkdir(parents=True)
    (elsewhere / "gate.rego").write_text((policy / "gate.rego").read_text())
    moved = PolicyEngine(elsewhere, {"limit": 3})
    assert moved._compiled is None  # loaded, not compiled
    assert moved.evaluate({"n": 5}).deny[0].message == "5 > 3"
    assert sorted((tmp_path / "cache" / "policy").glob("*.rbb")) == plans
    (elsewhere / "gate.rego").rename(elsewhere / "other.rego")
    assert PolicyEngine(elsewhere, {"limit": 3})._compiled is not None
