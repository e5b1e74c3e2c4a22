"""safetensors: real files from the safetensors library, then corrupted one way at a time."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save

from scanner.core import Severity
from scanner.models.api import FormatContext, Limits
from scanner.models.formats import safetensors as st

from .helpers import ids, scan_bytes


@pytest.fixture(scope="module")
def real() -> bytes:
    return save(
        {
            "embed.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
            "embed.bias": np.zeros(4, dtype=np.float16),
            "steps": np.array([7], dtype=np.int64),
        },
        metadata={"format": "pt"},
    )


def split(blob: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def build(header: dict, payload: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


def problems(findings) -> list[str]:
    assert {f.id for f in findings} <= {st.RULE}
    return [f.evidence["problem"] for f in findings]


def test_real_file_is_clean_and_facts(real: bytes) -> None:
    assert scan_bytes(st, real) == []
    facts = st.read_header_facts(io.BytesIO(real), len(real))
    assert facts["dtypes"] == ["F16", "F32", "I64"]
    assert facts["tensor_count"] == 3
    assert facts["parameter_count"] == 12 + 4 + 1
    assert facts["parameters_by_dtype"] == {"F16": 4, "F32": 12, "I64": 1}
    assert facts["metadata"] == {"format": "pt"}


def test_empty_model_is_clean() -> None:
    assert scan_bytes(st, build({}, b"")) == []


def test_declared_length_past_end(real: bytes) -> None:
    bad = struct.pack("<Q", len(real)) + real[8:]
    found = scan_bytes(st, bad, "dir/model.safetensors")
    assert problems(found) == ["header-length"]
    assert found[0].severity is Severity.HIGH
    assert found[0].subject == "dir/model.safetensors"
    assert found[0].evidence["format"] == "safetensors"


@pytest.mark.parametrize("length", [0, 2**63, 100_000_001])
def test_absurd_header_lengths(real: bytes, length: int) -> None:
    assert problems(scan_bytes(st, struct.pack("<Q", length) + real[8:])) == ["header-length"]


def test_overlapping_tensors(real: bytes) -> None:
    header, payload = split(real)
    begin, _end = header["embed.weight"]["data_offsets"]
    header["steps"]["data_offsets"] = [begin, begin + 8]
    found = scan_bytes(st, build(header, payload))
    assert "overlap" in problems(found)
    assert any(f.evidence.get("tensor") in ("steps", "embed.weight") for f in found)


def test_gap_between_tensors_hides_bytes(real: bytes) -> None:
    header, payload = split(real)
    spans = sorted((info["data_offsets"][0], name) for name, info in header.items() if name != "__metadata__")
    last = spans[-1][1]
    header[last]["data_offsets"] = [o + 16 for o in header[last]["data_offsets"]]
    start = header[last]["data_offsets"][0] - 16
    hidden = payload[:start] + b"cos\nsystem\n(S'true'\ntR."[:16] + payload[start:]
    assert problems(scan_bytes(st, build(header, hidden))) == ["gap"]


def test_offsets_out_of_range(real: bytes) -> None:
    header, payload = split(real)
    last = max((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][1])
    begin, end = header[last]["data_offsets"]
    header[last]["data_offsets"] = [begin, end + (end - begin)]
    header[last]["shape"] = [dim * 2 for dim in header[last]["shape"][:1]] + header[last]["shape"][1:]
    assert problems(scan_bytes(st, build(header, payload))) == ["offset-out-of-range"]


def test_unknown_dtype(real: bytes) -> None:
    header, payload = split(real)
    header["embed.bias"]["dtype"] = "F33"
    found = scan_bytes(st, build(header, payload))
    assert problems(found) == ["dtype"]
    assert found[0].evidence["tensor"] == "embed.bias"


def test_shape_does_not_match_span(real: bytes) -> None:
    header, payload = split(real)
    header["embed.weight"]["shape"] = [4, 4]
    assert problems(scan_bytes(st, build(header, payload))) == ["size-mismatch"]


def test_trailing_bytes_polyglot(real: bytes) -> None:
    assert problems(scan_bytes(st, real + b"PK\x03\x04 appended archive")) == ["trailing-bytes"]


def test_truncated_data(real: bytes) -> None:
    found = scan_bytes(st, real[:-4])
    assert problems(found) == ["offset-out-of-range"]
    assert found[0].evidence["tensor"] == "embed.bias"


def test_truncated_header(real: bytes) -> None:
    assert problems(scan_bytes(st, real[:40])) == ["header-length"]
    assert problems(scan_bytes(st, real[:5])) == ["truncated"]


def test_metadata_must_be_string_map(real: bytes) -> None:
    header, payload = split(real)
    header["__metadata__"] = {"format": "pt", "code": {"nested": 1}}
    assert problems(scan_bytes(st, build(header, payload))) == ["metadata"]


def test_duplicate_keys_are_rejected(real: bytes) -> None:
    header, payload = split(real)
    raw = json.dumps(header).encode()
    dup = raw[:-1] + b', "steps": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}'
    found = scan_bytes(st, struct.pack("<Q", len(dup)) + dup + payload)
    assert problems(found) == ["duplicate-key"]


def test_not_json_and_deep_nesting() -> None:
    assert problems(scan_bytes(st, build_raw(b'{"a": nope}'))) == ["header-json"]
    assert problems(scan_bytes(st, build_raw(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))) == ["header-json"]
    assert problems(scan_bytes(st, build_raw(b"[1, 2]"))) == ["header-json"]
    assert problems(scan_bytes(st, build_raw(b'{"a": "\xff"}'))) == ["header-json"]


def build_raw(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def test_header_over_configured_limit_is_unscannable(real: bytes) -> None:
    ctx = FormatContext(limits=Limits(max_header_bytes=32))
    found = scan_bytes(st, real, "a.zip!weights.safetensors", ctx)
    assert ids(found) == ["MODEL-UNSCANNABLE"]
    assert found[0].evidence["member"] == "weights.safetensors"


def test_member_evidence(real: bytes) -> None:
    found = scan_bytes(st, real + b"x", "bundle.tar!model/w.safetensors")
    assert found[0].evidence["member"] == "model/w.safetensors"


def test_many_problems_are_capped() -> None:
    header = {f"t{i}": {"dtype": "BAD", "shape": [1], "data_offsets": [0, 1]} for i in range(50)}
    found = scan_bytes(st, build(header, b"\0"))
    assert len(found) == st.MAX_FINDINGS + 1
    assert found[-1].evidence["problem"] == "more-problems"


def test_facts_raise_on_bad_header(real: bytes) -> None:
    with pytest.raises(ValueError):
        st.read_header_facts(io.BytesIO(real[:20]), 20)
