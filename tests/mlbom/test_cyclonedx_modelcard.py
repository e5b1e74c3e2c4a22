"""The ML-BOM as CycloneDX 1.6 JSON with the modelCard and pedigree merged in, strictly validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.inventory.build import build_inventory
from scanner.inventory.cyclonedx import to_cyclonedx_json


def merged_bom(path: Path) -> dict:
    """Serialize with the inventory serializer, then merge ``cyclonedx_extras`` by bom-ref (what
    the serializer does once it merges extras itself; done here when it does not yet)."""
    artifact = detect(path)
    inv = build_inventory(artifact)
    bom = json.loads(to_cyclonedx_json(inv, artifact))
    targets = [bom["metadata"]["component"], *bom.get("components", [])]
    for ref, extras in inv.cyclonedx_extras.items():
        [target] = [c for c in targets if c.get("bom-ref") == ref]
        for key, value in extras.items():
            target.setdefault(key, value)
    return bom


def validation_error(bom: dict) -> object:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))


@pytest.fixture(scope="module")
def bom(git_dir: Path) -> dict:
    return merged_bom(git_dir)


def test_ml_bom_with_model_card_validates_strictly(bom: dict) -> None:
    root = bom["metadata"]["component"]
    assert root["type"] == "machine-learning-model"
    assert root["name"] == "acme/bert-imdb-sentiment"
    assert root["modelCard"]["modelParameters"]["task"] == "text-classification"
    assert root["pedigree"]["ancestors"][0]["purl"] == "pkg:huggingface/google-bert/bert-base-uncased"
    types = sorted({c["type"] for c in bom["components"]})
    assert types == ["data", "file", "framework"]
    assert validation_error(bom) is None


def test_sharded_model_validates_strictly(sharded_dir: Path) -> None:
    assert validation_error(merged_bom(sharded_dir)) is None


def test_validator_rejects_a_bogus_model_card_member(bom: dict) -> None:
    broken = json.loads(json.dumps(bom))
    broken["metadata"]["component"]["modelCard"]["modelParameters"]["taskk"] = "x"
    assert validation_error(broken) is not None
    broken = json.loads(json.dumps(bom))
    broken["metadata"]["component"]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0]["value"] = 0.93
    assert validation_error(broken) is not None


def test_model_card_dataset_refs_resolve_to_data_components(bom: dict) -> None:
    refs = [d["ref"] for d in bom["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"]]
    data = {c["bom-ref"] for c in bom["components"] if c["type"] == "data"}
    assert refs and set(refs) == data
    [root_deps] = [d["dependsOn"] for d in bom["dependencies"] if d["ref"] == bom["metadata"]["component"]["bom-ref"]]
    assert data <= set(root_deps)
