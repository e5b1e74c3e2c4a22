"""Kind only chooses the inventory reader, and a marker must not make it skip a manifest: an
application's ``requirements.txt`` beside a planted ``*.dist-info`` folder or a model
``config.json`` is still audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.pipeline import AUDIT, GATE, GateOptions, run

MARKERS = {
    "dist-info": {"six-1.16.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"},
    "model config.json": {"config.json": json.dumps({"model_type": "bert"})},
    "safetensors name": {"weights.safetensors": ""},
}


def _vulnerable(outcome) -> set[str]:
    return {f["subject"] for f in outcome.record["findings"] if f["id"] == "VULN-KNOWN"}


@pytest.mark.parametrize("marker", sorted(MARKERS))
def test_marker_does_not_hide_the_requirements_file(tmp_path: Path, marker: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.11.2\n")
    baseline = _vulnerable(run(app, AUDIT, GateOptions()))
    assert "pkg:pypi/jinja2@2.11.2" in baseline
    for rel, text in MARKERS[marker].items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text(text)
    for stages in (AUDIT, GATE):
        assert "pkg:pypi/jinja2@2.11.2" in _vulnerable(run(app, stages, GateOptions())), stages.command
