"""ML-BOM of generated model directories: identity, model card, datasets, files and their headers."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.core import Severity
from scanner.inventory.build import build_inventory
from scanner.inventory.components import Inventory
from scanner.inventory.modeldir import inventory_model

from .conftest import CARD, PARAMS, REV, gguf_bytes, make_model_dir, write_weights


def inv_of(path: Path, **kw: str) -> Inventory:
    return inventory_model(detect(path), **kw) if kw else build_inventory(detect(path))


def by_ref(inv: Inventory) -> dict:
    return {c.bom_ref: c for c in inv.components}


def card_of(inv: Inventory) -> dict:
    assert inv.root is not None
    return inv.cyclonedx_extras[inv.root.bom_ref]["modelCard"]


# --- identity -----------------------------------------------------------------------------------


def test_identity_is_the_model_not_its_base(plain_dir: Path) -> None:
    inv = inv_of(plain_dir)
    root = inv.root
    assert root is not None and inv.components[0] is root
    # The card's model-index name wins over the directory name ("checkpoint-500"); the base model
    # named by config.json's _name_or_path and the card's base_model is never the identity.
    assert (root.name, root.version, root.purl, root.type) == (
        "bert-imdb-sentiment",
        None,
        None,
        "machine-learning-model",
    )
    assert root.bom_ref == "model:bert-imdb-sentiment"
    assert root.licenses == ["Apache-2.0"]
    ancestors = inv.cyclonedx_extras[root.bom_ref]["pedigree"]["ancestors"]
    assert ancestors == [
        {
            "type": "machine-learning-model",
            "bom-ref": "base-model:google-bert/bert-base-uncased",
            "name": "google-bert/bert-base-uncased",
            "purl": "pkg:huggingface/google-bert/bert-base-uncased",
            "supplier": {"name": "google-bert"},
        }
    ]
    assert inv.timestamp is not None and inv.timestamp.endswith("Z")


def test_identity_from_git_checkout(git_dir: Path) -> None:
    root = inv_of(git_dir).root
    assert root is not None
    assert root.name == "acme/bert-imdb-sentiment"
    assert root.version == REV
    assert root.purl == f"pkg:huggingface/acme/bert-imdb-sentiment@{REV}"
    assert root.supplier == "acme"
    assert root.properties["identity-source"] == ".git/HEAD, .git/config"
    assert root.external_references["website"] == "https://huggingface.co/acme/bert-imdb-sentiment"


def test_git_packed_refs_and_detached_head(fresh, git_dir: Path) -> None:
    d = fresh(git_dir)
    (d / ".git" / "refs" / "heads" / "main").unlink()
    (d / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled\n{REV} refs/heads/main\n")
    assert inv_of(d).root.version == REV
    other = "a" * 40
    (d / ".git" / "HEAD").write_text(other + "\n")
    assert inv_of(d).root.version == other


def test_git_files_are_not_model_files(git_dir: Path) -> None:
    assert not [c for c in inv_of(git_dir).components if ".git" in c.name]


def test_explicit_name_and_version_win(git_dir: Path) -> None:
    root = inv_of(git_dir, name="corp/sentiment-v2", version="2.1.0").root
    assert (root.name, root.version, root.purl, root.supplier) == (
        "corp/sentiment-v2",
        "2.1.0",
        "pkg:huggingface/corp/sentiment-v2@2.1.0",
        "corp",
    )


def test_identity_from_huggingface_cache_layout(tmp_path: Path) -> None:
    snap = tmp_path / "hub" / "models--acme--tiny-bert" / "snapshots" / REV
    make_model_dir(snap, card="# no front matter\n")
    root = inv_of(snap).root
    assert (root.name, root.version, root.purl) == (
        "acme/tiny-bert",
        REV,
        f"pkg:huggingface/acme/tiny-bert@{REV}",
    )


def test_without_card_the_directory_names_the_model(tmp_path: Path) -> None:
    d = make_model_dir(tmp_path / "my-local-model", card="Just prose.\n")
    inv = inv_of(d)
    assert inv.root.name == "my-local-model"
    # _name_or_path is a hub id other than ours: it becomes the ancestor, not the name.
    assert inv.cyclonedx_extras[inv.root.bom_ref]["pedigree"]["ancestors"][0]["name"] == (
        "google-bert/bert-base-uncased"
    )


# --- the model card -----------------------------------------------------------------------------


def test_model_card_fields(plain_dir: Path) -> None:
    card = card_of(inv_of(plain_dir))
    assert card["modelParameters"] == {
        "task": "text-classification",
        "architectureFamily": "bert",
        "modelArchitecture": "BertForSequenceClassification",
        "datasets": [{"ref": "dataset:stanfordnlp/imdb"}, {"ref": "dataset:cornell-movie-review-data/rotten_tomatoes"}],
    }
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "accuracy", "value": "0.9312", "slice": "stanfordnlp/imdb config=plain_text split=test"},
        {"type": "f1", "value": "0.9308", "slice": "stanfordnlp/imdb config=plain_text split=test"},
        {"type": "accuracy", "value": "0.851", "slice": "cornell-movie-review-data/rotten_tomatoes split=validation"},
    ]
    cons = card["considerations"]
    assert cons["useCases"] == ["Binary sentiment of English movie reviews."]
    assert cons["technicalLimitations"] == ["Not for content moderation decisions about people."]
    assert cons["ethicalConsiderations"] == [
        {
            "name": "Trained on movie reviews only; sarcasm and other domains are misread.",
            "mitigationStrategy": "Evaluate on your own domain before use.",
        }
    ]
    env = {p["name"]: p["value"] for p in cons["environmentalConsiderations"]["properties"]}
    assert env["co2_eq_emissions:emissions"] == "12.5"
    assert env["co2_eq_emissions:hardware_used"] == "1 x A100"
    props = [(p["name"], p["value"]) for p in card["properties"]]
    for expected in [
        ("hyperparameter:learning_rate", "2e-05"),
        ("hyperparameter:num_epochs", "3"),
        ("training-framework:Pytorch", "2.4.0+cu121"),
        ("config:_name_or_path", "google-bert/bert-base-uncased"),
        ("config:hidden_size", "8"),
        ("language", "en"),
        ("tag", "sentiment"),
    ]:
        assert expected in props


def test_datasets_and_framework_are_components_and_dependencies(plain_dir: Path) -> None:
    inv = inv_of(plain_dir)
    comps = by_ref(inv)
    imdb = comps["dataset:stanfordnlp/imdb"]
    assert (imdb.type, imdb.purl, imdb.supplier, imdb.properties["ml-role"]) == (
        "data",
        "pkg:huggingface/stanfordnlp/imdb?repository_url=https://huggingface.co/datasets",
        "stanfordnlp",
        "training,evaluation",
    )
    assert comps["dataset:cornell-movie-review-data/rotten_tomatoes"].properties["ml-role"] == "evaluation"
    tf = comps["pkg:pypi/transformers@4.44.2"]
    assert (tf.type, tf.name, tf.version, tf.purl) == (
        "framework",
        "transformers",
        "4.44.2",
        "pkg:pypi/transformers@4.44.2",
    )
    root_deps = inv.dependencies[inv.root.bom_ref]
    assert root_deps[:3] == [
        "pkg:pypi/transformers@4.44.2",
        "dataset:stanfordnlp/imdb",
        "dataset:cornell-movie-review-data/rotten_tomatoes",
    ]
    assert sorted(root_deps[3:]) == sorted(c.bom_ref for c in inv.components if c.type == "file")


def test_other_licence_keeps_its_name(tmp_path: Path) -> None:
    card = CARD.replace(
        "license: apache-2.0", "license: other\nlicense_name: acme-model-license\nlicense_link: LICENSE"
    )
    inv = inv_of(make_model_dir(tmp_path / "m", card=card))
    assert inv.root.licenses == ["acme-model-license"]
    assert inv.root.external_references["license"] == "LICENSE"


def test_broken_front_matter_is_a_finding_with_the_line(tmp_path: Path) -> None:
    broken = CARD.replace("pipeline_tag: text-classification", "pipeline_tag: [text-classification")
    d = make_model_dir(tmp_path / "broken", card=broken)
    inv = inv_of(d)
    [finding] = [f for f in inv.findings if f.id == "SBOM-MODEL-CARD-INVALID"]
    line = broken.splitlines().index("pipeline_tag: [text-classification") + 1
    assert finding.subject == str(d / "README.md")
    assert finding.evidence["file"] == str(d / "README.md")
    assert finding.severity == Severity.LOW and finding.check == "sbom"
    # PyYAML reports an unclosed flow sequence where it notices it, at or just after the line.
    assert line <= finding.evidence["line"] <= line + 2
    # The rest of the ML-BOM is still built: config.json facts and the prose of the card.
    card = card_of(inv)
    assert card["modelParameters"]["modelArchitecture"] == "BertForSequenceClassification"
    assert "task" not in card["modelParameters"]
    assert card["considerations"]["useCases"] == ["Binary sentiment of English movie reviews."]


@pytest.mark.parametrize(
    "front",
    [
        "- just\n- a list\n",  # not a mapping
        "a: &x [1]\nb: *x\n",  # aliases are refused
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)),  # nested too deep
        "x: " + "[" * 5000 + "\n",  # deep flow nesting
    ],
)
def test_hostile_front_matter_is_a_finding(tmp_path: Path, front: str) -> None:
    d = make_model_dir(tmp_path / "m", card=f"---\n{front}---\nbody\n")
    assert [f.id for f in inv_of(d).findings] == ["SBOM-MODEL-CARD-INVALID"]


def test_invalid_config_is_a_finding(fresh, plain_dir: Path) -> None:
    d = fresh(plain_dir)
    (d / "config.json").write_text('{"model_type": "bert",')
    inv = inv_of(d)
    assert [f.id for f in inv.findings] == ["SBOM-MODEL-CONFIG-INVALID"]
    assert "modelArchitecture" not in card_of(inv)["modelParameters"]


# --- files --------------------------------------------------------------------------------------


def test_every_file_is_a_component_with_hash_size_and_format(plain_dir: Path) -> None:
    inv = inv_of(plain_dir)
    files = {c.name: c for c in inv.components if c.type == "file"}
    assert sorted(files) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    for name, comp in files.items():
        data = (plain_dir / name).read_bytes()
        assert comp.bom_ref == f"file:{name}"
        assert comp.hashes == {"SHA-256": hashlib.sha256(data).hexdigest()}
        assert comp.properties["size"] == str(len(data))
    assert files["model.safetensors"].properties["format"] == "safetensors"
    assert files["config.json"].properties["format"] == "json"
    assert files["tokenizer.json"].properties["format"] == "json"
    assert files["README.md"].properties["format"] == "text"


def test_safetensors_header_facts_and_parameter_count(plain_dir: Path) -> None:
    inv = inv_of(plain_dir)
    weights = by_ref(inv)["file:model.safetensors"]
    assert weights.properties["dtypes"] == "F16,F32"
    assert weights.properties["tensors"] == "3"
    assert weights.properties["parameters"] == str(PARAMS)
    assert inv.root.properties["parameters"] == str(PARAMS)
    assert inv.root.properties["weight-files"] == "1"


def test_shards_and_their_index(sharded_dir: Path) -> None:
    inv = inv_of(sharded_dir)
    comps = by_ref(inv)
    shards = ["file:model-00001-of-00002.safetensors", "file:model-00002-of-00002.safetensors"]
    assert inv.dependencies["file:model.safetensors.index.json"] == shards
    assert [comps[s].properties["format"] for s in shards] == ["safetensors", "safetensors"]
    assert [comps[s].properties["parameters"] for s in shards] == ["512", "18"]
    assert inv.root.properties["parameters"] == str(PARAMS)
    assert inv.findings == []


def test_missing_shard_is_a_finding(fresh, sharded_dir: Path) -> None:
    d = fresh(sharded_dir)
    (d / "model-00002-of-00002.safetensors").unlink()
    inv = inv_of(d)
    [finding] = inv.findings
    assert finding.id == "SBOM-MODEL-SHARD-MISSING"
    assert finding.evidence == {
        "file": str(d / "model.safetensors.index.json"),
        "shard": "model-00002-of-00002.safetensors",
    }
    assert inv.dependencies["file:model.safetensors.index.json"] == ["file:model-00001-of-00002.safetensors"]


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda b: b[:5], "shorter than the 8-byte header length"),
        (lambda b: struct.pack("<Q", 1 << 40) + b[8:], "header length"),
        (lambda b: struct.pack("<Q", len(b)) + b[8:], "header length"),
    ],
)
def test_safetensors_reader_refuses_bad_lengths(tmp_path: Path, mutate, error: str) -> None:
    d = tmp_path / "m"
    d.mkdir()
    write_weights(d / "w.safetensors")
    raw = (d / "w.safetensors").read_bytes()
    (d / "w.safetensors").write_bytes(mutate(raw))
    # These bytes no longer sniff as safetensors (so the inventory would not read them as such):
    # the reader itself must refuse them.
    from scanner.inventory.mlbom import HeaderError, safetensors_facts

    with pytest.raises(HeaderError, match=error):
        safetensors_facts(d / "w.safetensors")


def test_bad_tensor_offsets_become_an_inventory_finding(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 4096]}}).encode()
    (d / "w.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    inv = inv_of(d)
    [finding] = inv.findings
    assert finding.id == "SBOM-MODEL-HEADER-UNREADABLE"
    assert finding.evidence["format"] == "safetensors"
    assert "tensor 'w' ends at 4096, past the 16-byte data section" in finding.evidence["error"]
    assert "parameters" not in by_ref(inv)["file:w.safetensors"].properties


def test_gguf_single_file(tmp_path: Path) -> None:
    f = tmp_path / "tiny-llama.Q4_K_M.gguf"
    f.write_bytes(gguf_bytes())
    inv = inv_of(f)
    assert inv.root.name == "tiny-llama.Q4_K_M.gguf"
    [file] = [c for c in inv.components if c.type == "file"]
    assert file.bom_ref == "file:tiny-llama.Q4_K_M.gguf"
    assert file.hashes["SHA-256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert {k: file.properties[k] for k in ("format", "architecture", "quantization", "tensors", "parameters")} == {
        "format": "gguf",
        "architecture": "llama",
        "quantization": "Q4_K_M",
        "tensors": "2",
        "parameters": str(16 * 32 + 16),
    }
    assert inv.root.properties["quantization"] == "Q4_K_M"


def test_truncated_gguf_is_a_finding(tmp_path: Path) -> None:
    f = tmp_path / "cut.gguf"
    f.write_bytes(gguf_bytes()[:60])
    [finding] = inv_of(f).findings
    assert finding.id == "SBOM-MODEL-HEADER-UNREADABLE"
    assert "cannot fit in the 60-byte file" in finding.evidence["error"]


def test_link_out_of_the_tree_is_not_followed(fresh, plain_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.bin"
    secret.write_bytes(b"not part of the model")
    d = fresh(plain_dir)
    os.symlink(secret, d / "extra.bin")
    inv = inv_of(d)
    link = by_ref(inv)["file:extra.bin"]
    assert link.hashes == {} and link.properties == {"skipped": "link outside"}
    assert inv.findings == []  # one rule: the model check's MODEL-SYMLINK-ESCAPE reports it


def test_huggingface_cache_snapshot_links_into_blobs_are_the_model(tmp_path: Path) -> None:
    """In the hub cache every snapshot file links to ../../blobs/<digest>: those are the model's
    files (hashed, sniffed, read); a link leaving the cached repository is still not followed."""
    repo = tmp_path / "hub" / "models--acme--tiny-bert"
    staged = make_model_dir(tmp_path / "staged")
    snap = repo / "snapshots" / REV
    (repo / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    for f in sorted(staged.iterdir()):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        f.rename(repo / "blobs" / digest)
        os.symlink(Path("..", "..", "blobs", digest), snap / f.name)
    (tmp_path / "elsewhere.txt").write_text("outside")
    os.symlink(tmp_path / "elsewhere.txt", snap / "stray.txt")
    inv = inv_of(snap)
    assert inv.root.name == "acme/tiny-bert"
    assert card_of(inv)["modelParameters"]["task"] == "text-classification"  # README read via its blob
    weights = by_ref(inv)["file:model.safetensors"]
    assert weights.properties["parameters"] == str(PARAMS)
    assert weights.hashes["SHA-256"] == Path(os.readlink(snap / "model.safetensors")).name
    assert by_ref(inv)["file:stray.txt"].properties == {"skipped": "link outside"}
    assert inv.findings == []  # one rule: the model check's MODEL-SYMLINK-ESCAPE reports it


def test_peft_adapter_names_its_base_and_library(tmp_path: Path) -> None:
    d = tmp_path / "lora-sentiment"
    d.mkdir()
    (d / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "meta-llama/Llama-3.2-1B", "peft_type": "LORA", "r": 8})
    )
    (d / "README.md").write_text("---\nlibrary_name: peft\nlicense: llama3.2\n---\n# LoRA\n")
    write_weights(d / "adapter_model.safetensors")
    inv = inv_of(d)
    assert inv.root.name == "lora-sentiment"
    assert inv.root.licenses == ["llama3.2"]  # not an SPDX id: kept as a name, not invented
    extras = inv.cyclonedx_extras[inv.root.bom_ref]
    assert extras["pedigree"]["ancestors"][0]["purl"] == "pkg:huggingface/meta-llama/Llama-3.2-1B"
    assert ("config:peft_type", "LORA") in [(p["name"], p["value"]) for p in extras["modelCard"]["properties"]]
    peft = by_ref(inv)["pkg:pypi/peft"]
    assert (peft.type, peft.version) == ("framework", None)


def test_diffusers_pipeline(tmp_path: Path) -> None:
    d = tmp_path / "sd-tiny"
    (d / "unet").mkdir(parents=True)
    (d / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "_diffusers_version": "0.30.0",
                "unet": ["diffusers", "UNet2DConditionModel"],
            }
        )
    )
    (d / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    write_weights(d / "unet" / "diffusion_pytorch_model.safetensors")
    inv = inv_of(d)
    assert card_of(inv)["modelParameters"]["modelArchitecture"] == "StableDiffusionPipeline"
    assert by_ref(inv)["pkg:pypi/diffusers@0.30.0"].type == "framework"
    weights = by_ref(inv)["file:unet/diffusion_pytorch_model.safetensors"]
    assert weights.properties["parameters"] == str(PARAMS)
    assert inv.root.properties["parameters"] == str(PARAMS)
