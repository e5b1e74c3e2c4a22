"""Model directories that carry code and dependencies, written by the libraries themselves
(MLflow, skops, scikit-learn, safetensors) or exactly as transformers writes them."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MAKER = Path(__file__).with_name("make_models.py")
# One generation per test run, shared by the xdist workers of the run (the imports of mlflow,
# skops and scikit-learn alone take seconds): started in the background when a worker imports this
# file, so the other tests run meanwhile; each worker copies the result into its own temporary
# directory, and the worker that generated it removes it when it exits.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
_SHARED = Path(tempfile.gettempdir()) / f"scanner-modelcode-{_RUN}"
_LOCK = Path(f"{_SHARED}.lock")
_errors: list[str] = []


def _generate_locked() -> None:
    if (_SHARED / ".done").exists():
        return
    proc = subprocess.run([sys.executable, str(MAKER), str(_SHARED)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        _errors.append(proc.stderr[-3000:])
        return
    (_SHARED / ".done").touch()
    atexit.register(_cleanup)


def _generate() -> None:
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _generate_locked()


def _cleanup() -> None:
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(_SHARED, ignore_errors=True)
    _LOCK.unlink(missing_ok=True)


_background = threading.Thread(target=_generate, daemon=True)
if os.environ.get("PYTEST_XDIST_WORKER"):
    _background.start()


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MLflow / skops directories of ``make_models.py`` (a copy private to this worker)."""
    if _background.is_alive():
        _background.join()
    target = tmp_path_factory.mktemp("modelcode-made")
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _generate_locked()  # not started in the background, or removed by a worker that finished
        assert not _errors, _errors[-1]
        shutil.copytree(_SHARED, target, dirs_exist_ok=True, symlinks=True)
    return target


def write_weights(path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"embed.weight": np.zeros((4, 2), dtype=np.float32)}, str(path))


def write_hf(
    d: Path,
    code: dict[str, str],
    auto_map: dict[str, Any] | None = None,
    tokenizer_auto_map: dict[str, Any] | None = None,
    weights: bool = True,
) -> Path:
    """A Hugging Face model directory as ``save_pretrained`` writes it for a custom architecture
    (``register_for_auto_class``): config.json with ``auto_map``, the modules beside it."""
    d.mkdir(parents=True, exist_ok=True)
    if weights:
        write_weights(d / "model.safetensors")
    if auto_map is not None:
        config = {
            "architectures": ["TinyModel"],
            "auto_map": auto_map,
            "hidden_size": 2,
            "model_type": "tiny",
            "torch_dtype": "float32",
            "transformers_version": "4.44.2",
        }
        (d / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if tokenizer_auto_map is not None:
        tok = {"auto_map": tokenizer_auto_map, "model_max_length": 512, "tokenizer_class": "TinyTokenizer"}
        (d / "tokenizer_config.json").write_text(json.dumps(tok, indent=2, sort_keys=True) + "\n")
    for name, text in code.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d


BENIGN_CONFIG = (
    "from transformers import PretrainedConfig\n\n\n"
    "class TinyConfig(PretrainedConfig):\n"
    '    model_type = "tiny"\n\n'
    "    def __init__(self, hidden_size=2, **kwargs):\n"
    "        self.hidden_size = hidden_size\n"
    "        super().__init__(**kwargs)\n"
)
BENIGN_MODELING = (
    "import torch\n"
    "from torch import nn\n"
    "from transformers import PreTrainedModel\n"
    "from transformers.utils import logging\n\n"
    "from .configuration_tiny import TinyConfig\n\n"
    "logger = logging.get_logger(__name__)\n\n\n"
    "class TinyModel(PreTrainedModel):\n"
    "    config_class = TinyConfig\n\n"
    "    def __init__(self, config):\n"
    "        super().__init__(config)\n"
    "        self.embed = nn.Embedding(4, config.hidden_size)\n\n"
    "    def forward(self, input_ids):\n"
    "        return torch.tanh(self.embed(input_ids))\n"
)
AUTO_MAP = {"AutoConfig": "configuration_tiny.TinyConfig", "AutoModel": "modeling_tiny.TinyModel"}


@pytest.fixture
def gate(cli: Callable[..., Any], tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``scanner gate PATH --stage STAGE -f json`` → the evidence record, plus the policy input
    under ``"input"``."""
    counter = iter(range(1000))

    def run(path: Path, stage: str = "dev", *extra: str | Path) -> dict[str, Any]:
        saved = tmp_path / f"input{next(counter)}.json"
        r = cli("gate", path, "--stage", stage, "--no-ledger", "-f", "json", "--save-input", saved, *extra)
        assert r.code in (0, 1), r.err
        record: dict[str, Any] = json.loads(r.out)
        record["input"] = json.loads(saved.read_text())
        record["exit"] = r.code
        return record

    return run


def findings(record: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """(id, severity, subject relative to the artifact) of every finding whose id starts with
    ``prefix``, sorted."""
    root = record["input"]["artifact"]["path"].rstrip("/") + "/"
    return sorted(
        (f["id"], f["severity"], f["subject"].removeprefix(root))
        for f in record["findings"]
        if f["id"].startswith(prefix)
    )


def denied(record: dict[str, Any]) -> set[str]:
    return {d["rule"] for d in record["decision"]["deny"]}


def warned(record: dict[str, Any]) -> set[str]:
    return {d["rule"] for d in record["decision"]["warn"]}


def components(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """bom-ref → CycloneDX component of the record's ML-BOM (the model itself included)."""
    bom = record["sbom"]
    out = {c["bom-ref"]: c for c in bom["components"]}
    out[bom["metadata"]["component"]["bom-ref"]] = bom["metadata"]["component"]
    return out


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def depends_on(record: dict[str, Any], ref: str) -> list[str]:
    for d in record["sbom"]["dependencies"]:
        if d["ref"] == ref:
            return list(d.get("dependsOn", []))
    return []
