"""Format by content, not by name: magic bytes and structure of the first bytes of a file."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import BinaryIO

HEAD_BYTES = 4096

# Names returned by sniff(); format scanners are keyed by these.
PICKLE = "pickle"
ZIP = "zip"
TAR = "tar"
GZIP = "gzip"
BZIP2 = "bzip2"
XZ = "xz"
SEVENZIP = "7z"
LZMA = "lzma"  # the legacy .lzma ("alone") stream joblib writes with compress="lzma"
ZLIB = "zlib"
HDF5 = "hdf5"
SAFETENSORS = "safetensors"
GGUF = "gguf"
NUMPY = "numpy"
PROTOBUF = "protobuf"
TFLITE = "tflite"
JSON = "json"
TEXT = "text"
UNKNOWN = "unknown"
EMPTY = "empty"


def sniff_file(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return sniff(head, path.stat().st_size, path.name)


def sniff_stream(data: BinaryIO, size: int, name: str = "") -> str:
    data.seek(0)
    head = data.read(HEAD_BYTES)
    data.seek(0)
    return sniff(head, size, name)


def sniff(head: bytes, size: int, name: str = "") -> str:
    """Best guess of the container or serialization format from the first bytes.

    ``name`` only breaks ties between formats that have no magic (protobuf); it never overrides
    a magic number: a pickle named ``model.safetensors`` is a pickle.
    """
    if not head:
        return EMPTY
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BZh"):
        return BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVENZIP
    if len(head) >= 13 and head[0] == 0x5D and head[1:5] in _LZMA_DICT_SIZES:
        return LZMA
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return HDF5
    if head.startswith(b"GGUF"):
        return GGUF
    if head.startswith(b"\x93NUMPY"):
        return NUMPY
    if len(head) > 262 and head[257:262] == b"ustar":
        return TAR
    if _is_pickle(head, complete=len(head) >= size):
        return PICKLE
    if head[:1] == b"x" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0 and head[1] in b"\x01\x5e\x9c\xda":
        return ZLIB
    if _is_safetensors(head, size):
        return SAFETENSORS
    if _is_tflite(head, size):
        return TFLITE
    if _looks_like_json(head):
        return JSON
    if name.endswith((".pb", ".onnx", ".pbtxt")) or _looks_like_protobuf(head):
        return PROTOBUF
    if _is_text(head):
        return TEXT
    return UNKNOWN


# .lzma "alone" header: properties byte 0x5d (lc=3, lp=0, pb=2) then a power-of-two dictionary size.
_LZMA_DICT_SIZES = frozenset((1 << n).to_bytes(4, "little") for n in range(12, 31))

# Opcodes a protocol 0/1 pickle can meaningfully start with (memo reads cannot come first).
_FIRST_OPCODES = frozenset(b"()]}cNIJKLMSVXFGUTi")
# pickletools' messages when the bytes run out (the head ends inside an argument or before STOP),
# as opposed to bytes that are not a pickle at all (unknown opcode, bad number, ...).
_ENOUGH_OPCODES = 48
_ENOUGH_FRAMED = 8  # after PROTO: random bytes decode as ~8 valid opcodes about once in 10**5
_TRUNCATED = ("not enough data", "but only", "remain", "no newline found", "exhausted")


def _is_pickle(head: bytes, complete: bool = True) -> bool:
    """Whether ``head`` starts a pickle. ``complete`` says the head is the whole file.

    pickletools decodes the opcodes (it never runs anything). Protocol 2+ starts with PROTO;
    protocols 0/1 have no header, so text is told apart by decoding: ordinary text hits an
    unknown opcode or a bad argument within a few bytes. A stream that imports something
    (GLOBAL/INST) and then breaks or stops short is still a pickle: a loader runs what comes
    before the break.
    """
    if not head:
        return False
    framed = len(head) >= 2 and head[0] == 0x80 and 0 <= head[1] <= 5
    if not framed and head[0] not in _FIRST_OPCODES:
        return False
    import io
    import pickletools

    count = 0
    imports = False
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(head)):
            if not framed and opcode.name in ("GLOBAL", "INST") and not _importable(arg):
                # Text has no PROTO header to say it is a pickle: an import of a name that is not
                # a Python identifier is where an unpickler would stop, not evidence of a pickle
                # (``channels:`` opens every conda.yaml). A framed stream stays a pickle.
                raise ValueError("import of a name that is not a Python identifier")
            count += 1
            imports = imports or opcode.name in ("GLOBAL", "INST", "STACK_GLOBAL")
            if opcode.name == "STOP":
                return count >= 2
            if count >= (_ENOUGH_FRAMED if framed else _ENOUGH_OPCODES):  # no text or random data gets this far
                return True
    except ValueError as exc:
        if any(t in str(exc) for t in _TRUNCATED):
            return framed or imports or (not complete and count >= 2)
        return (framed or imports) and count >= 3
    return False


def _importable(arg: object) -> bool:
    """A GLOBAL/INST argument (``"module name"``) names something an unpickler could import:
    a dotted identifier and an identifier (or a dotted attribute path)."""
    if not isinstance(arg, str):
        return False
    module, _, name = arg.partition(" ")
    return all(part.isidentifier() for part in (*module.split("."), *name.split(".")))


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if n == 0 or 8 + n > size or head[8:9] != b"{":
        return False
    if 8 + n <= len(head):
        try:
            return isinstance(json.loads(head[8 : 8 + n]), dict)
        except ValueError:
            return False
    return True


_JSON_VALUE_START = frozenset(b'"{[]}-0123456789tfn')


def _looks_like_json(head: bytes) -> bool:
    """An object or array whose first member can start a JSON value: ``[PAD]`` (a BERT
    vocabulary) is text, ``[1, 2]`` and ``{"a": 1}`` are JSON."""
    stripped = head.lstrip()
    if stripped[:1] not in (b"{", b"[") or not _is_text(head):
        return False
    inner = stripped[1:].lstrip()
    if not inner:
        return True
    if stripped[:1] == b"{":
        return inner[:1] in (b'"', b"}")
    return inner[0] in _JSON_VALUE_START


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multi-byte character cut at the boundary
    return True


def _is_tflite(head: bytes, size: int) -> bool:
    """A FlatBuffer with TFLite's file identifier ``TFL3`` at bytes 4-8 after a root offset inside
    the file. Checked after pickle (a pickle-TFLite polyglot is judged as the pickle) and before
    protobuf, which has no magic: a TFLite file is not a protobuf whatever its name."""
    if len(head) < 8 or head[4:8] != b"TFL3":
        return False
    root = struct.unpack("<I", head[:4])[0]
    return 8 <= root < size and root % 4 == 0


def _looks_like_protobuf(head: bytes) -> bool:
    # ONNX ModelProto starts with field 1 (ir_version, varint): 0x08; a TF SavedModel with
    # field 1 (saved_model_schema_version, varint) 0x08 too, or meta_graphs (field 2) 0x12.
    return head[:1] in (b"\x08", b"\x12") and not _is_text(head)
