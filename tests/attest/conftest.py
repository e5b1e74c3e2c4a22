"""Fixtures for the evidence and quality gate tests: real keys, a real model directory (a
safetensors file, config.json and a model card with evaluation results), statements signed here,
and policy data files with per-stage quality settings."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from scanner.resources import policies_dir
from tests.registry.conftest import _no_ambient_credentials, registry, repo, sign_key  # noqa: F401  (fixtures)
from tests.verify.conftest import KeyPair, make_keypair

CDX = "https://cyclonedx.org/bom"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
VSA = "https://slsa.dev/verification_summary/v1"


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    """``eval`` signs evaluations, ``gate`` signs VSAs, ``other`` is trusted by nobody."""
    d = tmp_path_factory.mktemp("attest-keys")
    return {name: make_keypair(d, name) for name in ("eval", "gate", "other")}


def safetensors(values: list[float]) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, 4 * len(values)]}})
    raw = header.encode()
    return struct.pack("<Q", len(raw)) + raw + struct.pack(f"<{len(values)}f", *values)


CARD = """---
license: apache-2.0
model-index:
- name: sentiment
  results:
  - task: {type: text-classification}
    dataset: {type: imdb, name: IMDB}
    metrics:
    - {type: accuracy, value: %s}
---
# sentiment
"""


def make_model(root: Path, weights: list[float], card_accuracy: str = "0.95") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.safetensors").write_bytes(safetensors(weights))
    (root / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    (root / "README.md").write_text(CARD % card_accuracy)
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "sentiment", [1.0, 2.0])


def data_file(directory: Path, **stages: dict[str, Any]) -> Path:
    """Shipped policy data with these keys merged into each named stage. The signature,
    provenance, SBOM and database-age rules are off (the bundled OSV snapshot is old), so that a
    decision is about evidence and quality only."""
    data = json.loads((policies_dir() / "data.json").read_text())
    for name, conf in data["scanner"]["config"]["stages"].items():
        for rule in ("signature-required", "provenance-required", "sbom-incomplete", "vuln-db-stale"):
            conf["rules"][rule] = "off"
        for key, value in stages.get(name, {}).items():
            conf[key] = {**conf.get(key, {}), **value} if isinstance(value, dict) else value
    path = directory / "data.json"
    path.write_text(json.dumps(data))
    return path


def metrics_bom(**metrics: float | str) -> dict[str, Any]:
    """An evaluation as a CycloneDX BOM: one model component whose card carries the metrics."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {
                "type": "machine-learning-model",
                "name": "sentiment",
                "modelCard": {
                    "quantitativeAnalysis": {
                        "performanceMetrics": [{"type": k, "value": str(v)} for k, v in metrics.items()]
                    }
                },
            }
        ],
    }


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is a checkout; no ledger is named (neither flag nor environment)."""
    root = tmp_path / "checkout"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return root


def ledger_digests(path: Path) -> list[str]:
    """The artifact digest of each entry of the ledger at ``path`` (its chain verified)."""
    from scanner.evidence.ledger import Ledger

    with Ledger(path, create=False) as ledger:
        assert ledger.verify().ok
        return [e.artifact_digest for e in ledger.entries()]
