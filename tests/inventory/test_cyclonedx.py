"""The serializer (strict validation before anything is written), ingest/merge, and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.inventory.build import build_inventory, choose_app_input
from scanner.inventory.components import Component, Inventory
from scanner.inventory.cyclonedx import InvalidBomError, to_cyclonedx_dict, to_cyclonedx_json, to_cyclonedx_xml
from scanner.inventory.ingest import inventory_sbom, merge
from scanner.inventory.validate import library_schema_errors, schema_errors

DATA = Path(__file__).parent / "data" / "uvproj"


def _small() -> Inventory:
    root = Component(bom_ref="pkg:pypi/app@1.0", name="app", version="1.0", type="application", purl="pkg:pypi/app@1.0")
    lib = Component(
        bom_ref="pkg:pypi/lib@2.0",
        name="lib",
        version="2.0",
        purl="pkg:pypi/lib@2.0",
        licenses=["LGPL-2.1-or-later"],
        supplier="Lib Team",
        contacts=[{"name": "Ann", "email": "ann@example.org"}],
        hashes={"SHA-256": "a" * 64},
        external_references={"vcs": "https://example.org/lib.git"},
        children=[Component(bom_ref="pkg:pypi/lib@2.0#vendored:x", name="x", version="1", purl="pkg:pypi/x@1")],
    )
    return Inventory(
        root=root,
        components=[root, lib],
        dependencies={root.bom_ref: [lib.bom_ref], lib.bom_ref: []},
    )


def test_document_shape_and_both_validators_agree() -> None:
    doc = to_cyclonedx_dict(_small())
    lib = doc["components"][0]
    assert lib["licenses"] == [{"license": {"id": "LGPL-2.1-or-later"}}]
    assert lib["supplier"] == {"name": "Lib Team"}
    assert lib["authors"] == [{"name": "Ann", "email": "ann@example.org"}]
    assert lib["components"][0]["bom-ref"] == "pkg:pypi/lib@2.0#vendored:x"
    assert doc["dependencies"] == [
        {"ref": "pkg:pypi/app@1.0", "dependsOn": ["pkg:pypi/lib@2.0"]},
        {"ref": "pkg:pypi/lib@2.0"},
    ]
    assert schema_errors(doc) == []
    assert library_schema_errors(json.dumps(doc)) == []
    doc["components"][0]["bogus"] = 1  # the compiled validator is as strict as the library's
    assert schema_errors(doc) and library_schema_errors(json.dumps(doc))


def test_extras_are_merged_by_bom_ref_then_validated() -> None:
    inv = _small()
    inv.cyclonedx_extras["pkg:pypi/lib@2.0"] = {"modelCard": {"modelParameters": {"task": "text-classification"}}}
    doc = to_cyclonedx_dict(inv)
    assert doc["components"][0]["modelCard"] == {"modelParameters": {"task": "text-classification"}}
    inv.cyclonedx_extras["pkg:pypi/lib@2.0"] = {"modelCard": {"notAField": True}}
    with pytest.raises(InvalidBomError) as info:
        to_cyclonedx_json(inv)
    assert "modelCard" in str(info.value)


def test_reproducible_and_otherwise_only_serial_and_time_differ() -> None:
    a, b = to_cyclonedx_json(_small(), reproducible=True), to_cyclonedx_json(_small(), reproducible=True)
    assert a == b and '"timestamp":"1970-01-01T00:00:00Z"' in a
    x, y = to_cyclonedx_dict(_small()), to_cyclonedx_dict(_small())
    assert x["serialNumber"] != y["serialNumber"]
    for d in (x, y):
        d.pop("serialNumber"), d["metadata"].pop("timestamp")
    assert x == y


def test_ingest_json_and_xml_roundtrip_and_merge(tmp_path: Path) -> None:
    inv = _small()
    (tmp_path / "a.cdx.json").write_text(to_cyclonedx_json(inv))
    (tmp_path / "a.cdx.xml").write_text(to_cyclonedx_xml(inv))
    for name in ("a.cdx.json", "a.cdx.xml"):
        back = inventory_sbom(tmp_path / name)
        assert back.findings == []
        assert back.root is not None and back.root.bom_ref == "pkg:pypi/app@1.0"
        [lib] = back.components
        assert (lib.purl, lib.licenses, lib.hashes, [c.name for c in lib.children]) == (
            "pkg:pypi/lib@2.0",
            ["LGPL-2.1-or-later"],
            {"SHA-256": "a" * 64},
            ["x"],
        )
        assert back.dependencies["pkg:pypi/app@1.0"] == ["pkg:pypi/lib@2.0"]
    other = Inventory(
        components=[
            Component(bom_ref="b1", name="lib", purl="pkg:pypi/lib@2.0", description="from B"),
            Component(bom_ref="b2", name="new", version="3", purl="pkg:pypi/new@3"),
        ],
        dependencies={"b1": ["b2"]},
    )
    merged = merge(inventory_sbom(tmp_path / "a.cdx.json"), other)
    assert sorted(c.bom_ref for c in merged.components) == ["b2", "pkg:pypi/lib@2.0"]
    assert merged.component("pkg:pypi/lib@2.0").description == "from B"  # type: ignore[union-attr]
    assert merged.dependencies["pkg:pypi/lib@2.0"] == ["b2"]


def test_bom_failing_its_schema_is_a_finding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cdx.json"
    bad.write_text(
        json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "nonsense", "name": "x"}]})
    )
    inv = inventory_sbom(bad)
    [finding] = inv.findings
    assert (finding.id, finding.severity.value, finding.subject) == ("SBOM-SCHEMA-INVALID", "high", str(bad))
    assert any("components/0/type" in e for e in finding.evidence["errors"])


def test_app_dir_reads_every_input_and_explicit_choice(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "pylock.toml"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    assert choose_app_input(tmp_path) == ("lockfile", tmp_path / "pylock.toml")
    assert choose_app_input(tmp_path, "requirements") == ("requirements", tmp_path / "requirements.txt")
    inv = build_inventory(detect(tmp_path))
    assert inv.root is not None and inv.root.properties["scanner:input"] == (
        "lockfile:pylock.toml,lockfile:uv.lock,requirements:requirements.txt,pyproject:pyproject.toml"
    )
    assert inv.root.bom_ref == "pkg:pypi/demo-app@1.2.0"
    six = inv.component("pkg:pypi/six@1.17.0")
    assert six is not None and six.properties["scanner:manifest"] == "requirements.txt"
    inv = build_inventory(detect(tmp_path), "requirements")
    assert [c.bom_ref for c in inv.components] == ["pkg:pypi/six@1.17.0"]


def test_cli_formats_input_type_and_invalid_bom_exit_2(cli, tmp_path: Path) -> None:
    project = tmp_path / "project"  # outputs beside it, not in it (a BOM in it is one of its inputs)
    project.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(DATA / name, project / name)
    out = tmp_path / "bom.xml"
    r = cli("sbom", project, "--input-type", "pyproject", "-f", f"cyclonedx-xml={out}")
    assert r.code == 0, r.err
    assert "<name>demo-app</name>" in out.read_text()
    r = cli("sbom", project)
    doc = json.loads(r.out)
    assert len(doc["components"]) == 9 and doc["metadata"]["component"]["name"] == "demo-app"
    broken = tmp_path / "broken.cdx.json"
    broken.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "library"')
    target = tmp_path / "never.json"
    r = cli("sbom", project, "--merge", broken, "-o", target)
    assert r.code == 2 and "broken.cdx.json" in r.err and "Traceback" not in r.err
    assert not target.exists()
