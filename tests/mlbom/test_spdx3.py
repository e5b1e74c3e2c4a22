"""SPDX 3.0.1 JSON-LD with the AI and Dataset profiles: structure, relationships, determinism,
and a round trip through the SPDX project's own generated bindings (spdx-python-model, built from
the SPDX 3.0.1 SHACL shapes: it enforces the model's required properties, cardinalities, value
types and enumerations when it reads and writes a document)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.inventory.build import build_inventory
from scanner.inventory.components import Component, Inventory
from scanner.inventory.spdx3 import CONTEXT, build_spdx3

from .conftest import REV


@pytest.fixture(scope="module")
def doc(git_dir: Path) -> dict:
    artifact = detect(git_dir)
    return build_spdx3(build_inventory(artifact), artifact)


def elements(doc: dict, type_: str) -> list[dict]:
    return [e for e in doc["@graph"] if e["type"] == type_]


def by_id(doc: dict) -> dict[str, dict]:
    return {e["spdxId"]: e for e in doc["@graph"] if "spdxId" in e}


def rels(doc: dict, rel_type: str) -> list[tuple[str, list[str]]]:
    ids = by_id(doc)
    return [
        (ids[r["from"]]["name"], sorted(ids[t]["name"] for t in r["to"]))
        for r in elements(doc, "Relationship")
        if r["relationshipType"] == rel_type
    ]


def test_required_properties_of_the_spdx_model(doc: dict) -> None:
    assert doc["@context"] == CONTEXT
    [creation] = elements(doc, "CreationInfo")
    assert creation["@id"] == "_:creationinfo" and creation["specVersion"] == "3.0.1"
    assert creation["created"].endswith("Z") and len(creation["created"]) == 20
    ids = by_id(doc)
    assert all(ids[a]["type"] in ("SoftwareAgent", "Person", "Organization") for a in creation["createdBy"])
    assert [ids[t]["type"] for t in creation["createdUsing"]] == ["Tool"]
    for el in doc["@graph"]:
        if el["type"] == "CreationInfo":
            continue
        assert el["spdxId"].startswith("https://") and el["creationInfo"] == "_:creationinfo"
        if el["type"] == "Relationship":
            assert el["from"] in ids and el["to"] and all(t in ids for t in el["to"])
        if el["type"] == "dataset_DatasetPackage":
            assert el["dataset_datasetType"] == ["noAssertion"]
    [spdx_doc] = elements(doc, "SpdxDocument")
    assert set(spdx_doc["element"]) == set(ids) - {spdx_doc["spdxId"]}
    assert {"ai", "dataset", "software", "core"} <= set(spdx_doc["profileConformance"])


def test_ai_package_is_the_model_itself(doc: dict) -> None:
    [spdx_doc] = elements(doc, "SpdxDocument")
    model = by_id(doc)[spdx_doc["rootElement"][0]]
    assert model["type"] == "ai_AIPackage"
    assert model["name"] == "acme/bert-imdb-sentiment"
    assert model["software_packageVersion"] == REV
    assert model["software_packageUrl"] == f"pkg:huggingface/acme/bert-imdb-sentiment@{REV}"
    assert model["software_primaryPurpose"] == "model"
    assert model["ai_typeOfModel"] == ["BertForSequenceClassification", "bert"]
    assert {"type": "DictionaryEntry", "key": "learning_rate", "value": "2e-05"} in model["ai_hyperparameter"]
    assert {
        "type": "DictionaryEntry",
        "key": "accuracy [stanfordnlp/imdb config=plain_text split=test]",
        "value": "0.9312",
    } in model["ai_metric"]
    assert "sarcasm" in model["ai_limitation"]
    assert model["ai_informationAboutApplication"].startswith("Task: text-classification.")
    assert "co2_eq_emissions:emissions: 12.5" in model["ai_informationAboutTraining"]
    assert by_id(doc)[model["suppliedBy"]]["name"] == "acme"


def test_relationships(doc: dict) -> None:
    model = "acme/bert-imdb-sentiment"
    assert rels(doc, "trainedOn") == [(model, ["stanfordnlp/imdb"])]
    assert rels(doc, "testedOn") == [(model, ["cornell-movie-review-data/rotten_tomatoes", "stanfordnlp/imdb"])]
    assert rels(doc, "ancestorOf") == [("google-bert/bert-base-uncased", [model])]
    assert rels(doc, "dependsOn") == [(model, ["transformers"])]
    [(_, files)] = rels(doc, "contains")
    assert files == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    ids = by_id(doc)
    [lic] = [r for r in elements(doc, "Relationship") if r["relationshipType"] == "hasDeclaredLicense"]
    assert ids[lic["to"][0]]["simplelicensing_licenseExpression"] == "Apache-2.0"
    datasets = {e["name"]: e for e in elements(doc, "dataset_DatasetPackage")}
    assert datasets["stanfordnlp/imdb"]["software_packageUrl"] == (
        "pkg:huggingface/stanfordnlp/imdb?repository_url=https://huggingface.co/datasets"
    )


def test_files_carry_their_sha256(doc: dict, git_dir: Path) -> None:
    import hashlib

    files = {e["name"]: e for e in elements(doc, "software_File")}
    weights = files["model.safetensors"]
    assert weights["software_primaryPurpose"] == "model"
    assert weights["verifiedUsing"] == [
        {
            "type": "Hash",
            "algorithm": "sha256",
            "hashValue": hashlib.sha256((git_dir / "model.safetensors").read_bytes()).hexdigest(),
        }
    ]
    assert files["config.json"]["software_primaryPurpose"] == "configuration"
    assert files["README.md"]["software_primaryPurpose"] == "documentation"


def test_round_trip_through_the_spdx_bindings(doc: dict) -> None:
    import spdx_python_model

    model, objset = spdx_python_model.load_data(json.loads(json.dumps(doc)))
    assert model.__name__.endswith("v3_0_1")
    assert objset.link() == set()  # every reference resolves inside the document
    ai = [o for o in objset.objects if isinstance(o, model.ai_AIPackage)]
    assert sorted(o.name for o in ai) == ["acme/bert-imdb-sentiment", "google-bert/bert-base-uncased"]
    datasets = [o for o in objset.objects if isinstance(o, model.dataset_DatasetPackage)]
    assert len(datasets) == 2
    out = io.BytesIO()
    model.JSONLDSerializer().write(objset, out)  # raises on a missing required property
    assert out.getvalue()


def test_bindings_reject_a_missing_required_property(doc: dict) -> None:
    import spdx_python_model

    broken = json.loads(json.dumps(doc))
    for el in broken["@graph"]:
        if el["type"] == "dataset_DatasetPackage":
            del el["dataset_datasetType"]
    model, objset = spdx_python_model.load_data(broken)
    with pytest.raises(ValueError, match="datasetType"):
        model.JSONLDSerializer().write(objset, io.BytesIO())


def test_ids_are_deterministic(git_dir: Path) -> None:
    artifact = detect(git_dir)
    first = build_spdx3(build_inventory(artifact), artifact)
    second = build_spdx3(build_inventory(artifact), artifact)
    for d in (first, second):
        d["@graph"][0].pop("created")
    assert first == second


def test_non_spdx_licence_becomes_a_licence_ref() -> None:
    from scanner.core import Artifact, ArtifactKind

    root = Component(bom_ref="model:x", name="x", type="machine-learning-model", licenses=["llama3"])
    inv = Inventory(root=root, components=[root], dependencies={"model:x": []}, timestamp="2026-01-02T03:04:05Z")
    art = Artifact(path=Path("x"), kind=ArtifactKind.MODEL_DIR, name="x", digest="sha256:" + "0" * 64)
    doc = build_spdx3(inv, art)
    assert doc["@graph"][0]["created"] == "2026-01-02T03:04:05Z"
    exprs = sorted(e["simplelicensing_licenseExpression"] for e in elements(doc, "simplelicensing_LicenseExpression"))
    assert exprs == ["CC0-1.0", "LicenseRef-llama3"]


def test_cli_writes_spdx_json(cli, git_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.spdx.json"
    run = cli("sbom", git_dir, "--format", f"spdx-json={out}")
    assert run.code == 0, run.err
    doc = json.loads(out.read_text())
    assert doc["@context"] == CONTEXT
    assert elements(doc, "ai_AIPackage")[0]["name"] == "acme/bert-imdb-sentiment"
