"""Generated Hugging Face style model directories (real safetensors weights, real cards)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

REV = "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"

CARD = """\
---
language:
- en
license: apache-2.0
library_name: transformers
pipeline_tag: text-classification
tags:
- generated_from_trainer
- sentiment
base_model: google-bert/bert-base-uncased
datasets:
- stanfordnlp/imdb
co2_eq_emissions:
  emissions: 12.5
  source: CodeCarbon
  training_type: fine-tuning
  geographical_location: Frankfurt, Germany
  hardware_used: 1 x A100
model-index:
- name: bert-imdb-sentiment
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: IMDB
      type: stanfordnlp/imdb
      config: plain_text
      split: test
    metrics:
    - type: accuracy
      value: 0.9312
      name: Accuracy
    - type: f1
      value: 0.9308
  - task:
      type: text-classification
    dataset:
      name: Rotten Tomatoes
      type: cornell-movie-review-data/rotten_tomatoes
      split: validation
    metrics:
    - type: accuracy
      value: 0.851
---

# bert-imdb-sentiment

This model is a fine-tuned version of google-bert/bert-base-uncased on the IMDB dataset.

## Intended uses & limitations

Binary sentiment of English movie reviews.

## Bias, Risks, and Limitations

Trained on movie reviews only; sarcasm and other domains are misread.

### Recommendations

Evaluate on your own domain before use.

## Out-of-Scope Use

Not for content moderation decisions about people.

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 2e-05
- train_batch_size: 16
- seed: 42
- num_epochs: 3

### Framework versions

- Transformers 4.44.2
- Pytorch 2.4.0+cu121
- Datasets 2.21.0
- Tokenizers 0.19.1
"""

CONFIG = {
    "_name_or_path": "google-bert/bert-base-uncased",
    "architectures": ["BertForSequenceClassification"],
    "model_type": "bert",
    "torch_dtype": "float32",
    "transformers_version": "4.44.2",
    "vocab_size": 64,
    "hidden_size": 8,
    "num_hidden_layers": 2,
}

# 64*8 + 2*8 + 2 = 530 parameters
TENSORS = {"bert.embeddings.word_embeddings.weight": (64, 8), "classifier.weight": (2, 8), "classifier.bias": (2,)}
PARAMS = 530


def write_weights(path: Path, names: list[str] | None = None, metadata: dict[str, str] | None = None) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    tensors = {
        n: np.zeros(shape, dtype=np.float16 if n.endswith("bias") else np.float32) for n, shape in TENSORS.items()
    }
    if names is not None:
        tensors = {n: t for n, t in tensors.items() if n in names}
    save_file(tensors, str(path), metadata=metadata or {"format": "pt"})


def make_model_dir(path: Path, *, sharded: bool = False, git: bool = False, card: str = CARD) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(CONFIG, indent=2))
    (path / "README.md").write_text(card)
    (path / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "WordPiece", "vocab": {}}}))
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    if sharded:
        first = ["bert.embeddings.word_embeddings.weight"]
        # The metadata keeps the first shard's header length off 0x80: the content sniffer takes a
        # little-endian length of 0x80 (bytes 80 00) for a pickle PROTO opcode.
        write_weights(path / "model-00001-of-00002.safetensors", first, {"format": "pt", "shard": "1/2"})
        write_weights(path / "model-00002-of-00002.safetensors", ["classifier.weight", "classifier.bias"])
        weight_map = {
            n: "model-00001-of-00002.safetensors" if n in first else "model-00002-of-00002.safetensors" for n in TENSORS
        }
        (path / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": 2 * 16 + 512 * 4 + 16 * 4}, "weight_map": weight_map})
        )
    else:
        write_weights(path / "model.safetensors")
    if git:
        g = path / ".git"
        (g / "refs" / "heads").mkdir(parents=True)
        (g / "HEAD").write_text("ref: refs/heads/main\n")
        (g / "refs" / "heads" / "main").write_text(REV + "\n")
        (g / "config").write_text('[remote "origin"]\n\turl = https://huggingface.co/acme/bert-imdb-sentiment\n')
    return path


def gguf_bytes(arch: str = "llama", file_type: int = 15) -> bytes:
    """A GGUF v3 file: metadata (incl. a string array) and two tensor infos, then aligned data."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kvs = [
        s("general.architecture") + struct.pack("<I", 8) + s(arch),
        s("general.name") + struct.pack("<I", 8) + s("tiny-llama"),
        s("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", file_type),
        s("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 3) + s("a") + s("b") + s("c"),
        s("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", 2048),
    ]
    tensors = [
        s("token_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 16, 32) + struct.pack("<IQ", 0, 0),
        s("output_norm.weight") + struct.pack("<I", 1) + struct.pack("<Q", 16) + struct.pack("<IQ", 0, 2048),
    ]
    body = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    body += b"\0" * (-len(body) % 32)
    return body + b"\0" * (16 * 32 * 4 + 16 * 4)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def plain_dir(model_root: Path) -> Path:
    return make_model_dir(model_root / "checkpoint-500")


@pytest.fixture(scope="session")
def git_dir(model_root: Path) -> Path:
    return make_model_dir(model_root / "clone", git=True)


@pytest.fixture(scope="session")
def sharded_dir(model_root: Path) -> Path:
    return make_model_dir(model_root / "sharded", sharded=True)


@pytest.fixture
def fresh(tmp_path: Path):
    """Copy of a session directory that a test may change."""

    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst, symlinks=True)
        return dst

    return copy
