"""Parity: every input kind through ``sbom``, ``audit``, ``scan`` and ``gate`` gives the same
artifact digest, the same components (nested ones included) and the same vulnerabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import evil_pickle

REQ = "jinja2==2.11.2\nsix==1.16.0\n"
PYPROJECT = "[project]\nname = 'demo'\nversion = '1'\ndependencies = ['jinja2==2.11.2', 'six==1.16.0']\n"
PYLOCK = (
    'lock-version = "1.0"\ncreated-by = "t"\n'
    '[[packages]]\nname = "jinja2"\nversion = "2.11.2"\n[[packages]]\nname = "six"\nversion = "1.16.0"\n'
)
UVLOCK = (
    'version = 1\n[[package]]\nname = "demo"\nversion = "1"\nsource = { editable = "." }\n'
    'dependencies = [{ name = "jinja2" }]\n'
    '[[package]]\nname = "jinja2"\nversion = "2.11.2"\nsource = { registry = "https://pypi.org/simple" }\n'
    'dependencies = [{ name = "markupsafe" }]\n'
    '[[package]]\nname = "markupsafe"\nversion = "1.1.1"\nsource = { registry = "https://pypi.org/simple" }\n'
)
BOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "metadata": {"timestamp": "2026-01-01T00:00:00Z", "authors": [{"name": "t"}]},
    "components": [
        {
            "type": "library",
            "bom-ref": "pkg:pypi/pip@24.0",
            "name": "pip",
            "version": "24.0",
            "purl": "pkg:pypi/pip@24.0",
            "components": [
                {
                    "type": "library",
                    "bom-ref": "pkg:pypi/jinja2@2.11.2",
                    "name": "jinja2",
                    "version": "2.11.2",
                    "purl": "pkg:pypi/jinja2@2.11.2",
                }
            ],
        }
    ],
}
BOM_XML = """<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <components>
    <component type="library" bom-ref="pkg:pypi/pip@24.0">
      <name>pip</name><version>24.0</version><purl>pkg:pypi/pip@24.0</purl>
      <components>
        <component type="library" bom-ref="pkg:pypi/jinja2@2.11.2">
          <name>jinja2</name><version>2.11.2</version><purl>pkg:pypi/jinja2@2.11.2</purl>
        </component>
      </components>
    </component>
  </components>
</bom>
"""


def _venv(root: Path) -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    (root / "pyvenv.cfg").parent.mkdir(parents=True, exist_ok=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for name, version in (("Jinja2", "2.11.2"), ("six", "1.16.0")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def _make(kind: str, tmp: Path) -> Path:
    if kind == "requirements":
        (tmp / "requirements.txt").write_text(REQ)
        return tmp / "requirements.txt"
    if kind == "pyproject":
        (tmp / "pyproject.toml").write_text(PYPROJECT)
        return tmp / "pyproject.toml"
    if kind == "pylock":
        (tmp / "pylock.toml").write_text(PYLOCK)
        return tmp / "pylock.toml"
    if kind == "uv-project":
        project = tmp / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(PYPROJECT.replace(", 'six==1.16.0'", ""))
        (project / "uv.lock").write_text(UVLOCK)
        (project / "pylock.toml").write_text(PYLOCK)
        return project
    if kind == "venv":
        return _venv(tmp / "venv")
    if kind == "cyclonedx-json":
        (tmp / "bom.json").write_text(json.dumps(BOM))
        return tmp / "bom.json"
    if kind == "cyclonedx-xml":
        (tmp / "bom.xml").write_text(BOM_XML)
        return tmp / "bom.xml"
    if kind == "model-dir":
        model = tmp / "model"
        model.mkdir()
        (model / "config.json").write_text('{"model_type": "bert"}')
        (model / "pytorch_model.bin").write_bytes(evil_pickle())
        return model
    assert kind == "model-file"
    (tmp / "model.pkl").write_bytes(evil_pickle())
    return tmp / "model.pkl"


KINDS = ["requirements", "pyproject", "pylock", "uv-project", "venv", "cyclonedx-json", "cyclonedx-xml"]
KINDS += ["model-dir", "model-file"]


def _purls(items: list[dict[str, Any]], key: str) -> set[str]:
    out: set[str] = set()
    for c in items:
        if c.get("purl"):
            out.add(c["purl"])
        out |= _purls(c.get(key) or [], key)
    return out


def _vulns(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["evidence"]["package"], f["evidence"]["vuln_id"]) for f in record["findings"] if f["id"] == "VULN-KNOWN"}


@pytest.mark.parametrize("kind", KINDS)
def test_parity_every_command_sees_the_same_artifact(cli, tmp_path: Path, kind: str) -> None:
    path = _make(kind, tmp_path)
    sbom_run = cli("sbom", path)
    assert sbom_run.code == 0, sbom_run.err
    bom = json.loads(sbom_run.out)
    audit_run = cli("audit", path, "-f", "json", "--fail-on", "none")
    assert audit_run.code == 0, audit_run.err
    audit = json.loads(audit_run.out)
    scan = json.loads(cli("scan", path, "-f", "json", "--no-second-opinion").out)
    gate_run = cli("gate", path, "--no-ledger", "-f", "json")
    assert gate_run.code in (0, 1), gate_run.err
    gate = json.loads(gate_run.out)

    props = {p["name"]: p["value"] for p in bom["metadata"].get("properties", [])}
    digests = {props["scanner:artifact-digest"], audit["artifact"]["digest"], scan["artifact"]["digest"]}
    assert digests == {gate["artifact"]["digest"]}

    from_sbom = _purls(bom["components"], "components")
    assert _purls(audit["components"], "children") == from_sbom
    assert gate["sbom"] is not None and _purls(gate["sbom"]["components"], "components") == from_sbom
    assert "components" not in gate  # the gate's record carries its inventory once: as the SBOM

    assert _vulns(audit) == _vulns(gate)
    if kind not in ("model-dir", "model-file"):
        assert ("jinja2", "PYSEC-2021-66") in _vulns(gate)  # nested components are audited too
    else:
        assert not gate["decision"]["allow"]
        assert [f["id"] for f in scan["findings"] if f["check"] == "model"] == [
            f["id"] for f in gate["findings"] if f["check"] == "model"
        ]
