"""NTIA minimum elements over inventories: deliberately incomplete BOMs, complete ones, models."""

from __future__ import annotations

from pathlib import Path

from scanner.artifact import detect
from scanner.check import GateContext
from scanner.core import Severity
from scanner.inventory.build import build_inventory
from scanner.inventory.components import Component, Inventory
from scanner.inventory.ntia import MAX_EXAMPLES, NtiaCheck, ntia_findings


def lib(name: str, version: str | None = "1.0", supplier: str | None = "PSF", purl: bool = True) -> Component:
    p = f"pkg:pypi/{name}@{version}" if purl and version else (f"pkg:pypi/{name}" if purl else None)
    return Component(bom_ref=f"ref-{name}", name=name, version=version, supplier=supplier, purl=p)


def complete() -> Inventory:
    app = lib("app")
    a, b = lib("a"), lib("b")
    return Inventory(
        root=app,
        components=[app, a, b],
        dependencies={"ref-app": ["ref-a"], "ref-a": ["ref-b"], "ref-b": []},
        authors=["Build Team"],
        timestamp="2026-11-23T05:00:00Z",
    )


def by_id(findings) -> dict:
    return {f.id: f for f in findings}


def test_complete_bom_has_no_gaps() -> None:
    assert ntia_findings(complete(), "app") == []


def test_incomplete_bom_names_every_missing_element() -> None:
    app = lib("app")
    comps = [
        app,
        lib("nosupplier", supplier=None),
        lib("noversion", version=None),
        lib("nopurl", purl=False),
        Component(bom_ref="ref-noname", name="", version="1", supplier="x", purl="pkg:pypi/x@1"),
        lib("orphan"),
    ]
    inv = Inventory(
        root=app,
        components=comps,
        dependencies={"ref-app": ["ref-nosupplier", "ref-noversion", "ref-nopurl", "ref-noname"]},
    )
    found = by_id(ntia_findings(inv, "my-app"))
    assert sorted(found) == [
        "SBOM-NTIA-AUTHOR",
        "SBOM-NTIA-DEPENDENCIES",
        "SBOM-NTIA-NAME",
        "SBOM-NTIA-SUPPLIER",
        "SBOM-NTIA-TIMESTAMP",
        "SBOM-NTIA-UNIQUE-ID",
        "SBOM-NTIA-VERSION",
    ]
    assert dict(found["SBOM-NTIA-SUPPLIER"].evidence) == {
        "element": "supplier",
        "components": ["ref-nosupplier"],
        "count": 1,
    }
    assert found["SBOM-NTIA-VERSION"].evidence["components"] == ["ref-noversion"]
    # No version means no versioned purl either, but a purl without a version still identifies it.
    assert found["SBOM-NTIA-UNIQUE-ID"].evidence["components"] == ["ref-nopurl"]
    assert found["SBOM-NTIA-NAME"].evidence["components"] == ["ref-noname"]
    assert found["SBOM-NTIA-DEPENDENCIES"].evidence["components"] == ["ref-orphan"]
    assert found["SBOM-NTIA-AUTHOR"].evidence == {"element": "author", "components": [], "count": 0}
    for f in found.values():
        assert (f.check, f.severity, f.subject) == ("sbom-ntia", Severity.LOW, "my-app")
        assert f.fix


def test_no_primary_component_and_no_graph() -> None:
    inv = complete()
    inv.root = None
    inv.dependencies = {}
    [dep] = [f for f in ntia_findings(inv, "x") if f.id == "SBOM-NTIA-DEPENDENCIES"]
    assert dep.evidence["components"] == ["ref-app", "ref-a", "ref-b"]
    assert dep.evidence["count"] == 3
    assert "no primary component" in dep.message


def test_root_without_declared_dependencies() -> None:
    inv = complete()
    del inv.dependencies["ref-app"]
    [dep] = [f for f in ntia_findings(inv, "x") if f.id == "SBOM-NTIA-DEPENDENCIES"]
    assert dep.evidence["count"] == 3
    assert "ref-app declares no dependencies" in dep.message


def test_examples_are_capped_but_counted() -> None:
    inv = complete()
    many = [lib(f"p{i}", supplier=None) for i in range(MAX_EXAMPLES + 15)]
    inv.components += many
    inv.dependencies["ref-b"] = [c.bom_ref for c in many]
    [sup] = ntia_findings(inv, "x")
    assert sup.id == "SBOM-NTIA-SUPPLIER"
    assert sup.evidence["count"] == MAX_EXAMPLES + 15
    assert len(sup.evidence["components"]) == MAX_EXAMPLES


def test_model_files_are_judged_by_name_and_hash_only(git_dir: Path) -> None:
    inv = build_inventory(detect(git_dir))
    found = by_id(ntia_findings(inv, "m"))
    # The model from a hub checkout has supplier, revision and purl; files need only a hash.
    # What is left: the framework's supplier (config.json does not say it), the datasets'
    # versions (the card names no revision); a generated SBOM always names its author.
    assert sorted(found) == ["SBOM-NTIA-SUPPLIER", "SBOM-NTIA-VERSION"]
    assert found["SBOM-NTIA-SUPPLIER"].evidence["components"] == ["pkg:pypi/transformers@4.44.2"]
    assert found["SBOM-NTIA-VERSION"].evidence["components"] == [
        "dataset:stanfordnlp/imdb",
        "dataset:cornell-movie-review-data/rotten_tomatoes",
    ]


def test_local_model_without_identity(plain_dir: Path) -> None:
    inv = build_inventory(detect(plain_dir))
    found = by_id(ntia_findings(inv, "m"))
    root = "model:bert-imdb-sentiment"
    assert root in found["SBOM-NTIA-SUPPLIER"].evidence["components"]
    assert root in found["SBOM-NTIA-VERSION"].evidence["components"]
    assert found["SBOM-NTIA-UNIQUE-ID"].evidence["components"] == [root]


def test_check_runs_in_the_gate_context(plain_dir: Path) -> None:
    artifact = detect(plain_dir)
    check = NtiaCheck()
    assert check.applies_to(artifact)
    result = check.run(GateContext(artifact=artifact, inventory=build_inventory(artifact)))
    assert result.check == "sbom-ntia"
    assert {f.check for f in result.findings} == {"sbom-ntia"}
    assert result.summary["missing"] == ["supplier", "unique-id", "version"]
    assert result.summary["complete"] is False
