"""TensorFlow Lite models (FlatBuffers), read with a bounded reader of our own.

Why our own reader: the ``tflite`` / ``tensorflow`` packages are not runtime dependencies, and the
generated FlatBuffers accessors trust every offset in the file (a hostile offset reads anywhere or
loops). Here every offset is checked against the file size before it is followed, strings and
vectors are capped, and only the operator table is read: tensor buffers are never touched.

What can run code in a TFLite model is its operators. Builtin operators are the interpreter's own
kernels. A ``CUSTOM`` operator names a kernel by string: ``Flex<Op>`` runs the TensorFlow op
``<Op>`` through the Flex (select TF ops) delegate, so the TensorFlow rules apply
(``FlexPyFunc`` would run Python, ``FlexWriteFile`` writes files); any other name needs a native
kernel that the application registers (the model cannot bring its code).

- ``MODEL-TFLITE-FLEX-OP``: critical for ops that run Python, high for ops that touch files or
  the network (the TensorFlow lists of ``protobuf.py``), info for the others (named in evidence:
  the model needs the Flex delegate).
- ``MODEL-TFLITE-CUSTOM-OP``: info for the custom ops TFLite's standard resolver registers itself
  (``TFLite_Detection_PostProcess``, ``Mfcc``, ``AudioSpectrogram``), low for any other name.
- ``MODEL-UNSCANNABLE``: an offset outside the file, a vector or string over its cap, a wrong
  identifier or schema version.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from scanner.core import Finding, Severity
from scanner.models.api import FormatContext, finding, unscannable
from scanner.models.formats import protobuf

FORMAT = "tflite"
IDENTIFIER = b"TFL3"
FLEX_OP = "MODEL-TFLITE-FLEX-OP"
CUSTOM_OP = "MODEL-TFLITE-CUSTOM-OP"

CUSTOM = 32  # BuiltinOperator.CUSTOM
MAX_OPERATOR_CODES = 100_000
MAX_STRING = 1 << 12
WINDOW = 1 << 16
# Custom ops that tflite::ops::builtin::BuiltinOpResolver registers itself.
STANDARD_CUSTOM = frozenset({"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"})

# Table field indexes (schema.fbs): Model.operator_codes = 1; OperatorCode.deprecated_builtin_code = 0,
# .custom_code = 1, .builtin_code = 3.
MODEL_VERSION, MODEL_OPERATOR_CODES = 0, 1
OPCODE_DEPRECATED, OPCODE_CUSTOM, OPCODE_BUILTIN = 0, 1, 3


class Malformed(ValueError):
    pass


class Buffer:
    """Bounded little-endian reads from a stream, through a small cached window."""

    def __init__(self, data: BinaryIO, size: int) -> None:
        self.data = data
        self.size = size
        self._start = 0
        self._buf = b""

    def get(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0 or pos + n > self.size:
            raise Malformed(f"{n} bytes at offset {pos} lie outside the {self.size}-byte file")
        if not (self._start <= pos and pos + n <= self._start + len(self._buf)):
            self.data.seek(pos)
            self._buf = self.data.read(max(n, WINDOW))
            self._start = pos
        offset = pos - self._start
        out = self._buf[offset : offset + n]
        if len(out) != n:
            raise Malformed(f"file ends inside a field at offset {pos}")
        return out

    def u8(self, pos: int) -> int:
        return self.get(pos, 1)[0]

    def i8(self, pos: int) -> int:
        return struct.unpack("<b", self.get(pos, 1))[0]

    def u16(self, pos: int) -> int:
        return struct.unpack("<H", self.get(pos, 2))[0]

    def u32(self, pos: int) -> int:
        return struct.unpack("<I", self.get(pos, 4))[0]

    def i32(self, pos: int) -> int:
        return struct.unpack("<i", self.get(pos, 4))[0]


@dataclass(frozen=True)
class Table:
    """A FlatBuffers table: its position and the position and size of its vtable."""

    buf: Buffer
    pos: int
    vtable: int
    vsize: int

    @classmethod
    def at(cls, buf: Buffer, pos: int) -> Table:
        vtable = pos - buf.i32(pos)
        vsize = buf.u16(vtable)
        if vsize < 4 or vsize % 2:
            raise Malformed(f"bad vtable size {vsize} at offset {vtable}")
        return cls(buf, pos, vtable, vsize)

    def field(self, index: int) -> int | None:
        """Absolute position of field ``index``, or None when absent."""
        slot = 4 + 2 * index
        if slot + 2 > self.vsize:
            return None
        off = self.buf.u16(self.vtable + slot)
        return self.pos + off if off else None

    def ref(self, index: int) -> int | None:
        """Follow an offset field (table, vector or string) to its target."""
        at = self.field(index)
        return None if at is None else at + self.buf.u32(at)

    def string(self, index: int) -> str | None:
        at = self.ref(index)
        if at is None:
            return None
        n = self.buf.u32(at)
        if n > MAX_STRING:
            raise Malformed(f"string of {n} bytes at offset {at} exceeds {MAX_STRING}")
        return self.buf.get(at + 4, n).decode("utf-8", "replace")

    def tables(self, index: int, cap: int) -> list[Table]:
        at = self.ref(index)
        if at is None:
            return []
        n = self.buf.u32(at)
        if n > cap:
            raise Malformed(f"vector of {n} entries at offset {at} exceeds {cap}")
        self.buf.get(at + 4, 4 * n)  # the whole vector lies inside the file
        out = []
        for i in range(n):
            elem = at + 4 + 4 * i
            out.append(Table.at(self.buf, elem + self.buf.u32(elem)))
        return out


def operator_codes(data: BinaryIO, size: int) -> list[tuple[int, str | None]]:
    """(builtin code, custom code) of every operator code the model declares."""
    buf = Buffer(data, size)
    if buf.get(4, 4) != IDENTIFIER:
        raise Malformed("no TFL3 file identifier")
    model = Table.at(buf, buf.u32(0))
    version_at = model.field(MODEL_VERSION)
    version = buf.u32(version_at) if version_at is not None else 0
    if version != 3:
        raise Malformed(f"schema version {version} (TFLite writes 3)")
    out = []
    for code in model.tables(MODEL_OPERATOR_CODES, MAX_OPERATOR_CODES):
        dep_at = code.field(OPCODE_DEPRECATED)
        builtin_at = code.field(OPCODE_BUILTIN)
        deprecated = buf.i8(dep_at) if dep_at is not None else 0
        builtin = buf.i32(builtin_at) if builtin_at is not None else 0
        # schema 3a: the real code is the larger of the two fields
        out.append((max(deprecated, builtin), code.string(OPCODE_CUSTOM)))
    return out


def _flex_severity(op: str) -> Severity:
    if op in protobuf.PYTHON_OPS:
        return Severity.CRITICAL
    if op in protobuf.FILE_OPS or op in protobuf.NETWORK_OPS or op in protobuf.ATTR_OPS:
        return Severity.HIGH
    return Severity.INFO


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, str] = {"format": FORMAT}
    if "!" in subject:
        extra["member"] = subject.split("!", 1)[1]
    try:
        codes = operator_codes(data, size)
    except Malformed as exc:
        return [unscannable(subject, f"malformed TFLite flatbuffer: {exc}", **extra)]
    flex: dict[Severity, set[str]] = {}
    custom: dict[Severity, set[str]] = {}
    for builtin, name in codes:
        if builtin != CUSTOM:
            continue
        name = name or ""
        if name.startswith("Flex"):
            flex.setdefault(_flex_severity(name[4:]), set()).add(name[4:])
        else:
            custom.setdefault(Severity.INFO if name in STANDARD_CUSTOM else Severity.LOW, set()).add(name)
    findings = []
    for severity, ops in sorted(flex.items(), key=lambda kv: kv[0], reverse=True):
        names = sorted(ops)
        if severity >= Severity.HIGH:
            message = f"Flex op(s) {', '.join(names)} run TensorFlow kernels that run Python or touch files/network"
            fix = "re-convert the model without these TensorFlow ops, or serve it only in a sandbox"
        else:
            message = f"needs the TensorFlow Flex delegate for {', '.join(names)} (ordinary TensorFlow math ops)"
            fix = None
        findings.append(finding(FLEX_OP, severity, subject, message, fix=fix, ops=names, **extra))
    for severity, ops in sorted(custom.items(), key=lambda kv: kv[0], reverse=True):
        names = sorted(ops)
        if severity == Severity.INFO:
            message = f"custom op(s) {', '.join(names)} from TFLite's standard op resolver"
            fix = None
        else:
            message = (
                f"custom op(s) {', '.join(names)} need a native kernel the application registers "
                "(the model cannot bring that code; check where the kernel comes from)"
            )
            fix = "make sure the kernel library registered for these ops is trusted"
        findings.append(finding(CUSTOM_OP, severity, subject, message, fix=fix, ops=names, **extra))
    return findings
