"""Checks follow content, not kind: whatever marker an artifact carries to look like something
else, a malicious pickle and a Keras Lambda layer beside it are still found and denied."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from scanner.pipeline import GATE, SCAN, GateOptions, gate, run
from tests.pipeline.conftest import _Payload, evil_pickle, model_findings, plant

MARKERS: dict[str, dict[str, str]] = {
    "dist-info": {"flask-2.2.2.dist-info/METADATA": "Metadata-Version: 2.1\nName: flask\nVersion: 2.2.2\n"},
    "pyvenv.cfg": {
        "pyvenv.cfg": "home = /usr/bin\n",
        "lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"
        ),
    },
    "requirements.txt": {"requirements.txt": "flask==2.2.2\n"},
    "requirements-dev.txt": {"requirements-dev.txt": "flask==2.2.2\n"},
    "pyproject.toml": {"pyproject.toml": "[project]\nname = 'demo'\nversion = '1'\ndependencies = ['flask==2.2.2']\n"},
    "pylock.toml": {
        "pylock.toml": 'lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "flask"\nversion = "2.2.2"\n'
    },
    "uv.lock": {"uv.lock": 'version = 1\n[[package]]\nname = "flask"\nversion = "2.2.2"\n'},
    "poetry.lock": {"poetry.lock": '[[package]]\nname = "flask"\nversion = "2.2.2"\n'},
    "bom.json": {"bom.json": json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1})},
    "bomFormat config.json": {"config.json": json.dumps({"bomFormat": "CycloneDX", "model_type": "bert"})},
}


def _options() -> GateOptions:
    return GateOptions(stage="dev")


@pytest.mark.parametrize("marker", sorted(MARKERS))
def test_marker_does_not_switch_the_model_check_off(tmp_path: Path, marker: str) -> None:
    root = tmp_path / "artifact"
    plant(root)
    for rel, text in MARKERS[marker].items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    outcome = gate(root, _options())
    assert outcome.decision is not None and not outcome.decision.allow
    assert {"state.data", "layers.zip"} <= model_findings(outcome.record["findings"])
    assert any(r.rule for r in outcome.decision.deny)


@pytest.mark.parametrize("name", ["requirements.txt", "weights.txt", "constraints.in", "pyproject.toml", "uv.lock"])
def test_pickle_named_like_a_manifest_is_scanned_as_a_pickle(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_Payload(), protocol=0))  # protocol 0 is ASCII: reads as text
    for stages in (GATE, SCAN):
        try:
            outcome = run(path, stages, _options())
        except Exception as exc:  # an input reader may refuse it: never an allow
            from scanner.errors import ScanError

            assert isinstance(exc, ScanError)
            continue
        assert name in model_findings(outcome.record["findings"])
        if outcome.decision is not None:
            assert not outcome.decision.allow


def test_model_config_with_bom_format_single_file(tmp_path: Path) -> None:
    """A model config that claims to be a CycloneDX SBOM is still read as model content."""
    from tests.formats.test_keras import keras3_config, lambda3

    config = keras3_config(lambda3("__import__('os').system('true')"))
    config["bomFormat"] = "CycloneDX"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    outcome = run(path, SCAN, _options())
    assert "config.json" in model_findings(outcome.record["findings"])


def test_pickle_inside_a_virtualenv_is_denied(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    info = site / "flask-2.2.2.dist-info"
    info.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flask\nVersion: 2.2.2\n")
    (site / "flask").mkdir()
    (site / "flask" / "model.bin").write_bytes(evil_pickle())
    outcome = gate(venv, _options())
    assert outcome.artifact.kind.value == "environment"  # the kind picks the inventory reader only
    assert outcome.decision is not None and not outcome.decision.allow
    assert "model.bin" in model_findings(outcome.record["findings"])
