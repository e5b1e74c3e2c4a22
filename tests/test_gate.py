"""The gate loop: inventory, every applicable check, one policy input, a decision."""

from __future__ import annotations

from pathlib import Path

from scanner.pipeline import GateOptions, gate
from scanner.resources import policies_dir


def test_gate_runs_registered_checks_and_feeds_policy(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("flask==2.2.2\nrequests ==\n")
    outcome = gate(req, GateOptions(stage="prod", policy_dir=policies_dir(), policy_data=_data()))
    assert outcome.policy_input is not None and outcome.decision is not None
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


def test_gate_record_carries_the_validated_sbom_and_ntia_author(cli, tmp_path: Path, monkeypatch) -> None:
    import json

    monkeypatch.setenv("SCANNER_AUTHOR", "Platform Team")
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.32.3\n")
    bom_path = tmp_path / "gate.cdx.json"
    r = cli("gate", req, "--format", "json", "--format", f"cyclonedx-json={bom_path}")
    record = json.loads(r.out)
    bom = json.loads(bom_path.read_text())
    assert bom == record["sbom"]
    assert bom["specVersion"] == "1.6" and bom["metadata"]["authors"] == [{"name": "Platform Team"}]
    assert [c["purl"] for c in bom["components"]] == ["pkg:pypi/requests@2.32.3"]
    assert not any(f["id"] in ("SBOM-NTIA-AUTHOR", "SBOM-NTIA-TIMESTAMP") for f in record["findings"])
    del record["sbom"]
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(record))
    r = cli("report", "render", saved, "--format", "cyclonedx-json")
    assert r.code == 2 and "carries no SBOM" in r.err
