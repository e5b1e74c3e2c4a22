"""Keras: model configs as Keras 2 (.h5 attributes) and Keras 3 (.keras config.json) write them.

Lambda bytecode is produced with ``marshal.dumps`` of harmless code; nothing is ever unmarshalled.
"""

from __future__ import annotations

import base64
import codecs
import copy
import io
import json
import marshal
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from scanner.core import Severity
from scanner.models.api import FormatContext, Limits
from scanner.models.formats import hdf5, keras_config

from .helpers import ids, scan_bytes, scan_file


def dense2(name: str, units: int) -> dict[str, Any]:
    return {
        "class_name": "Dense",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "units": units,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
    }


def func_dump(code: str) -> str:
    """What Keras' func_dump stores: base64 (with line breaks) of the marshalled code object."""
    return codecs.encode(marshal.dumps(compile(code, "<keras>", "eval")), "base64").decode("ascii")


def keras2_config(*extra_layers: dict[str, Any]) -> dict[str, Any]:
    layers = [
        {
            "class_name": "InputLayer",
            "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "dense_input"},
        },
        dense2("dense", 8),
        *extra_layers,
        dense2("dense_1", 1),
    ]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def lambda2(code: str = "1") -> dict[str, Any]:
    return {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": "float32",
            "function": [func_dump(code), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }


TRAINING = {
    "loss": "mean_squared_error",
    "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "mae", "dtype": "float32", "fn": "mae"}}]],
    "weighted_metrics": None,
    "loss_weights": None,
    "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001}},
}


def write_h5(path: Path, config: dict[str, Any] | None, training: dict[str, Any] | None = TRAINING) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        if config is not None:
            f.attrs["model_config"] = json.dumps(config).encode("utf-8")
        if training is not None:
            f.attrs["training_config"] = json.dumps(training)
        weights = f.create_group("model_weights")
        weights.create_dataset("dense/dense/kernel:0", data=np.ones((4, 8), dtype=np.float32))
        weights.create_dataset("dense/dense/bias:0", data=np.zeros(8, dtype=np.float32))
    return path


# --- Keras 3 config.json ---------------------------------------------------------------------------


def k3(module: str, class_name: str, config: Any, registered: str | None = None, **more: Any) -> dict[str, Any]:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": registered, **more}


def dense3(name: str, units: int, inbound: str) -> dict[str, Any]:
    return k3(
        "keras.layers",
        "Dense",
        {
            "name": name,
            "trainable": True,
            "dtype": k3("keras", "DTypePolicy", {"name": "float32"}),
            "units": units,
            "activation": "relu",
            "use_bias": True,
            "kernel_initializer": k3("keras.initializers", "GlorotUniform", {"seed": None}),
            "bias_initializer": k3("keras.initializers", "Zeros", {}),
        },
        build_config={"input_shape": [None, 4]},
        name=name,
        inbound_nodes=[
            {
                "args": [
                    {
                        "class_name": "__keras_tensor__",
                        "config": {"shape": [None, 4], "dtype": "float32", "keras_history": [inbound, 0, 0]},
                    }
                ],
                "kwargs": {},
            }
        ],
    )


def keras3_config(*extra_layers: dict[str, Any]) -> dict[str, Any]:
    layers = [
        k3(
            "keras.layers",
            "InputLayer",
            {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "input_layer"},
            name="input_layer",
            inbound_nodes=[],
        ),
        dense3("dense", 8, "input_layer"),
        *extra_layers,
    ]
    return k3(
        "keras",
        "Functional",
        {
            "name": "functional",
            "trainable": True,
            "layers": layers,
            "input_layers": [["input_layer", 0, 0]],
            "output_layers": [["dense", 0, 0]],
        },
        "Functional",
        build_config={"input_shape": None},
        compile_config={
            "optimizer": k3("keras.optimizers", "Adam", {"name": "adam", "learning_rate": 0.001}),
            "loss": "mean_squared_error",
            "metrics": ["mae"],
        },
    )


def lambda3(code: str) -> dict[str, Any]:
    raw = base64.b64encode(marshal.dumps(compile(code, "<keras>", "eval"))).decode()
    fn = {"class_name": "__lambda__", "config": {"code": raw, "defaults": None, "closure": None}}
    return k3(
        "keras.layers",
        "Lambda",
        {"name": "lambda", "trainable": True, "function": fn, "arguments": {}},
        name="lambda",
    )


def scan_json(config: Any, subject: str = "model.keras!config.json") -> list:
    return scan_bytes(keras_config, json.dumps(config).encode(), subject)


def test_keras3_benign_is_clean() -> None:
    assert scan_json(keras3_config()) == []


def test_keras3_lambda_names_what_the_code_uses() -> None:
    found = scan_json(keras3_config(lambda3("__import__('os').system('true')")))
    assert ids(found) == [keras_config.LAMBDA]
    f = found[0]
    assert f.severity is Severity.CRITICAL
    assert f.subject == "model.keras!config.json"
    assert f.evidence["member"] == "config.json"
    assert f.evidence["layer"] == "lambda"
    assert f.evidence["format"] == "json"
    code = f.evidence["bytecode"]
    assert code["layout"] == "python 3.11+"
    assert code["names"] == ["__import__", "system"]
    assert {"os", "true"} <= set(code["strings"])
    assert code["dangerous"] == ["__import__", "os", "system"]
    assert "uses __import__, os, system" in f.message


@pytest.mark.parametrize(
    ("module", "name", "severity"),
    [("os", "system", Severity.HIGH), ("builtins", "exec", Severity.HIGH), ("subprocess", "Popen", Severity.HIGH)],
)
def test_keras3_function_from_dangerous_module(module: str, name: str, severity: Severity) -> None:
    layer = dense3("evil", 2, "dense")
    layer["config"]["activation"] = k3(module, "function", name, name)
    found = scan_json(keras3_config(layer))
    assert ids(found) == [keras_config.CUSTOM]
    assert found[0].severity is severity
    assert found[0].evidence["module"] == module
    assert found[0].evidence["name"] == name
    assert found[0].evidence["layer"] == "evil"


def test_keras3_registered_custom_layer_is_medium() -> None:
    custom = k3("__main__", "MyDense", {"name": "my_dense", "units": 3}, "MyPackage>MyDense", name="my_dense")
    found = scan_json(keras3_config(custom))
    assert ids(found) == [keras_config.CUSTOM]
    assert found[0].severity is Severity.MEDIUM
    assert found[0].evidence["module"] == "__main__"
    third_party = k3("", "Thing", {"name": "t"}, "acme_layers>Thing")
    found = scan_json(keras3_config(third_party))
    assert [(f.id, f.evidence["module"], f.evidence["source"]) for f in found] == [
        (keras_config.CUSTOM, "acme_layers", "registered_name")
    ]


def test_keras3_safe_mode_off() -> None:
    layer = dense3("d2", 2, "dense")
    layer["config"]["activation"] = k3("keras.config", "function", "enable_unsafe_deserialization")
    found = scan_json(keras3_config(layer, lambda3("1")))
    assert sorted(ids(found)) == [keras_config.LAMBDA, keras_config.SAFE_MODE_OFF]
    assert {f.severity for f in found} == {Severity.CRITICAL}


def test_keras3_get_file_and_vocabulary_path() -> None:
    layer = dense3("d2", 2, "dense")
    layer["config"]["activation"] = k3("keras.utils", "function", "get_file")
    lookup = k3("keras.layers", "StringLookup", {"name": "lookup", "vocabulary": "/etc/passwd"})
    found = scan_json(keras3_config(layer, lookup))
    assert ids(found) == [keras_config.UNSAFE_FUNCTION, keras_config.UNSAFE_FUNCTION]
    assert found[0].evidence["function"] == "keras.utils.get_file"
    assert found[1].evidence["file"] == "/etc/passwd"
    assert found[1].evidence["layer"] == "lookup"


def test_keras3_inline_vocabulary_is_clean() -> None:
    lookup = k3("keras.layers", "StringLookup", {"name": "lookup", "vocabulary": ["a", "b"]})
    assert scan_json(keras3_config(lookup)) == []


def test_hostile_json() -> None:
    assert ids(scan_bytes(keras_config, b"{not json")) == ["MODEL-UNSCANNABLE"]
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert ids(scan_bytes(keras_config, deep)) == ["MODEL-UNSCANNABLE"]
    nested: Any = keras3_config()
    for _ in range(300):
        nested = {"layers": [nested]}
    assert ids(scan_json(nested)) == ["MODEL-UNSCANNABLE"]
    big = json.dumps(keras3_config()).encode()
    ctx = FormatContext(limits=Limits(max_header_bytes=100))
    assert ids(scan_bytes(keras_config, big, ctx=ctx)) == ["MODEL-UNSCANNABLE"]


def test_marshal_reader_is_bounded() -> None:
    raw = marshal.dumps(compile("lambda x: x + 1", "<k>", "eval"))
    assert keras_config.describe_bytecode(raw)["layout"] == "python 3.11+"
    assert keras_config.describe_bytecode(raw[:-3])["layout"] is None
    assert keras_config.describe_bytecode(b"\xe3" + b"\xff" * 40)["layout"] is None
    assert keras_config.describe_bytecode(b"not code")["layout"] is None


# --- Keras 2 .h5 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def h5dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("h5")


def test_h5_benign_dense_is_clean(h5dir: Path) -> None:
    assert scan_file(hdf5, write_h5(h5dir / "dense.h5", keras2_config())) == []


def test_h5_weights_only_is_clean(h5dir: Path) -> None:
    assert scan_file(hdf5, write_h5(h5dir / "weights.h5", None, None)) == []


def test_h5_lambda(h5dir: Path) -> None:
    path = write_h5(h5dir / "lambda.h5", keras2_config(lambda2("1")))
    found = scan_file(hdf5, path)
    assert ids(found) == [keras_config.LAMBDA]
    f = found[0]
    assert f.severity is Severity.CRITICAL
    assert f.subject == str(path)
    assert f.evidence["format"] == "hdf5"
    assert f.evidence["attribute"] == "model_config"
    assert f.evidence["layer"] == "lambda"
    assert f.evidence["path"] == "model_config.config.layers[2]"
    assert f.evidence["bytecode"]["layout"] == "python 3.11+"
    assert "member" not in f.evidence


def test_h5_named_function_lambda(h5dir: Path) -> None:
    layer = lambda2()
    layer["config"].update(function="system", function_type="function", module="os")
    found = scan_file(hdf5, write_h5(h5dir / "named.h5", keras2_config(layer)))
    assert [(f.id, f.severity, f.evidence["module"], f.evidence["name"]) for f in found] == [
        (keras_config.CUSTOM, Severity.HIGH, "os", "system")
    ]


def test_h5_training_config_custom_loss(h5dir: Path) -> None:
    training = copy.deepcopy(TRAINING)
    training["loss"] = {"module": "subprocess", "class_name": "function", "config": "run", "registered_name": "run"}
    found = scan_file(hdf5, write_h5(h5dir / "loss.h5", keras2_config(), training))
    assert ids(found) == [keras_config.CUSTOM]
    assert found[0].evidence["attribute"] == "training_config"
    assert found[0].evidence["module"] == "subprocess"


def test_h5_in_memory_member(h5dir: Path) -> None:
    data = write_h5(h5dir / "m.h5", keras2_config(lambda2())).read_bytes()
    found = scan_bytes(hdf5, data, "bundle.zip!m.h5")
    assert ids(found) == [keras_config.LAMBDA]
    assert found[0].evidence["member"] == "m.h5"


def test_h5_hostile(h5dir: Path) -> None:
    assert ids(scan_bytes(hdf5, b"\x89HDF\r\n\x1a\n" + b"\xff" * 600)) == ["MODEL-UNSCANNABLE"]
    data = write_h5(h5dir / "big.h5", keras2_config()).read_bytes()
    assert ids(scan_bytes(hdf5, data[: len(data) // 2])) == ["MODEL-UNSCANNABLE"]
    ctx = FormatContext(limits=Limits(max_header_bytes=64))
    assert ids(scan_bytes(hdf5, data, ctx=ctx)) == ["MODEL-UNSCANNABLE", "MODEL-UNSCANNABLE"]
    bad = h5dir / "badjson.h5"
    with h5py.File(bad, "w") as f:
        f.attrs["model_config"] = "{'class_name': 'Sequential'"
    assert ids(scan_file(hdf5, bad)) == ["MODEL-UNSCANNABLE"]


def test_h5_bytes_io_and_str_attrs_agree(h5dir: Path) -> None:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["model_config"] = json.dumps(keras2_config(lambda2()))
    data = buf.getvalue()
    assert ids(scan_bytes(hdf5, data)) == [keras_config.LAMBDA]


def test_h5_library_hang_is_contained(h5dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by fuzzing: bytes inserted inside the global heap that holds the config make the HDF5
    C library loop forever while reading the attribute. The child process is killed at the limit."""
    data = write_h5(h5dir / "hang.h5", keras2_config(lambda2()), None).read_bytes()
    at = data.find(b'{"class_name"') + 600
    hostile = h5dir / "hostile.h5"
    hostile.write_bytes(data[:at] + b"x" * 8 + data[at:])
    monkeypatch.setattr(hdf5, "TIMEOUT", 3.0)
    found = scan_file(hdf5, hostile)
    assert ids(found) == ["MODEL-UNSCANNABLE"]
    assert "took longer than 3 s" in found[0].evidence["reason"]


def test_h5_one_child_serves_many_files_and_a_dead_one_is_replaced(h5dir: Path) -> None:
    """The HDF5 reader child is reused across files; killed, the next file gets a new one."""
    first = write_h5(h5dir / "one.h5", keras2_config(lambda2()))
    second = write_h5(h5dir / "two.h5", keras2_config())
    assert ids(scan_file(hdf5, first)) == [keras_config.LAMBDA]
    child = hdf5._reader._proc
    assert child is not None and child.poll() is None
    assert ids(scan_file(hdf5, second)) == []
    assert hdf5._reader._proc is child  # the same process answered
    child.kill()
    child.wait()
    assert ids(scan_file(hdf5, first)) == [keras_config.LAMBDA]
    assert hdf5._reader._proc is not child
