"""The gate loop: inventory, every applicable check, one policy input, a decision."""

from __future__ import annotations

from pathlib import Path

from scanner.artifact import detect
from scanner.checks import load_checks
from scanner.gate import run_gate
from scanner.resources import policies_dir


def test_gate_runs_registered_checks_and_feeds_policy(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("flask==2.2.2\nrequests ==\n")
    outcome = run_gate(
        detect(req), stage="prod", policy_dir=policies_dir(), policy_data=_data(), settings={}, checks=load_checks()
    )
    assert outcome.results[0].check == "sbom"
    ids = [f["id"] for f in outcome.policy_input["findings"]]
    assert "SBOM-UNPARSEABLE-REQUIREMENT" in ids
    assert outcome.policy_input["promotion"] == {"from": "staging", "to": "prod"}
    assert outcome.policy_input["findings_index"]["by_rule"]["SBOM-UNPARSEABLE-REQUIREMENT"] == [
        ids.index("SBOM-UNPARSEABLE-REQUIREMENT")
    ]
    assert not outcome.decision.allow
    assert outcome.record["decision"]["deny"]


def _data() -> dict:
    import json

    return json.loads((policies_dir() / "data.json").read_text())
