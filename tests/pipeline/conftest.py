"""Real hostile files, generated in code: a pickle that calls ``os.system('true')`` and a Keras 3
model whose Lambda layer carries bytecode calling it. Nothing is ever loaded."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from tests.formats.test_keras import keras3_config, lambda3


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("true",))


def evil_pickle() -> bytes:
    """Protocol 2: a GLOBAL os.system and a REDUCE (what torch.load would run)."""
    return pickle.dumps(_Payload(), protocol=2)


def evil_keras() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        zf.writestr("config.json", json.dumps(keras3_config(lambda3("__import__('os').system('true')"))))
    return buf.getvalue()


def plant(directory: Path) -> None:
    """Both payloads under names that promise nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.data").write_bytes(evil_pickle())
    (directory / "layers.zip").write_bytes(evil_keras())


PICKLE_IDS = {"MODEL-PICKLE-GLOBAL", "MODEL-PICKLE-DANGEROUS-GLOBAL"}


def model_findings(findings: list[dict]) -> set[str]:
    """Names of the files that got a critical or high model finding."""
    return {
        f["subject"].rsplit("/", 1)[-1].split("!", 1)[0]
        for f in findings
        if f["check"] == "model" and f["severity"] in ("critical", "high")
    }


@pytest.fixture
def evil_dir(tmp_path: Path) -> Path:
    root = tmp_path / "artifact"
    plant(root)
    return root
