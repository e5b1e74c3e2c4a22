"""GGUF: files from the gguf package's writer and from a small writer of our own (for hostile headers)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from scanner.core import Severity
from scanner.models.api import FormatContext, Limits
from scanner.models.formats import gguf

from .helpers import ids, scan_bytes, scan_file

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
# Qwen-style: namespace() state, tool calls, loop controls, raise_exception, generation blocks.
TOOLS = """{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- if tools %}{{- '<|im_start|>system\\n# Tools\\n<tools>' }}{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}
{%- endfor %}{{- '\\n</tools><|im_end|>\\n' }}{%- endif %}
{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}
{%- if ns.multi_step_tool and message.role == "user" %}{%- set ns.multi_step_tool = false %}
{%- set ns.last_query_index = index %}{%- break %}{%- endif %}{%- endfor %}
{%- for message in messages %}
{%- if message.role not in ['system', 'user', 'assistant', 'tool'] %}{{ raise_exception('bad role') }}{%- endif %}
{%- if message.role == "assistant" %}{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message.content }}
{%- for tool_call in message.tool_calls or [] %}{%- if tool_call.function is defined %}
{%- set tool_call = tool_call.function %}{%- endif %}{{- '<tool_call>\\n{"name": "' + tool_call.name + '"}' }}
{%- if loop.last %}{% continue %}{% endif %}{%- endfor %}{% endgeneration %}{{- '<|im_end|>\\n' }}
{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}
{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"""

BENIGN = {"chatml": CHATML, "llama3": LLAMA3, "tools": TOOLS}

MALICIOUS = {
    "cycler": "{{ cycler.__init__.__globals__.os.popen('true').read() }}",
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "joiner": "{{ joiner.__init__.__globals__['os'].system('true') }}",
    "lipsum": "{% for m in messages %}{{ m.content }}{% endfor %}{{ lipsum.__globals__['os'].popen('true') }}",
    "namespace": "{% set ns = namespace(a=1) %}{{ namespace.__init__.__globals__ }}",
    "attr-filter": "{{ ()|attr('__class__') }}",
    "attr-folded": "{{ ()|attr('__cla' ~ 'ss__')|attr('__base__') }}",
    "attr-computed": "{% set x = '_' * 2 + 'class' + '_' * 2 %}{{ ()|attr(x) }}",
    "item": "{{ messages['__globals__'] }}",
    "self-context": "{{ self._TemplateReference__context.cycler }}",
    "request": "{{ request.application.__globals__.__builtins__ }}",
    "builtins-name": "{{ __builtins__ }}",
}


def _string(s: str | bytes, wide: str = "Q", endian: str = "<") -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack(endian + wide, len(raw)) + raw


def write_gguf(
    kvs: list[tuple[str, int, bytes]],
    tensors: list[tuple[str, list[int], int, bytes]] = (),  # type: ignore[assignment]
    version: int = 3,
    endian: str = "<",
    alignment: int = 32,
) -> bytes:
    """A GGUF v1-v3 file: metadata (key, value type, encoded value) and tensors (name, dims, type, data)."""
    wide = "I" if version == 1 else "Q"
    out = bytearray(b"GGUF" + struct.pack(endian + "I", version))
    out += struct.pack(endian + wide, len(tensors)) + struct.pack(endian + wide, len(kvs))
    for key, vtype, value in kvs:
        out += _string(key, wide, endian) + struct.pack(endian + "I", vtype) + value
    offset = 0
    for name, dims, ttype, data in tensors:
        out += _string(name, wide, endian) + struct.pack(endian + "I", len(dims))
        out += b"".join(struct.pack(endian + wide, d) for d in dims)
        out += struct.pack(endian + "I", ttype) + struct.pack(endian + "Q", offset)
        offset += -(-len(data) // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    for _name, _dims, _ttype, data in tensors:
        out += data + b"\0" * (-len(data) % alignment)
    return bytes(out)


def kv_str(key: str, value: str) -> tuple[str, int, bytes]:
    return key, 8, _string(value)


def kv_u32(key: str, value: int) -> tuple[str, int, bytes]:
    return key, 4, struct.pack("<I", value)


def tokens(n: int) -> tuple[str, int, bytes]:
    items = b"".join(_string(f"tok{i}") for i in range(n))
    return "tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, n) + items


def model(template: str | None = CHATML, key: str = "tokenizer.chat_template") -> bytes:
    kvs = [kv_str("general.architecture", "llama"), kv_str("general.name", "tiny"), kv_u32("general.file_type", 1)]
    kvs.append(tokens(16))
    kvs.append(("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 16) + b"\0" * 64))
    if template is not None:
        kvs.append(kv_str(key, template))
    tensors = [
        ("token_embd.weight", [8, 16], 1, b"\x01" * (8 * 16 * 2)),
        ("output_norm.weight", [8], 0, b"\x02" * 32),
    ]
    return write_gguf(kvs, tensors)


def problems(found) -> list[str]:
    assert all(f.id == gguf.MALFORMED for f in found), [f.id for f in found]
    return [f.evidence["problem"] for f in found]


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_templates_are_clean(name: str) -> None:
    assert gguf.judge_template(BENIGN[name]) == ([], None)
    assert scan_bytes(gguf, model(BENIGN[name])) == []


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_malicious_templates(name: str) -> None:
    found = scan_bytes(gguf, model(MALICIOUS[name]), "models/tiny.gguf")
    assert ids(found) == [gguf.INJECTION]
    assert found[0].severity is Severity.CRITICAL
    assert found[0].subject == "models/tiny.gguf"
    assert found[0].evidence["key"] == "tokenizer.chat_template"
    assert found[0].evidence["format"] == "gguf"
    assert found[0].evidence["reasons"]


def test_named_template_variant_is_judged() -> None:
    found = scan_bytes(gguf, model(MALICIOUS["cycler"], key="tokenizer.chat_template.tool_use"))
    assert ids(found) == [gguf.INJECTION]
    assert found[0].evidence["key"] == "tokenizer.chat_template.tool_use"


def test_reasons_name_the_construct() -> None:
    reasons, error = gguf.judge_template(MALICIOUS["attr-folded"])
    assert error is None
    assert "attr filter reaching '__class__'" in reasons
    reasons, _ = gguf.judge_template(MALICIOUS["attr-computed"])
    assert "attr filter with a computed attribute name" in reasons


def test_unparsable_template() -> None:
    found = scan_bytes(gguf, model("{% for m in messages %}{{ m.content }"))
    assert ids(found) == [gguf.UNPARSABLE]
    assert found[0].severity is Severity.HIGH
    assert "line 1" in found[0].evidence["error"]


def test_deeply_nested_template_is_not_a_crash() -> None:
    found = scan_bytes(gguf, model("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"))
    assert ids(found) == [gguf.UNPARSABLE]


def test_no_template_is_clean() -> None:
    assert scan_bytes(gguf, model(None)) == []


def test_real_writer(tmp_path: Path) -> None:
    import gguf as gguf_pkg

    path = tmp_path / "m.gguf"
    writer = gguf_pkg.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_file_type(15)
    writer.add_context_length(128)
    writer.add_token_list([f"t{i}".encode() for i in range(32)])
    writer.add_token_scores([0.0] * 32)
    writer.add_chat_template(LLAMA3)
    writer.add_tensor("token_embd.weight", np.ones((32, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(8, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert scan_file(gguf, path) == []
    with path.open("rb") as fh:
        facts = gguf.read_header_facts(fh, path.stat().st_size)
    assert facts["architecture"] == "llama"
    assert facts["name"] == "tiny-llama"
    assert facts["quantization"] == "Q4_K_M"
    assert facts["tensor_count"] == 2
    assert facts["parameter_count"] == 32 * 8 + 8
    assert facts["tensor_types"] == {"F16": 1, "F32": 1}
    assert facts["chat_template"] is True

    evil = tmp_path / "evil.gguf"
    writer = gguf_pkg.GGUFWriter(str(evil), "llama")
    writer.add_chat_template(MALICIOUS["joiner"])
    writer.add_tensor("w", np.ones(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert ids(scan_file(gguf, evil)) == [gguf.INJECTION]


def test_version_1_and_big_endian() -> None:
    v1 = write_gguf([("tokenizer.chat_template", 8, _string(MALICIOUS["mro"], "I"))], version=1)
    assert ids(scan_bytes(gguf, v1)) == [gguf.INJECTION]
    be = write_gguf([("tokenizer.chat_template", 8, _string(CHATML, "Q", ">"))], endian=">")
    assert scan_bytes(gguf, be) == []


# --- hostile headers ---------------------------------------------------------------------------


def test_truncated_everywhere() -> None:
    blob = model()
    for cut in (6, 12, 30, 100, 200, len(blob) - 300):
        found = scan_bytes(gguf, blob[:cut])
        assert found and set(ids(found)) == {gguf.MALFORMED}, cut
    assert problems(scan_bytes(gguf, blob[:-10])) == ["tensor-range"]


def test_bad_version() -> None:
    assert problems(scan_bytes(gguf, b"GGUF" + struct.pack("<I", 99) + b"\0" * 32)) == ["version"]


def test_huge_counts() -> None:
    head = b"GGUF" + struct.pack("<I", 3)
    assert problems(scan_bytes(gguf, head + struct.pack("<QQ", 2**63, 0) + b"\0" * 64)) == ["count"]
    assert problems(scan_bytes(gguf, head + struct.pack("<QQ", 0, 2**62) + b"\0" * 64)) == ["count"]


def test_huge_string_length_is_not_allocated() -> None:
    blob = write_gguf([("general.name", 8, struct.pack("<Q", 2**60) + b"x" * 16)])
    assert problems(scan_bytes(gguf, blob)) == ["length"]
    key_blob = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"k" * 40
    assert problems(scan_bytes(gguf, key_blob)) == ["length"]


def test_huge_array_count() -> None:
    blob = write_gguf([("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2**58) + _string("a"))])
    assert problems(scan_bytes(gguf, blob)) == ["length"]
    fixed = write_gguf([("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2**58) + b"\0" * 8)])
    assert problems(scan_bytes(gguf, fixed)) == ["length"]


def test_nested_arrays_are_bounded() -> None:
    value = b""
    for _ in range(10):
        value = struct.pack("<IQ", 9, 1) + value
    blob = write_gguf([("deep", 9, value + struct.pack("<IQ", 4, 0))])
    assert problems(scan_bytes(gguf, blob)) == ["nesting"]


def test_unknown_value_type() -> None:
    assert problems(scan_bytes(gguf, write_gguf([("x", 77, b"\0" * 8)]))) == ["value-type"]


def test_tensor_sanity() -> None:
    too_many_dims = write_gguf([], [("t", [1, 1, 1, 1, 1], 0, b"\0" * 4)])
    assert problems(scan_bytes(gguf, too_many_dims)) == ["tensor-dims"]
    q4 = write_gguf([], [("q", [33], 2, b"\0" * 64)])  # Q4_0 blocks are 32 elements
    assert problems(scan_bytes(gguf, q4)) == ["tensor-shape"]
    huge = write_gguf([], [("big", [2**20, 2**20], 0, b"\0" * 32)])
    assert problems(scan_bytes(gguf, huge)) == ["tensor-range"]


def test_template_over_limit_is_unscannable() -> None:
    ctx = FormatContext(limits=Limits(max_header_bytes=64))
    found = scan_bytes(gguf, model(CHATML), "pack.zip!m.gguf", ctx)
    assert ids(found) == ["MODEL-UNSCANNABLE"]
    assert found[0].evidence["member"] == "m.gguf"


def test_facts_raise_on_garbage() -> None:
    with pytest.raises(ValueError):
        gguf.read_header_facts(io.BytesIO(b"GGUF\x03\0\0\0"), 8)


def test_string_in_array_past_end() -> None:
    value = struct.pack("<IQ", 8, 2) + _string("ok") + struct.pack("<Q", 2**60) + b"x" * 64
    assert problems(scan_bytes(gguf, write_gguf([("tokenizer.ggml.tokens", 9, value)]))) == ["length"]


def test_large_vocabulary_is_walked() -> None:
    n = 50_000
    blob = write_gguf([tokens(n), ("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, n) + b"\0" * 4 * n)])
    assert scan_bytes(gguf, blob) == []
    assert problems(scan_bytes(gguf, blob[: len(blob) - 4 * n - 5])) == ["length"]


def test_duplicate_template_keys_are_both_judged() -> None:
    blob = write_gguf([kv_str("tokenizer.chat_template", CHATML), kv_str("tokenizer.chat_template", MALICIOUS["mro"])])
    found = scan_bytes(gguf, blob)
    assert [(f.id, f.evidence.get("problem")) for f in found] == [
        (gguf.MALFORMED, "duplicate-key"),
        (gguf.INJECTION, None),
    ]
