"""regopy 1.5.2 against OPA semantics, for every builtin and construct the shipped policies use,
and the traps they work around (so a regopy upgrade that changes them is noticed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.core import ScanError
from scanner.policy.engine import PolicyEngine

# (expression, expected value) — as OPA 1.x evaluates them
CASES: list[tuple[str, Any]] = [
    ('object.get({"a": {"b": 1}}, ["a", "b"], 0)', 1),
    ('object.get({"a": {}}, ["a", "b"], 0)', 0),
    ('object.get({"a": 1}, "z", "d")', "d"),
    ('object.keys({"b": 1, "a": 2})', ["a", "b"]),
    ('object.union({"a": 1, "b": 1}, {"b": 2})', {"a": 1, "b": 2}),
    ("array.slice([1, 2, 3, 4], 0, 2)", [1, 2]),
    ("array.slice([1], 0, 5)", [1]),
    ('concat("; ", ["a", "b"])', "a; b"),
    ('concat("", [])', ""),
    ("count([1, 2])", 2),
    ("sum([1, 2, 3])", 6),
    ("sum([])", 0),
    ('sort(["b", "a"])', ["a", "b"]),
    ("format_int(42, 10)", "42"),
    ('sprintf("%v", [7])', "7"),
    ('sprintf("%v", [null])', "null"),
    ('is_string("x")', True),
    ("is_number(1.5)", True),
    ('lower("AGPL-3.0")', "agpl-3.0"),
    ('trim_suffix("GPL-2.0+", "+")', "GPL-2.0"),
    ('trim_space("  x ")', "x"),
    ('trim_prefix("SBOM-NTIA-AUTHOR", "SBOM-NTIA-")', "AUTHOR"),
    ('startswith("SBOM-NTIA-X", "SBOM-NTIA-")', True),
    ('contains("a(b", "(")', True),
    ('glob.match("https://github.com/org/*", ["/"], "https://github.com/org/repo")', True),
    ('glob.match("https://github.com/org/*", ["/"], "https://github.com/org/repo/x")', False),
    (r'regex.match(`^https://github\.com/org/.+$`, "https://github.com/org/r")', True),
    (r'regex.match(`^https://github\.com/org/.+$`, "https://githubXcom/org/r")', False),
    ('"b" in {"a", "b"}', True),
    ('{"rule": "x"}.rule == "x"', True),
    ("[x | some x in [1, 2, 3]; x > 1]", [2, 3]),
    ('{t: [s | some s in ["a", "b"]; s != t] | some t in ["a"]}', {"a": ["b"]}),
    ("numbers.range(0, 2)", [0, 1, 2]),
]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> PolicyEngine:
    d: Path = tmp_path_factory.mktemp("conformance")
    (d / "p.rego").write_text(
        "package probe\nimport rego.v1\n"
        "every_ok if { every x in [1, 2] { x > 0 } }\n"
        "every_fails if { every x in [1, -2] { x > 0 } }\n"
        'f(t) := [s | some s in ["a", "b"]; s != t]\n'
        'rank := {"a": 1, "b": 2}\n'
        'lookup_in_function(t) := [s | some s in ["a", "b"]; rank[s] >= rank[t]]\n'
        'bound_first(t) := r if { n := rank[t]; r := [s | some s in ["a", "b"]; rank[s] >= n] }\n'
        'computed := concat("", ["a", "b"])\n'
        'quoted := sprintf("%s-%s", ["x", computed])\n'
        'concatenated := concat("-", ["x", computed])\n'
    )
    return PolicyEngine(d)


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_builtin_matches_opa(probe: PolicyEngine, expr: str, expected: Any) -> None:
    # wrapped in an array: a false expression as a query would be "undefined"
    assert probe.query({}, f"[{expr}]") == [expected]


def test_every(probe: PolicyEngine) -> None:
    assert probe.query({}, "data.probe.every_ok") is True
    assert probe.query({}, "data.probe.every_fails") is None


def test_function_argument_compared_inside_comprehension_works(probe: PolicyEngine) -> None:
    assert probe.query({}, 'data.probe.f("a")') == ["b"]


def test_trap_function_argument_as_key_inside_comprehension(probe: PolicyEngine) -> None:
    """OPA gives ["b"] for lookup_in_function("b"); regopy 1.5.2 iterates `rank[t]` instead.
    The policies bind such lookups outside the comprehension (bound_first)."""
    assert probe.query({}, 'data.probe.bound_first("b")') == ["b"]
    assert probe.query({}, 'data.probe.lookup_in_function("b")') != ["b"]


def test_trap_sprintf_quotes_computed_strings(probe: PolicyEngine) -> None:
    """OPA gives "x-ab"; regopy 1.5.2 quotes the computed argument. Policies use concat."""
    assert probe.query({}, "data.probe.concatenated") == "x-ab"
    with pytest.raises(ScanError, match="unreadable output"):  # x-"ab" written unescaped
        probe.query({}, "data.probe.quoted")


def test_trap_rfc3339_with_z_is_undefined(probe: PolicyEngine) -> None:
    """Why the input carries times as nanosecond integers (context.now_ns, expires_ns)."""
    assert probe.query({}, 'time.parse_rfc3339_ns("2026-01-01T00:00:00Z")') is None
    assert probe.query({}, 'time.parse_rfc3339_ns("2026-01-01T00:00:00+00:00")') == 1767225600000000000


def test_regex_inline_flags_are_unsupported(probe: PolicyEngine) -> None:
    """`(?i:...)` makes regex.split undefined: the license rule gets parsed expressions instead."""
    assert probe.query({}, r'regex.split(`\s+(?i:or)\s+`, "MIT OR X")') is None
