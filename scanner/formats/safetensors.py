"""safetensors header reader, bounded: shared by the model check
(``scanner.models.formats.safetensors`` reports what it finds) and the inventory (header facts for
the ML-BOM). It validates the header the way the reference loader would, without loading a tensor.

Layout: an 8-byte little-endian header length ``N``, ``N`` bytes of JSON (an object mapping tensor
names to ``{"dtype", "shape", "data_offsets"}`` plus an optional ``__metadata__`` string map), then
the data section. Own reader (not the ``safetensors`` package): it reports every problem with a
stable code instead of stopping at the first, and never reads tensor data.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from scanner import jsonfile

FORMAT = "safetensors"
SPEC_MAX_HEADER = 100_000_000  # the reference implementation refuses larger headers

# dtype name -> bits per element (sub-byte types pack; a tensor must still fill whole bytes).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "I64": 64,
    "U64": 64,
    "F64": 64,
}


class Malformed(ValueError):
    """A structural problem; ``problem`` is a stable code, ``tensor`` the entry concerned."""

    def __init__(self, problem: str, message: str, tensor: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.tensor = tensor


class TooLarge(ValueError):
    """The header is valid per the spec but larger than the configured limit."""


def read_header(data: BinaryIO, size: int, max_header: int = SPEC_MAX_HEADER) -> tuple[dict[str, Any], int]:
    """Return (header object, header length). Raises ``Malformed`` or ``TooLarge``."""
    data.seek(0)
    prefix = data.read(8)
    if len(prefix) < 8:
        raise Malformed("truncated", f"file is {size} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", prefix)
    if n == 0:
        raise Malformed("header-length", "header length is 0")
    if n > SPEC_MAX_HEADER:
        raise Malformed("header-length", f"header length {n} exceeds the format's limit of {SPEC_MAX_HEADER}")
    if 8 + n > size:
        raise Malformed("header-length", f"header length {n} runs past the end of the {size}-byte file")
    if n > max_header:
        raise TooLarge(f"header of {n} bytes exceeds the limit of {max_header}")
    raw = data.read(n)
    if len(raw) < n:
        raise Malformed("truncated", f"file ends inside the {n}-byte header")
    if raw[:1] != b"{":
        raise Malformed("header-json", "header does not start with '{'")
    try:
        text = raw.decode("utf-8")
        header = jsonfile.loads(text)
    except jsonfile.DuplicateKey as exc:
        # Two parsers may pick different duplicates: a classic polyglot trick.
        raise Malformed("duplicate-key", f"header JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise Malformed("header-json", f"header is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise Malformed("header-json", "header JSON is nested too deeply") from None
    except ValueError as exc:
        raise Malformed("header-json", f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise Malformed("header-json", "header is not a JSON object")
    return header, n


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_header(header: dict[str, Any], data_size: int) -> list[Malformed]:
    """Every problem in a parsed header, given the size of the data section."""
    problems: list[Malformed] = []
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                problems.append(Malformed("metadata", "__metadata__ must map strings to strings", name))
            continue
        if not isinstance(info, dict):
            problems.append(Malformed("tensor-entry", f"entry {name!r} is not an object", name))
            continue
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_BITS:
            problems.append(Malformed("dtype", f"tensor {name!r} has unknown dtype {dtype!r}", name))
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            problems.append(Malformed("shape", f"tensor {name!r} has an invalid shape {shape!r}", name))
            shape = None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)
            or offsets[0] > offsets[1]
        ):
            problems.append(Malformed("data-offsets", f"tensor {name!r} has invalid data_offsets {offsets!r}", name))
            continue
        begin, end = offsets
        if end > data_size:
            problems.append(
                Malformed(
                    "offset-out-of-range",
                    f"tensor {name!r} ends at {end}, past the {data_size}-byte data section",
                    name,
                )
            )
        if shape is not None and dtype in DTYPE_BITS:
            count = 1
            for dim in shape:
                count *= dim
            bits = count * DTYPE_BITS[dtype]
            if bits % 8 or bits // 8 != end - begin:
                problems.append(
                    Malformed(
                        "size-mismatch",
                        f"tensor {name!r}: shape {shape} of {dtype} needs {bits / 8:g} bytes, "
                        f"data_offsets span {end - begin}",
                        name,
                    )
                )
        spans.append((begin, end, name))

    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin > position:
            problems.append(
                Malformed("gap", f"{begin - position} bytes before tensor {name!r} belong to no tensor", name)
            )
        elif begin < position:
            problems.append(Malformed("overlap", f"tensor {name!r} overlaps the previous tensor", name))
        position = max(position, end)
    if position < data_size and not any(p.problem == "offset-out-of-range" for p in problems):
        problems.append(
            Malformed("trailing-bytes", f"{data_size - position} bytes after the last tensor belong to no tensor")
        )
    return problems


def read_header_facts(data: BinaryIO, size: int) -> dict[str, Any]:
    """Header facts for an ML-BOM: ``dtypes`` (sorted names), ``tensor_count``, ``parameter_count``,
    ``parameters_by_dtype``, ``metadata`` (the ``__metadata__`` map) and ``header_bytes``.

    Raises ``ValueError`` (``Malformed`` / ``TooLarge``) when the header cannot be read; facts are
    best effort for entries that are themselves malformed (they are skipped).
    """
    header, n = read_header(data, size)
    by_dtype: dict[str, int] = {}
    tensors = 0
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        tensors += 1
        dtype, shape = info.get("dtype"), info.get("shape")
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            continue
        count = 1
        for dim in shape:
            count *= dim
        by_dtype[dtype] = by_dtype.get(dtype, 0) + count
    metadata = header.get("__metadata__")
    return {
        "format": FORMAT,
        "dtypes": sorted(by_dtype),
        "tensor_count": tensors,
        "parameter_count": sum(by_dtype.values()),
        "parameters_by_dtype": dict(sorted(by_dtype.items())),
        "metadata": {k: v for k, v in metadata.items() if isinstance(v, str)} if isinstance(metadata, dict) else {},
        "header_bytes": n,
    }
