"""The regopy binding round-trips every string the scanned content can put in a decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.policy.engine import PolicyEngine

HOSTILE = ['a"b', "back\\slash", "tab\there", "new\nline", "ctl\x01", "\\u0041", "uni é ✅", "q'x", "<b>"]


@pytest.mark.parametrize("text", HOSTILE)
def test_strings_round_trip_through_the_engine(tmp_path: Path, text: str) -> None:
    (tmp_path / "gate.rego").write_text(
        "package scanner.gate\nimport rego.v1\ndefault allow := false\n"
        'deny contains {"rule": "echo", "message": sprintf("file %s", [input.name])} if input.name\n'
        'deny contains {"rule": "eq", "message": "equal"} if input.name == input.same\n'
    )
    decision = PolicyEngine(tmp_path).evaluate({"name": text, "same": text})
    assert {r.rule: r.message for r in decision.deny} == {"echo": f"file {text}", "eq": "equal"}
