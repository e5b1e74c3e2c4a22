"""Protobuf models: ONNX built with the onnx package (test-only), SavedModels encoded here by hand."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from scanner.core import Severity
from scanner.models.api import FormatContext
from scanner.models.formats import protobuf

from .helpers import ids, scan_bytes, scan_file

# --- ONNX ------------------------------------------------------------------------------------------


def external(name: str, location: str) -> TensorProto:
    tensor = numpy_helper.from_array(np.zeros((2, 2), dtype=np.float32), name)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def onnx_model(
    initializers: list[TensorProto] = (),  # type: ignore[assignment]
    nodes: list[onnx.NodeProto] | None = None,
    functions: list[onnx.FunctionProto] = (),  # type: ignore[assignment]
    opsets: list[onnx.OperatorSetIdProto] | None = None,
) -> bytes:
    weight = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), "w_inline")
    nodes = nodes or [helper.make_node("MatMul", ["x", "w_inline"], ["y"], name="matmul")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        initializer=[weight, *initializers],
    )
    model = helper.make_model(
        graph, opset_imports=opsets or [helper.make_opsetid("", 17)], functions=list(functions), producer_name="test"
    )
    return model.SerializeToString()


def write(directory: Path, blob: bytes, name: str = "model.onnx") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(blob)
    return path


def test_plain_onnx_is_clean() -> None:
    assert scan_bytes(protobuf, onnx_model(), "model.onnx") == []


def test_external_data_beside_model_is_clean(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.bin").write_bytes(b"\0" * 16)
    blob = onnx_model([external("w1", "weights.bin"), external("w2", "weights.bin"), external("w3", "sub/more.bin")])
    assert scan_file(protobuf, write(tmp_path, blob)) == []


def test_missing_external_file(tmp_path: Path) -> None:
    found = scan_file(protobuf, write(tmp_path, onnx_model([external("w1", "gone.bin")])))
    assert ids(found) == [protobuf.ONNX_MISSING]
    assert found[0].severity is Severity.MEDIUM
    assert found[0].evidence["location"] == "gone.bin"
    assert found[0].evidence["kind"] == "onnx"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("/etc/passwd", "absolute path"),
        ("../../secrets/key.bin", "contains '..'"),
        ("sub/../../x.bin", "contains '..'"),
        ("C:\\Windows\\win.ini", "absolute path"),
    ],
)
def test_escaping_locations(tmp_path: Path, location: str, reason: str) -> None:
    path = write(tmp_path / "m", onnx_model([external("w1", location), external("w2", location)]))
    found = scan_file(protobuf, path)
    assert ids(found) == [protobuf.ONNX_ESCAPE]
    f = found[0]
    assert f.severity is Severity.HIGH
    assert f.subject == str(path)
    assert (f.evidence["location"], f.evidence["reason"], f.evidence["tensor"], f.evidence["tensors"]) == (
        location,
        reason,
        "w1",
        2,
    )
    assert f.evidence["format"] == "protobuf"


def test_symlink_out_of_model_dir(tmp_path: Path) -> None:
    secret = tmp_path / "outside.bin"
    secret.write_bytes(b"\0" * 16)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").symlink_to(secret)
    found = scan_file(protobuf, write(model_dir, onnx_model([external("w1", "weights.bin")])))
    assert ids(found) == [protobuf.ONNX_ESCAPE]
    assert "resolves outside the model directory" in found[0].evidence["reason"]
    assert str(secret) in found[0].evidence["reason"]


def test_symlink_inside_model_dir_is_clean(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"\0" * 16)
    (tmp_path / "weights.bin").symlink_to(tmp_path / "real.bin")
    assert scan_file(protobuf, write(tmp_path, onnx_model([external("w1", "weights.bin")]))) == []


def test_escape_in_nested_subgraph(tmp_path: Path) -> None:
    inner = helper.make_graph(
        [helper.make_node("Identity", ["hidden"], ["z"])],
        "then",
        [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 2])],
        initializer=[external("hidden", "../../../etc/shadow")],
    )
    node = helper.make_node("If", ["cond"], ["y"], then_branch=inner, else_branch=inner)
    found = scan_file(protobuf, write(tmp_path, onnx_model(nodes=[node])))
    assert ids(found) == [protobuf.ONNX_ESCAPE]
    assert found[0].evidence["tensor"] == "hidden"


def test_archive_member_gets_lexical_checks_only() -> None:
    blob = onnx_model([external("w1", "weights.bin"), external("w2", "/abs/path.bin")])
    found = scan_bytes(protobuf, blob, "bundle.zip!model.onnx")
    assert ids(found) == [protobuf.ONNX_ESCAPE]
    assert found[0].evidence["member"] == "model.onnx"
    assert found[0].evidence["location"] == "/abs/path.bin"


def test_custom_domains() -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w_inline"], ["a"]),
        helper.make_node("FusedGemm", ["a", "w_inline"], ["b"], domain="com.microsoft"),
        helper.make_node("Launch", ["b"], ["y"], domain="evil.ops"),
    ]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("evil.ops", 1)]
    found = scan_bytes(protobuf, onnx_model(nodes=nodes, opsets=opsets))
    assert [(f.id, f.severity, f.evidence["domain"], f.evidence["ops"]) for f in found] == [
        (protobuf.ONNX_CUSTOM_OP, Severity.LOW, "com.microsoft", ["FusedGemm"]),
        (protobuf.ONNX_CUSTOM_OP, Severity.MEDIUM, "evil.ops", ["Launch"]),
    ]


def test_model_local_function_domain_is_not_custom() -> None:
    body = [helper.make_node("Relu", ["a"], ["b"])]
    fn = helper.make_function("local.fns", "MyRelu", ["a"], ["b"], body, [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("MyRelu", ["x"], ["y"], domain="local.fns")]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local.fns", 1)]
    assert scan_bytes(protobuf, onnx_model(nodes=nodes, functions=[fn], opsets=opsets)) == []


def nested_model(levels: int) -> bytes:
    """ModelProto with If nodes nested ``levels`` deep (encoded by hand: the protobuf runtime itself
    refuses messages nested past 100 levels)."""
    graph = field(1, field(4, "Relu") + field(1, "x") + field(2, "y"))
    for _ in range(levels):
        branch = field(1, "then_branch") + field(20, 5) + field(6, graph)  # AttributeProto name, type GRAPH, g
        graph = field(1, field(4, "If") + field(1, "c") + field(2, "y") + field(5, branch))
    return field(1, 9) + field(8, field(2, 17)) + field(7, graph)


def test_onnx_nesting() -> None:
    assert scan_bytes(protobuf, nested_model(protobuf.MAX_DEPTH - 1)) == []
    found = scan_bytes(protobuf, nested_model(protobuf.MAX_DEPTH + 5))
    assert ids(found) == ["MODEL-UNSCANNABLE"]
    assert "deeper" in found[0].evidence["reason"]


def test_truncated_and_garbage() -> None:
    blob = onnx_model([external("w1", "/etc/passwd")])
    for cut in (len(blob) - 3, len(blob) // 2):
        found = scan_bytes(protobuf, blob[:cut])
        assert ids(found) == ["MODEL-UNSCANNABLE"], cut
    assert ids(scan_bytes(protobuf, b"\x08\x07\x3a\xff\xff\xff\xff\x0f")) == ["MODEL-UNSCANNABLE"]
    assert ids(scan_bytes(protobuf, b"\x08" + b"\xff" * 20)) == ["MODEL-UNSCANNABLE"]
    assert ids(scan_bytes(protobuf, b"\x0b\x0c")) == ["MODEL-UNSCANNABLE"]  # groups


# --- TensorFlow, encoded by hand from tensorflow/core/protobuf/*.proto ------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def attr(key: str, value: bytes) -> bytes:
    return field(5, field(1, key) + field(2, value))  # NodeDef.attr map entry -> AttrValue


def node_def(name: str, op: str, *inputs: str, attrs: bytes = b"") -> bytes:
    return field(1, name) + field(2, op) + b"".join(field(3, i) for i in inputs) + attrs


def function_def(name: str, *nodes: bytes) -> bytes:
    signature = field(1, name) + field(2, field(1, "x") + field(3, 1))  # OpDef name, input_arg
    return field(1, signature) + b"".join(field(3, n) for n in nodes) + field(4, field(1, "out") + field(2, "y"))


SAVE_FN = function_def(
    "__inference__traced_save_4521",
    node_def("StaticRegexFullMatch", "StaticRegexFullMatch", "file_prefix"),
    node_def("StringJoin", "StringJoin", "file_prefix"),
    node_def("ShardedFilename", "ShardedFilename", "StringJoin"),
    node_def("SaveV2", "SaveV2", "ShardedFilename"),
    node_def("MergeV2Checkpoints", "MergeV2Checkpoints", "SaveV2"),
    node_def("Identity", "Identity", "MergeV2Checkpoints"),
)
RESTORE_FN = function_def(
    "__inference__traced_restore_4561",
    node_def("RestoreV2", "RestoreV2", "file_prefix"),
    node_def("AssignVariableOp", "AssignVariableOp", "RestoreV2"),
)


def serving_fn(*extra: bytes) -> bytes:
    return function_def(
        "__inference_serving_default_1234",
        node_def("MatMul", "MatMul", "x", "w", attrs=attr("T", field(6, 1))),
        node_def("BiasAdd", "BiasAdd", "MatMul", "b"),
        *extra,
    )


def saved_model(graph_nodes: list[bytes], functions: list[bytes]) -> bytes:
    library = b"".join(field(1, f) for f in functions)
    graph = b"".join(field(1, n) for n in graph_nodes) + field(2, library) + field(4, field(1, 1808))
    meta_info = field(1, field(4, "serve") + field(6, "2.15.0"))
    meta = meta_info + field(2, graph) + field(3, field(1, "saver_filename:0"))
    return field(1, 1) + field(2, meta)


BASE_NODES = [
    node_def("saver_filename", "Placeholder", attrs=attr("dtype", field(6, 7))),
    node_def("StatefulPartitionedCall", "StatefulPartitionedCall", "saver_filename"),
    node_def("VarHandleOp", "VarHandleOp"),
]


def test_savedmodel_with_only_checkpoint_ops_is_clean() -> None:
    blob = saved_model(BASE_NODES, [serving_fn(), SAVE_FN, RESTORE_FN])
    assert scan_bytes(protobuf, blob, "m/saved_model.pb") == []


def test_savedmodel_pyfunc_in_serving_function() -> None:
    pyfunc = node_def("PyFunc", "PyFunc", "x", attrs=attr("token", field(2, "pyfunc_0")))
    blob = saved_model(BASE_NODES, [serving_fn(pyfunc), SAVE_FN, RESTORE_FN])
    found = scan_bytes(protobuf, blob, "m/saved_model.pb")
    assert ids(found) == [protobuf.TF_UNSAFE_OP]
    f = found[0]
    assert f.severity is Severity.CRITICAL
    assert (f.evidence["op"], f.evidence["node"], f.evidence["function"]) == (
        "PyFunc",
        "PyFunc",
        "__inference_serving_default_1234",
    )
    assert f.evidence["kind"] == "savedmodel"
    assert f.evidence["saver"] is False


def test_savedmodel_file_ops_in_graph() -> None:
    nodes = [
        *BASE_NODES,
        node_def("read", "ReadFile", "path"),
        node_def("write", "WriteFile", "path", "read"),
        node_def("glob", "MatchingFiles", "pattern"),
        node_def("py", "EagerPyFunc", "read"),
    ]
    found = scan_bytes(protobuf, saved_model(nodes, [SAVE_FN]))
    assert [(f.evidence["op"], f.severity, f.evidence["function"]) for f in found] == [
        ("EagerPyFunc", Severity.CRITICAL, None),
        ("MatchingFiles", Severity.HIGH, None),
        ("ReadFile", Severity.HIGH, None),
        ("WriteFile", Severity.HIGH, None),
    ]


def test_print_to_file_but_not_to_stderr() -> None:
    to_file = node_def("p", "PrintV2", "x", attrs=attr("output_stream", field(2, "file:///tmp/leak.txt")))
    to_err = node_def("q", "PrintV2", "x", attrs=attr("output_stream", field(2, "stderr")))
    assert scan_bytes(protobuf, saved_model(BASE_NODES, [serving_fn(to_err)])) == []
    found = scan_bytes(protobuf, saved_model(BASE_NODES, [serving_fn(to_file)]))
    assert [(f.evidence["op"], f.severity) for f in found] == [("PrintV2", Severity.HIGH)]
    assert "file:///tmp/leak.txt" in found[0].message


def test_file_op_hidden_in_saver_function_is_still_reported_low() -> None:
    evil_save = function_def("__inference__traced_save_99", node_def("w", "WriteFile", "p", "c"))
    found = scan_bytes(protobuf, saved_model(BASE_NODES, [serving_fn(), evil_save]))
    assert [(f.evidence["op"], f.severity, f.evidence["saver"]) for f in found] == [("WriteFile", Severity.LOW, True)]
    py_save = function_def("__inference__traced_save_98", node_def("p", "PyFunc", "x"))
    found = scan_bytes(protobuf, saved_model(BASE_NODES, [py_save]))
    assert [(f.evidence["op"], f.severity) for f in found] == [("PyFunc", Severity.CRITICAL)]


def test_tf1_saver_scope_and_frozen_graphdef() -> None:
    tf1 = [
        node_def("save/Const", "Const"),
        node_def("save/SaveV2", "SaveV2", "save/Const"),
        node_def("save/RestoreV2", "RestoreV2", "save/Const"),
        node_def("save/ShardedFilename", "ShardedFilename", "save/Const"),
        node_def("dense/MatMul", "MatMul", "x", "w"),
    ]
    frozen = b"".join(field(1, n) for n in tf1) + field(4, field(1, 27))
    assert scan_bytes(protobuf, frozen, "frozen_graph.pb") == []
    evil = frozen + field(1, node_def("py", "PyFuncStateless", "x"))
    found = scan_bytes(protobuf, evil, "frozen_graph.pb")
    assert [(f.evidence["op"], f.evidence["kind"]) for f in found] == [("PyFuncStateless", "graphdef")]


def test_tf_truncated_and_unknown() -> None:
    blob = saved_model(BASE_NODES, [serving_fn(node_def("p", "PyFunc", "x"))])
    assert ids(scan_bytes(protobuf, blob[:-7])) == ["MODEL-UNSCANNABLE"]
    assert ids(scan_bytes(protobuf, field(5, 3) + field(9, "x"))) == ["MODEL-UNSCANNABLE"]
    huge = field(1, 1) + varint(2 << 3 | 2) + varint(2**62) + b"\0" * 8
    assert ids(scan_bytes(protobuf, huge)) == ["MODEL-UNSCANNABLE"]
    long_string = field(1, 1) + field(2, field(2, field(1, field(2, "A" * (protobuf.MAX_STRING + 1)))))
    assert ids(scan_bytes(protobuf, long_string)) == ["MODEL-UNSCANNABLE"]


def test_fixed_width_and_unknown_fields_are_skipped() -> None:
    odd = node_def("c", "Const") + varint(9 << 3 | 1) + struct.pack("<d", 1.0) + varint(10 << 3 | 5) + b"\0" * 4
    assert scan_bytes(protobuf, saved_model([*BASE_NODES, odd], [serving_fn()])) == []
    odd_py = node_def("p", "PyFunc") + varint(9 << 3 | 1) + struct.pack("<d", 1.0)
    assert ids(scan_bytes(protobuf, saved_model([odd_py], []))) == [protobuf.TF_UNSAFE_OP]


def test_path_relative_to_root(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 16)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "w.bin").symlink_to(secret)
    blob = onnx_model([external("w1", "w.bin")])
    path = write(model_dir, blob)
    ctx = FormatContext(root=tmp_path, path=Path("m/model.onnx"))
    with path.open("rb") as fh:
        found = protobuf.scan(fh, len(blob), "m/model.onnx", ctx)
    assert ids(found) == [protobuf.ONNX_ESCAPE]


# --- other SavedModel files --------------------------------------------------------------------------


def saved_object(node_id: int, path: str, identifier: str, metadata: dict) -> bytes:
    import json

    body = (field(2, node_id) if node_id else b"") + field(3, path) + field(4, identifier)
    return body + field(5, json.dumps(metadata)) + field(6, field(1, 1) + field(2, 1))


def keras_metadata(*layers: dict) -> bytes:
    model = {"name": "sequential", "class_name": "Sequential", "config": {"name": "sequential", "layers": []}}
    nodes = [saved_object(0, "root", "_tf_keras_sequential", model)]
    nodes += [saved_object(i + 1, f"root.layer-{i}", "_tf_keras_layer", layer) for i, layer in enumerate(layers)]
    return b"".join(field(1, n) for n in nodes)


DENSE_META = {
    "name": "dense",
    "trainable": True,
    "class_name": "Dense",
    "config": {"name": "dense", "units": 8, "activation": "relu"},
    "shared_object_id": 1,
}


def test_keras_metadata_pb() -> None:
    from .test_keras import lambda2

    assert scan_bytes(protobuf, keras_metadata(DENSE_META), "m/keras_metadata.pb") == []
    lam = {"name": "lambda", "trainable": True, "shared_object_id": 2, **lambda2("1")}
    found = scan_bytes(protobuf, keras_metadata(DENSE_META, lam), "m/keras_metadata.pb")
    assert ids(found) == ["MODEL-KERAS-LAMBDA"]
    assert (found[0].evidence["node_path"], found[0].evidence["kind"], found[0].evidence["layer"]) == (
        "root.layer-1",
        "keras_metadata",
        "lambda",
    )


def test_fingerprint_pb_only_by_name() -> None:
    blob = field(1, 123456789) + field(2, 42) + field(3, 7) + field(4, 9) + field(5, 11) + field(6, field(1, 1))
    assert scan_bytes(protobuf, blob, "m/fingerprint.pb") == []
    assert ids(scan_bytes(protobuf, blob, "m/other.pb")) == ["MODEL-UNSCANNABLE"]


PBTXT = """saved_model_schema_version: 1
meta_graphs {
  graph_def {
    node {
      name: "saver_filename"
      op: "Placeholder"
    }
    library {
      function {
        signature {
          name: "__inference_serving_default_12"
          input_arg { name: "x" type: DT_FLOAT }
        }
        node_def {
          name: "MatMul"
          op: "MatMul"
        }
        %s
      }
      function {
        signature { name: "__inference__traced_save_45" }
        node_def { name: "SaveV2" op: "SaveV2" }
        node_def { name: "MergeV2Checkpoints" op: "MergeV2Checkpoints" }
      }
    }
  }
}
"""


def test_text_format_savedmodel() -> None:
    assert scan_bytes(protobuf, (PBTXT % "").encode(), "m/saved_model.pbtxt") == []
    evil = 'node_def { name: "py" op: "PyFunc" attr { key: "token" value { s: "pyfunc_0" } } }'
    found = scan_bytes(protobuf, (PBTXT % evil).encode(), "m/saved_model.pbtxt")
    assert [(f.evidence["op"], f.evidence["node"], f.evidence["function"], f.evidence["kind"]) for f in found] == [
        ("PyFunc", "py", "__inference_serving_default_12", "pbtxt")
    ]
    printer = 'node_def { name: "p" op: "PrintV2" attr { key: "output_stream" value { s: "file:///tmp/x" } } }'
    found = scan_bytes(protobuf, (PBTXT % printer).encode(), "m/saved_model.pbtxt")
    assert [(f.evidence["op"], f.severity) for f in found] == [("PrintV2", Severity.HIGH)]
