"""Every model format through the real dispatcher and CLI: found by content, whatever its name,
with exact findings, and the benign twins clean."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from tests.formats.test_gguf import CHATML, MALICIOUS
from tests.formats.test_gguf import model as gguf_model
from tests.formats.test_keras import keras2_config, keras3_config, lambda2, lambda3, write_h5
from tests.formats.test_protobuf import external, onnx_model


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def _keras_zip(config: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"")
    return buf.getvalue()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("zoo")
    # malicious, each under a name that suggests something else
    (d / "weights.safetensors").write_bytes(pickle.dumps(_Payload(), protocol=4))
    (d / "chat.bin").write_bytes(gguf_model(MALICIOUS["cycler"]))
    (d / "model.keras").write_bytes(_keras_zip(keras3_config(lambda3("__import__('os').system('true')"))))
    write_h5(d / "legacy.h5", keras2_config(lambda2("1")))
    (d / "model.onnx").write_bytes(onnx_model([external("w", "../../etc/passwd")]))
    (d / "tokenizer_config.json").write_text(json.dumps({"chat_template": MALICIOUS["mro"], "eos_token": "</s>"}))
    (d / "truncated.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    # benign twins
    good = d / "good"
    good.mkdir()
    (good / "chat.gguf").write_bytes(gguf_model(CHATML))
    (good / "model.keras").write_bytes(_keras_zip(keras3_config()))
    write_h5(good / "dense.h5", keras2_config())
    (good / "model.onnx").write_bytes(onnx_model())
    (good / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHATML}))
    (good / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
    (good / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    return d


def test_every_format_found_by_content(cli, zoo: Path) -> None:
    r = cli("scan", zoo, "--format", "json")
    assert r.code == 1, r.err
    found = {(f["id"], f["subject"].replace(str(zoo) + "/", "")) for f in json.loads(r.out)["findings"]}
    by_file: dict[str, set[str]] = {}
    for rule, subject in found:
        by_file.setdefault(subject.split("!")[0], set()).add(rule)
    assert "MODEL-PICKLE-GLOBAL" in " ".join(by_file["weights.safetensors"])
    assert by_file["chat.bin"] == {"MODEL-GGUF-TEMPLATE-INJECTION"}
    assert by_file["model.keras"] == {"MODEL-KERAS-LAMBDA"}
    assert by_file["legacy.h5"] == {"MODEL-KERAS-LAMBDA"}
    assert by_file["model.onnx"] == {"MODEL-ONNX-EXTERNAL-DATA-ESCAPE"}
    assert by_file["tokenizer_config.json"] == {"MODEL-CHAT-TEMPLATE-INJECTION"}
    assert by_file["truncated.safetensors"] == {"MODEL-SAFETENSORS-MALFORMED"}
    assert not any(subject.startswith("good/") for _, subject in found), sorted(found)


def test_benign_twins_pass_the_gate(cli, zoo: Path) -> None:
    r = cli("scan", zoo / "good", "--format", "json")
    assert r.code == 0, r.out
    assert json.loads(r.out)["findings"] == []


def test_unsafe_model_is_denied_at_every_stage(cli, zoo: Path) -> None:
    for stage in ("dev", "staging", "prod"):
        r = cli("gate", zoo, "--stage", stage, "--format", "json")
        assert r.code == 1
        rules = {d["rule"] for d in json.loads(r.out)["decision"]["deny"]}
        assert "model-unsafe" in rules, (stage, rules)


def test_unrecognised_content_under_a_loader_name_fails_closed(cli, tmp_path: Path) -> None:
    blob = bytes(range(7, 250)) * 40  # no magic, not a pickle, not text
    (tmp_path / "checkpoint.pt").write_bytes(blob)
    (tmp_path / "weights.bin").write_bytes(blob)  # what torch.load reads (no .onnx/.xml beside it)
    (tmp_path / "empty.pkl").write_bytes(b"")
    r = cli("scan", tmp_path, "--format", "json")
    found = [(f["id"], Path(f["subject"]).name) for f in json.loads(r.out)["findings"]]
    assert found == [
        ("MODEL-UNSCANNABLE", "checkpoint.pt"),
        ("MODEL-UNSCANNABLE", "empty.pkl"),
        ("MODEL-UNSCANNABLE", "weights.bin"),
    ]
    assert r.code == 1
