"""GGUF (llama.cpp) header reader, bounded: shared by the model check (``scanner.models.formats.gguf``
judges what it returns) and the inventory (header facts for the ML-BOM).

The header is read as a stream: every declared count and length is checked against the bytes
left in the file before anything is read or allocated, so a file declaring 2**63 tensors or a
string of 2**60 bytes is reported, never trusted. Only the string values worth judging
(``tokenizer.chat_template`` and ``tokenizer.chat_template.*``) and a few facts are kept. Own
reader (no ``gguf`` package): hostile input must never drive an allocation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

FORMAT = "gguf"
MAX_KEY = 65535  # the spec bounds keys to 65535 bytes
MAX_TEMPLATE = 1 << 20  # longer chat templates are not judged (reported unscannable)
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32

# GGUF metadata value types -> fixed size in bytes (None: variable).
_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_INT_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 10: "Q", 11: "q"}

# ggml tensor type -> (name, elements per block, bytes per block).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# general.file_type (llama_ftype) -> quantization name.
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}


class Malformed(ValueError):
    def __init__(self, problem: str, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.offset = offset


class _Reader:
    """Bounded sequential reads through a small window: nothing is read or skipped past ``size``,
    and skipping a large value costs one seek (the window is refilled only when needed)."""

    WINDOW = 1 << 16
    BULK = 1 << 20  # window for walking token lists

    def __init__(self, data: BinaryIO, size: int, endian: str) -> None:
        self.data = data
        self.size = size
        self.pos = 0
        self.endian = endian
        self._buf = b""
        self._start = 0
        self._structs: dict[str, struct.Struct] = {}

    def left(self) -> int:
        return self.size - self.pos

    def read(self, n: int, what: str) -> bytes:
        if n > self.left():
            raise Malformed("truncated", f"{what} of {n} bytes at offset {self.pos} runs past the end of the file")
        offset = self.pos - self._start
        if offset < 0 or offset + n > len(self._buf):
            self.data.seek(self.pos)
            self._buf = self.data.read(max(n, self.WINDOW))
            self._start, offset = self.pos, 0
        raw = self._buf[offset : offset + n]
        if len(raw) != n:
            raise Malformed("truncated", f"file ends inside {what} at offset {self.pos}")
        self.pos += n
        return raw

    def skip_strings(self, count: int, wide: str, what: str) -> None:
        """Skip ``count`` length-prefixed strings (token lists hold hundreds of thousands).

        The walk runs over a large window with local variables only: a length is read, the
        position jumps past the string, and the window is refilled when the next length is not
        wholly inside it. The end of the file is checked whenever the walk leaves the window."""
        unpack = struct.Struct(self.endian + wide).unpack_from
        width = struct.calcsize(self.endian + wide)
        left = count
        while left:
            offset = self.pos - self._start
            buf = self._buf
            if offset < 0 or offset + width > len(buf):
                if self.pos + width > self.size:
                    raise Malformed("truncated", f"{what} ends at offset {self.pos} with {left} strings to go")
                self.data.seek(self.pos)
                self._buf = buf = self.data.read(max(self.BULK, width))
                self._start, offset = self.pos, 0
                if len(buf) < width:
                    raise Malformed("truncated", f"file ends inside {what} at offset {self.pos}")
            limit = len(buf) - width
            start = offset
            while left and offset <= limit:
                offset += width + unpack(buf, offset)[0]
                left -= 1
            self.pos += offset - start
            if self.pos > self.size:
                raise Malformed("length", f"a string in {what} runs past the end of the file (offset {self.pos})")

    def skip(self, n: int, what: str) -> None:
        if n > self.left():
            raise Malformed("length", f"{what} of {n} bytes at offset {self.pos} runs past the end of the file")
        self.pos += n

    def unpack(self, fmt: str, what: str) -> Any:
        packer = self._structs.get(fmt)
        if packer is None:
            packer = self._structs[fmt] = struct.Struct(self.endian + fmt)
        return packer.unpack(self.read(packer.size, what))[0]


@dataclass
class Header:
    version: int = 0
    tensor_count: int = 0
    kv_count: int = 0
    templates: list[tuple[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    tensor_types: dict[str, int] = field(default_factory=dict)
    parameter_count: int = 0
    problems: list[Malformed] = field(default_factory=list)


_MODEL_FACTS = ("organization", "model_version", "license", "quantization_version")
_FACT_KEYS = {
    "general.architecture": "architecture",
    "general.name": "name",
    "general.file_type": "file_type",
    "general.organization": "organization",
    "general.version": "model_version",
    "general.license": "license",
    "general.quantization_version": "quantization_version",
    "general.alignment": "alignment",
}


def parse(data: BinaryIO, size: int, max_string: int) -> Header:
    """Walk the header, metadata and tensor infos; raises ``Malformed`` at the first fatal error
    (the stream cannot be followed past it) and records non-fatal ones in ``Header.problems``."""
    data.seek(0)
    head = data.read(8)
    if len(head) < 8 or head[:4] != b"GGUF":
        raise Malformed("truncated" if head[:4] == b"GGUF" else "magic", "no complete GGUF header", 0)
    endian = "<"
    version = struct.unpack("<I", head[4:8])[0]
    if version not in (1, 2, 3) and struct.unpack(">I", head[4:8])[0] in (1, 2, 3):
        endian, version = ">", struct.unpack(">I", head[4:8])[0]
    if version not in (1, 2, 3):
        raise Malformed("version", f"unsupported GGUF version {version}", 4)
    r = _Reader(data, size, endian)
    r.skip(8, "magic and version")
    wide = "I" if version == 1 else "Q"
    hdr = Header(version=version)
    hdr.tensor_count = r.unpack(wide, "tensor count")
    hdr.kv_count = r.unpack(wide, "metadata count")
    # Smallest possible entries: key length + value type + a 1-byte value; tensor info: name
    # length, dims count, type, offset. The two kinds share the file, so their sum must fit.
    width = 4 if version == 1 else 8
    if hdr.kv_count * (width + 4 + 1) > r.left():
        raise Malformed("count", f"metadata count {hdr.kv_count} cannot fit in the {size}-byte file", 16)
    if hdr.tensor_count * (width + 4 + 4 + 8) + hdr.kv_count * (width + 4 + 1) > r.left():
        raise Malformed("count", f"tensor count {hdr.tensor_count} cannot fit in the {size}-byte file", 8)

    def string(what: str, keep: bool, limit: int) -> str | None:
        n = r.unpack(wide, f"{what} length")
        if n > r.left():
            raise Malformed("length", f"{what} length {n} at offset {r.pos} exceeds the bytes left in the file")
        if not keep:
            r.skip(n, what)
            return None
        if n > limit:
            raise Malformed("length", f"{what} of {n} bytes exceeds the limit of {limit}")
        return r.read(n, what).decode("utf-8", errors="replace")

    def value(vtype: int, key: str, depth: int, keep: bool) -> Any:
        if vtype in _SCALARS:
            raw = r.read(_SCALARS[vtype], f"value of {key!r}")
            if not keep:
                return None
            if vtype in _INT_FORMATS:
                return struct.unpack(endian + _INT_FORMATS[vtype], raw)[0]
            return raw
        if vtype == _STRING:
            return string(f"value of {key!r}", keep, max_string)
        if vtype == _ARRAY:
            if depth >= MAX_ARRAY_DEPTH:
                raise Malformed("nesting", f"arrays in {key!r} nest deeper than {MAX_ARRAY_DEPTH}")
            itype = r.unpack("I", f"array type of {key!r}")
            count = r.unpack(wide, f"array length of {key!r}")
            if itype in _SCALARS:
                r.skip(count * _SCALARS[itype], f"array {key!r}")
                return None
            if itype not in (_STRING, _ARRAY):
                raise Malformed("value-type", f"array {key!r} has unknown element type {itype}", r.pos)
            minimum = width if itype == _STRING else 4 + width
            if count * minimum > r.left():
                raise Malformed("length", f"array {key!r} declares {count} items, more than the file can hold")
            if itype == _STRING:
                r.skip_strings(count, wide, f"array {key!r}")
            else:
                for _ in range(count):
                    value(itype, key, depth + 1, False)
            return None
        raise Malformed("value-type", f"metadata {key!r} has unknown value type {vtype}", r.pos)

    keys: set[str] = set()
    for _ in range(hdr.kv_count):
        key = string("metadata key", True, MAX_KEY) or ""
        if key in keys:
            # llama.cpp refuses duplicate keys; other readers keep the first or the last one.
            hdr.problems.append(Malformed("duplicate-key", f"metadata key {key!r} appears more than once"))
        keys.add(key)
        vtype = r.unpack("I", f"value type of {key!r}")
        is_template = key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
        wanted = is_template or key in _FACT_KEYS
        if is_template and vtype == _STRING:
            n = r.unpack(wide, f"length of {key!r}")
            if n > r.left():
                raise Malformed("length", f"{key!r} length {n} exceeds the bytes left in the file")
            if n > max_string:
                raise Malformed("template-size", f"{key!r} is {n} bytes, over the limit of {max_string}")
            hdr.templates.append((key, r.read(n, key).decode("utf-8", errors="replace")))
            continue
        got = value(vtype, key, 0, wanted)
        if key in _FACT_KEYS and got is not None:
            hdr.facts[_FACT_KEYS[key]] = got

    alignment = hdr.facts.get("alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        hdr.problems.append(Malformed("alignment", f"general.alignment {alignment!r} is not a power of two"))
        alignment = DEFAULT_ALIGNMENT
    tensors: list[tuple[str, int, int, int | None]] = []  # name, offset, bytes (None: unknown type)
    for index in range(hdr.tensor_count):
        name = string("tensor name", True, MAX_KEY) or f"#{index}"
        dims_n = r.unpack("I", f"dimension count of {name!r}")
        if dims_n > MAX_DIMS:
            raise Malformed("tensor-dims", f"tensor {name!r} declares {dims_n} dimensions (max {MAX_DIMS})")
        elements = 1
        for _ in range(dims_n):
            elements *= r.unpack(wide, f"dimension of {name!r}")
        ttype = r.unpack("I", f"type of {name!r}")
        offset = r.unpack("Q", f"offset of {name!r}")
        info = GGML_TYPES.get(ttype)
        type_name = info[0] if info else f"type-{ttype}"
        hdr.tensor_types[type_name] = hdr.tensor_types.get(type_name, 0) + 1
        hdr.parameter_count += elements
        nbytes: int | None = None
        if info is not None:
            block, block_bytes = info[1], info[2]
            if elements % block:
                hdr.problems.append(
                    Malformed("tensor-shape", f"tensor {name!r}: {elements} elements is not a multiple of {block}")
                )
            nbytes = elements // block * block_bytes
        if offset % alignment:
            hdr.problems.append(Malformed("tensor-offset", f"tensor {name!r} offset {offset} is not aligned"))
        tensors.append((name, offset, nbytes or 0, nbytes))

    data_start = -(-r.pos // alignment) * alignment
    data_size = size - data_start
    for name, offset, nbytes, _known in tensors:
        if offset + nbytes > data_size:
            hdr.problems.append(
                Malformed(
                    "tensor-range",
                    f"tensor {name!r} ({offset}+{nbytes} bytes) runs past the {max(data_size, 0)}-byte data section",
                )
            )
    return hdr


def read_header_facts(data: BinaryIO, size: int) -> dict[str, Any]:
    """Facts for an ML-BOM: ``version``, ``architecture``, ``name``, ``file_type`` (int),
    ``quantization`` (its name), ``tensor_count``, ``parameter_count``, ``tensor_types``,
    ``chat_template`` (present or not). Raises ``ValueError`` when the header cannot be read."""
    hdr = parse(data, size, MAX_TEMPLATE)
    file_type = hdr.facts.get("file_type")
    name = hdr.facts.get("name")
    arch = hdr.facts.get("architecture")
    return {
        "format": FORMAT,
        "version": hdr.version,
        "architecture": arch if isinstance(arch, str) else None,
        "name": name if isinstance(name, str) else None,
        "file_type": file_type if isinstance(file_type, int) else None,
        "quantization": FILE_TYPES.get(file_type) if isinstance(file_type, int) else None,
        "tensor_count": hdr.tensor_count,
        "parameter_count": hdr.parameter_count,
        "tensor_types": dict(sorted(hdr.tensor_types.items())),
        "chat_template": bool(hdr.templates),
        **{
            k: hdr.facts[k]
            for k in ("organization", "model_version", "license", "quantization_version")
            if k in hdr.facts
        },
    }
