"""Seeded mutations of benign samples: every scanner returns findings, never raises or hangs.

(HDF5 is left out here: it runs in a child process per file and has its own hang test.)
"""

from __future__ import annotations

import io
import json
import random
import time
from types import ModuleType

import numpy as np
import pytest
from safetensors.numpy import save

from scanner.core import Finding
from scanner.models.api import FormatContext
from scanner.models.formats import gguf, keras_config, protobuf
from scanner.models.formats import safetensors as st

from .test_gguf import TOOLS, model
from .test_keras import keras3_config, lambda3
from .test_protobuf import BASE_NODES, PBTXT, SAVE_FN, external, keras_metadata, onnx_model, saved_model, serving_fn


def samples() -> list[tuple[str, ModuleType, bytes]]:
    return [
        ("safetensors", st, save({"a": np.zeros((3, 4), np.float32), "b": np.ones(2, np.int8)})),
        ("gguf", gguf, model(TOOLS)),
        ("onnx", protobuf, onnx_model([external("w", "/abs.bin")])),
        ("savedmodel", protobuf, saved_model(BASE_NODES, [serving_fn(), SAVE_FN])),
        ("keras_metadata", protobuf, keras_metadata({"class_name": "Dense", "config": {"name": "d"}})),
        ("pbtxt", protobuf, (PBTXT % "").encode()),
        ("keras", keras_config, json.dumps(keras3_config(lambda3("1"))).encode()),
    ]


def mutate(rng: random.Random, blob: bytes) -> bytes:
    out = bytearray(blob)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        pos = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.5:
            out[pos] = rng.randrange(256)
        elif choice < 0.7:
            del out[pos : pos + rng.randint(1, 64)]
        elif choice < 0.9:
            out[pos:pos] = rng.randbytes(rng.randint(1, 16))
        else:
            del out[pos:]
    return bytes(out)


@pytest.mark.parametrize("index", range(7))
def test_mutated_samples_never_raise(index: int) -> None:
    name, module, blob = samples()[index]
    rng = random.Random(f"{name}-seed")
    started = time.perf_counter()
    for _ in range(150):
        data = mutate(rng, blob)
        found = module.scan(io.BytesIO(data), len(data), "m/saved_model.pb", FormatContext())
        assert isinstance(found, list)
        assert all(isinstance(f, Finding) and f.check == "model" for f in found)
    assert time.perf_counter() - started < 20
