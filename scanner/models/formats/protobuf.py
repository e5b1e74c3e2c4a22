"""Protobuf models, read with a bounded wire-format reader of our own (no onnx/tensorflow at runtime).

- ONNX ``ModelProto``: external-data locations that leave the model directory (absolute, ``..``,
  a symlink pointing out) → ``MODEL-ONNX-EXTERNAL-DATA-ESCAPE``; locations that do not exist →
  ``MODEL-ONNX-EXTERNAL-DATA-MISSING``; operators from custom domains → ``MODEL-ONNX-CUSTOM-OP``.
- TensorFlow ``SavedModel`` / frozen ``GraphDef``: ops in the graph and the function library that
  run Python or touch files and the network → ``MODEL-TF-UNSAFE-OP``. The checkpoint ops every
  SavedModel has (``SaveV2``, ``RestoreV2``…) are never reported.

Only the fields that matter are descended into; everything else (tensor payloads included) is
skipped by seeking, so a multi-GB file costs a walk over its tags. Nesting depth and the size of
each kept string are capped; a malformed stream is ``MODEL-UNSCANNABLE``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.models.api import FormatContext, finding, unscannable

FORMAT = "protobuf"
ONNX_ESCAPE = "MODEL-ONNX-EXTERNAL-DATA-ESCAPE"
ONNX_MISSING = "MODEL-ONNX-EXTERNAL-DATA-MISSING"
ONNX_CUSTOM_OP = "MODEL-ONNX-CUSTOM-OP"
TF_UNSAFE_OP = "MODEL-TF-UNSAFE-OP"

MAX_DEPTH = 32  # nested graphs (If / Loop / Scan bodies)
MAX_STRING = 1 << 16
WINDOW = 1 << 16

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class Malformed(ValueError):
    pass


class Wire:
    """Protobuf fields of a byte range of a stream, read through a small cached window."""

    def __init__(self, data: BinaryIO, size: int) -> None:
        self.data = data
        self.size = size
        self._start = 0
        self._buf = b""

    def _get(self, pos: int, n: int) -> bytes:
        if not (self._start <= pos and pos + n <= self._start + len(self._buf)):
            self.data.seek(pos)
            self._buf = self.data.read(max(n, WINDOW))
            self._start = pos
        offset = pos - self._start
        return self._buf[offset : offset + n]

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        chunk = self._get(pos, min(10, end - pos))
        value = 0
        for i, byte in enumerate(chunk):
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value, pos + i + 1
        raise Malformed(f"bad varint at offset {pos}")

    def bytes(self, pos: int, n: int, limit: int = MAX_STRING) -> bytes:
        if n > limit:
            raise Malformed(f"string of {n} bytes at offset {pos} exceeds {limit}")
        raw = self._get(pos, n)
        if len(raw) != n:
            raise Malformed(f"file ends inside a field at offset {pos}")
        return raw

    def text(self, span: tuple[int, int]) -> str:
        return self.bytes(span[0], span[1] - span[0]).decode("utf-8", "replace")

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
        """(field number, wire type, value): an int for varints, a (start, end) span for LEN,
        None for fixed-width fields (skipped)."""
        if end > self.size:
            raise Malformed(f"message ends at {end}, past the end of the {self.size}-byte file")
        pos = start
        while pos < end:
            tag, pos = self.varint(pos, end)
            number, wtype = tag >> 3, tag & 7
            if number == 0:
                raise Malformed(f"field number 0 at offset {pos}")
            if wtype == VARINT:
                value, pos = self.varint(pos, end)
                yield number, wtype, value
            elif wtype == LEN:
                n, pos = self.varint(pos, end)
                if pos + n > end:
                    raise Malformed(f"field {number} of {n} bytes at offset {pos} overruns its message")
                yield number, wtype, (pos, pos + n)
                pos += n
            elif wtype in (I64, I32):
                pos += 8 if wtype == I64 else 4
                if pos > end:
                    raise Malformed(f"fixed field {number} overruns its message")
                yield number, wtype, None
            else:
                raise Malformed(f"unsupported wire type {wtype} at offset {pos}")


def _children(wire: Wire, span: tuple[int, int], number: int) -> Iterator[tuple[int, int]]:
    for n, wtype, value in wire.fields(*span):
        if n == number and wtype == LEN:
            yield value


def _string(wire: Wire, span: tuple[int, int], number: int) -> str | None:
    found = None
    for n, wtype, value in wire.fields(*span):
        if n == number and wtype == LEN:
            found = wire.text(value)
    return found


FINGERPRINT_FIELDS = {(1, VARINT), (2, VARINT), (3, VARINT), (4, VARINT), (5, VARINT), (6, LEN), (7, LEN)}


def detect(wire: Wire, subject_name: str = "") -> str | None:
    """``onnx``, ``savedmodel``, ``graphdef``, ``keras_metadata`` (Keras 2 SavedModel layer
    metadata) or ``fingerprint`` (TF 2.12+ ``fingerprint.pb``) from the top-level fields."""
    seen: set[tuple[int, int]] = set()
    first: tuple[int, int] | None = None
    for n, t, value in wire.fields(0, wire.size):
        seen.add((n, t))
        if first is None and (n, t) == (1, LEN):
            first = value
    if (7, LEN) in seen and (1, VARINT) in seen:
        return "onnx"
    if (2, LEN) in seen and not (seen - {(1, VARINT), (2, LEN)}):
        return "savedmodel"
    if first is not None and seen == {(1, LEN)}:
        inner = {(n, t) for n, t, _ in wire.fields(*first)}
        # A NodeDef always has its op (2, string); a Keras SavedObject has metadata (5, string).
        if (2, LEN) not in inner and (5, LEN) in inner:
            return "keras_metadata"
    if (1, LEN) in seen and not (seen - {(1, LEN), (2, LEN), (3, VARINT), (4, LEN)}):
        return "graphdef"
    if seen and not (seen - FINGERPRINT_FIELDS) and subject_name == "fingerprint.pb":
        return "fingerprint"
    return None


# --- ONNX ------------------------------------------------------------------------------------

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"})
RUNTIME_DOMAINS = ("com.microsoft",)  # onnxruntime's contrib operators: well known, still not core


@dataclass
class _Onnx:
    wire: Wire
    locations: dict[str, list[str]] = field(default_factory=dict)  # location -> tensor names
    ops: dict[str, set[str]] = field(default_factory=dict)  # domain -> op types
    local_domains: set[str] = field(default_factory=set)

    def model(self, span: tuple[int, int]) -> None:
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n == 7:
                self.graph(value, 1)
            elif n == 25:
                self.function(value, 1)
            elif n == 20:  # TrainingInfoProto: initialization, algorithm graphs
                for sub in (*_children(self.wire, value, 1), *_children(self.wire, value, 2)):
                    self.graph(sub, 2)

    def _depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise Malformed(f"graphs nest deeper than {MAX_DEPTH} levels")

    def graph(self, span: tuple[int, int], depth: int) -> None:
        self._depth(depth)
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n == 1:
                self.node(value, depth)
            elif n == 5:
                self.tensor(value)
            elif n == 15:
                self.sparse(value)

    def function(self, span: tuple[int, int], depth: int) -> None:
        self._depth(depth)
        for n, wtype, value in self.wire.fields(*span):
            if wtype == LEN and n == 7:
                self.node(value, depth)
            elif wtype == LEN and n == 10:
                self.local_domains.add(self.wire.text(value))

    def node(self, span: tuple[int, int], depth: int) -> None:
        op_type, domain = "", ""
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n == 4:
                op_type = self.wire.text(value)
            elif n == 7:
                domain = self.wire.text(value)
            elif n == 5:
                self.attribute(value, depth)
        self.ops.setdefault(domain, set()).add(op_type)

    def attribute(self, span: tuple[int, int], depth: int) -> None:
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n in (5, 10):
                self.tensor(value)
            elif n in (6, 11):
                self.graph(value, depth + 1)
            elif n in (22, 23):
                self.sparse(value)

    def sparse(self, span: tuple[int, int]) -> None:
        for n, wtype, value in self.wire.fields(*span):
            if wtype == LEN and n in (1, 2):
                self.tensor(value)

    def tensor(self, span: tuple[int, int]) -> None:
        name = ""
        location = None
        for n, wtype, value in self.wire.fields(*span):
            if wtype == LEN and n == 8:
                name = self.wire.text(value)
            elif wtype == LEN and n == 13 and _string(self.wire, value, 1) == "location":
                location = _string(self.wire, value, 2) or ""
        if location is not None:
            self.locations.setdefault(location, []).append(name)


def _model_dir(ctx: FormatContext) -> Path | None:
    if ctx.path is None:
        return None
    path = ctx.path
    if not path.exists() and ctx.root is not None and (ctx.root / path).exists():
        path = ctx.root / path
    return path.parent


def _escape_reason(location: str, model_dir: Path | None) -> tuple[str | None, bool]:
    """(why the location leaves the model directory or None, whether the target exists)."""
    if location.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", location):
        return "absolute path", False
    if ".." in re.split(r"[\\/]", location):
        return "contains '..'", False
    if "\0" in location:
        return "contains a NUL byte", False
    if model_dir is None:
        return None, True  # inside an archive: only the lexical checks apply
    base = os.path.realpath(model_dir)
    target = os.path.realpath(os.path.join(base, location))
    if target != base and not target.startswith(base.rstrip(os.sep) + os.sep):
        return f"resolves outside the model directory (to {target})", os.path.exists(target)
    return None, os.path.isfile(target)


def _scan_onnx(wire: Wire, subject: str, ctx: FormatContext, extra: dict[str, Any]) -> list[Finding]:
    onnx = _Onnx(wire)
    onnx.model((0, wire.size))
    findings: list[Finding] = []
    model_dir = _model_dir(ctx)
    for location, tensors in onnx.locations.items():
        reason, exists = _escape_reason(location, model_dir)
        evidence = {**extra, "location": location, "tensor": tensors[0], "tensors": len(tensors)}
        if reason:
            findings.append(
                finding(
                    ONNX_ESCAPE,
                    Severity.HIGH,
                    subject,
                    f"external data location {location!r} of tensor {tensors[0]!r} {reason}: loading the model "
                    "reads an arbitrary file",
                    fix="keep external data files beside the model and reference them by relative name",
                    reason=reason,
                    **evidence,
                )
            )
        elif not exists:
            findings.append(
                finding(
                    ONNX_MISSING,
                    Severity.MEDIUM,
                    subject,
                    f"external data file {location!r} of tensor {tensors[0]!r} does not exist beside the model",
                    fix="ship the external data file with the model",
                    **evidence,
                )
            )
    for domain in sorted(onnx.ops):
        if domain in STANDARD_DOMAINS or domain in onnx.local_domains:
            continue
        known = domain.startswith(RUNTIME_DOMAINS)
        ops = sorted(onnx.ops[domain])
        findings.append(
            finding(
                ONNX_CUSTOM_OP,
                Severity.LOW if known else Severity.MEDIUM,
                subject,
                f"operators from the custom domain {domain!r} ({', '.join(ops[:5])}) need a runtime library "
                "that is not part of ONNX",
                fix="review the custom operator library the model requires",
                domain=domain,
                ops=ops[:50],
                **extra,
            )
        )
    return findings


# --- TensorFlow ------------------------------------------------------------------------------

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
FILE_OPS = frozenset(
    {
        "ReadFile",
        "WriteFile",
        "MatchingFiles",
        "ImmutableConst",
        "WholeFileReader",
        "WholeFileReaderV2",
        "TextLineReader",
        "TextLineReaderV2",
        "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2",
        "TFRecordReader",
        "TFRecordReaderV2",
        "LMDBReader",
        "TextLineDataset",
        "TFRecordDataset",
        "TFRecordDatasetV2",
        "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2",
        "CSVDataset",
        "CSVDatasetV2",
        "ExperimentalCSVDataset",
        "SqlDataset",
        "ExperimentalSqlDataset",
        "LMDBDataset",
        "ExperimentalLMDBDataset",
        "SaveDataset",
        "SaveDatasetV2",
        "LoadDataset",
        "SnapshotDataset",
        "SnapshotDatasetV2",
        "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord",
        "CreateSummaryFileWriter",
        "CreateSummaryDbWriter",
    }
)
NETWORK_OPS = frozenset(
    {"Rpc", "TryRpc", "RpcCall", "RpcClient", "RpcServer", "RpcServerRegister", "RpcServerStart", "RpcCheckStatus"}
)
ASSET_OPS = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})
# Ops whose danger depends on an attribute: (attr name, predicate on its string value).
ATTR_OPS = {
    "PrintV2": ("output_stream", lambda v: v.startswith("file://")),
    "DebugIdentity": ("debug_urls", bool),
    "DebugIdentityV2": ("debug_urls", bool),
    "DebugNanCount": ("debug_urls", bool),
    "DebugNumericSummary": ("debug_urls", bool),
}
# Checkpoint I/O every SavedModel has: never reported.
CHECKPOINT_OPS = frozenset(
    {
        "SaveV2",
        "RestoreV2",
        "MergeV2Checkpoints",
        "ShardedFilename",
        "ShardedFilespec",
        "StringJoin",
        "Save",
        "SaveSlices",
        "Restore",
        "RestoreSlice",
        "StaticRegexFullMatch",
    }
)
_SAVER_FUNCTION = re.compile(r"^__inference__traced_(save|restore)_\d+$")
_SAVER_SCOPE = re.compile(r"^save(_\d+)?/")


@dataclass
class _Tf:
    wire: Wire
    hits: dict[tuple[str, str], tuple[str, str, bool]] = field(default_factory=dict)  # (op, where) -> node, why

    def saved_model(self, span: tuple[int, int]) -> None:
        for meta in _children(self.wire, span, 2):
            for graph in _children(self.wire, meta, 2):
                self.graph_def(graph)

    def graph_def(self, span: tuple[int, int]) -> None:
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n == 1:
                self.node(value, "graph", False)
            elif n == 2:
                for function in _children(self.wire, value, 1):
                    self.function(function)

    def function(self, span: tuple[int, int]) -> None:
        name = "?"
        nodes: list[tuple[int, int]] = []
        for n, wtype, value in self.wire.fields(*span):
            if wtype == LEN and n == 1:
                name = _string(self.wire, value, 1) or "?"
            elif wtype == LEN and n == 3:
                nodes.append(value)
        saver = bool(_SAVER_FUNCTION.match(name))
        for node in nodes:
            self.node(node, name, saver)

    def node(self, span: tuple[int, int], where: str, saver: bool) -> None:
        name, op = "", ""
        attrs: list[tuple[int, int]] = []
        for n, wtype, value in self.wire.fields(*span):
            if wtype != LEN:
                continue
            if n == 1:
                name = self.wire.text(value)
            elif n == 2:
                op = self.wire.text(value)
            elif n == 5:
                attrs.append(value)
        self.judge(op, name, where, saver, lambda attr: self.attr_strings(attrs, attr))

    def judge(self, op: str, name: str, where: str, saver: bool, attr_values: Any) -> None:
        """Record ``op`` if unsafe; ``attr_values(name)`` gives an attribute's string values."""
        if op in CHECKPOINT_OPS:
            return
        why = None
        if op in PYTHON_OPS:
            why = "runs a Python function registered in the process"
        elif op in FILE_OPS:
            why = "reads or writes files"
        elif op in NETWORK_OPS:
            why = "opens network connections"
        elif op in ASSET_OPS:
            why = "reads a text file (normally a bundled asset)"
        elif op in ATTR_OPS:
            attr_name, test = ATTR_OPS[op]
            values = attr_values(attr_name)
            hit = next((v for v in values if test(v)), None)
            if hit is not None:
                why = f"writes to {hit[:200]!r}"
        if why is not None and (op, where) not in self.hits:
            in_saver = saver or (where == "graph" and bool(_SAVER_SCOPE.match(name)))
            self.hits[(op, where)] = (name, why, in_saver)

    def attr_strings(self, attrs: list[tuple[int, int]], wanted: str) -> list[str]:
        """String values of one attribute (``s`` or ``list.s``) of a NodeDef."""
        out: list[str] = []
        for entry in attrs:
            if _string(self.wire, entry, 1) != wanted:
                continue
            for value in _children(self.wire, entry, 2):
                for n, wtype, part in self.wire.fields(*value):
                    if wtype == LEN and n == 2:
                        out.append(self.wire.text(part))
                    elif wtype == LEN and n == 1:
                        out.extend(self.wire.text(s) for s in _children(self.wire, part, 2))
        return out


def _severity(op: str, in_saver: bool) -> Severity:
    if op in PYTHON_OPS:
        return Severity.CRITICAL
    if op in ASSET_OPS or in_saver:
        return Severity.LOW
    return Severity.HIGH


def _scan_tf(wire: Wire, kind: str, subject: str, extra: dict[str, Any]) -> list[Finding]:
    tf = _Tf(wire)
    if kind == "savedmodel":
        tf.saved_model((0, wire.size))
    else:
        tf.graph_def((0, wire.size))
    return _report_tf(tf, subject, extra)


def _report_tf(tf: _Tf, subject: str, extra: dict[str, Any]) -> list[Finding]:
    findings = []
    for (op, where), (node, why, in_saver) in sorted(tf.hits.items()):
        place = "the graph" if where == "graph" else f"function {where}"
        findings.append(
            finding(
                TF_UNSAFE_OP,
                _severity(op, in_saver),
                subject,
                f"TensorFlow op {op} (node {node!r} in {place}) {why} when the model runs"
                + (" (inside the saver's own function)" if in_saver else ""),
                fix="re-export the model without the op, or serve it only in a sandbox",
                op=op,
                node=node,
                function=None if where == "graph" else where,
                saver=in_saver,
                **extra,
            )
        )
    return findings


# --- text format (saved_model.pbtxt, graph.pbtxt) -------------------------------------------------

_PBTXT_START = re.compile(rb"^\s*(saved_model_schema_version|meta_graphs|node|library|versions)\s*[:{]")
_PBTXT_STRINGS = re.compile(r'\bs:\s*"([^"\\]*)"')
_PBTXT_TOKENS = re.compile(r'\bsignature\s*\{\s*name:\s*"([^"\\]*)"|\bname:\s*"([^"\\]*)"|\bop:\s*"([^"\\]*)"')


def _is_pbtxt(data: BinaryIO) -> bool:
    data.seek(0)
    head = data.read(4096)
    return b"\0" not in head and bool(_PBTXT_START.match(head))


def _scan_pbtxt(data: BinaryIO, size: int, subject: str, ctx: FormatContext, extra: dict[str, Any]) -> list[Finding]:
    """Text-format graphs: the same op judgement on ``op: "..."`` entries, attributed to the
    enclosing function (``signature { name: ... }``) and node (the ``name:`` before the op)."""
    if size > ctx.limits.max_header_bytes:
        return [unscannable(subject, f"text protobuf of {size} bytes exceeds the limit", **extra)]
    data.seek(0)
    text = data.read(size).decode("utf-8", "replace")
    tf = _Tf(Wire(data, size))
    where, node = "graph", ""
    matches = list(_PBTXT_TOKENS.finditer(text))
    for i, match in enumerate(matches):
        function, name, op = match.groups()
        if function is not None:
            where = function
        elif name is not None:
            node = name
        elif op is not None:
            tail = text[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
            values = _PBTXT_STRINGS.findall(tail)  # the node's string attributes (approximation)
            tf.judge(op, node, where, bool(_SAVER_FUNCTION.match(where)), lambda _attr, v=values: v)
    return _report_tf(tf, subject, extra)


# --- Keras 2 SavedModel metadata (keras_metadata.pb) ----------------------------------------------


def _scan_keras_metadata(wire: Wire, subject: str, ctx: FormatContext, extra: dict[str, Any]) -> list[Finding]:
    """``SavedMetadata.nodes`` (1) are ``SavedObject``s whose ``metadata`` (5) is each layer's Keras
    JSON config (Lambda bytecode included): judged as a Keras config, path prefixed by ``node_path`` (3)."""
    from scanner.models.formats import keras_config

    findings: list[Finding] = []
    limit = ctx.limits.max_header_bytes
    for node in _children(wire, (0, wire.size), 1):
        path, metadata = "", None
        for n, wtype, value in wire.fields(*node):
            if wtype == LEN and n == 3:
                path = wire.text(value)
            elif wtype == LEN and n == 5:
                metadata = wire.bytes(value[0], value[1] - value[0], limit)
        if not metadata:
            continue
        try:
            config = keras_config.parse_json(metadata)
        except ValueError as exc:
            findings.append(unscannable(subject, f"metadata of {path or 'a node'} is not valid JSON: {exc}", **extra))
            continue
        findings.extend(keras_config.judge_config(config, subject, {**extra, "node_path": path}, path))
    return findings


# --- entry point -----------------------------------------------------------------------------


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    member = _member(subject)
    if member is not None:
        extra["member"] = member
    wire = Wire(data, size)
    try:
        if _is_pbtxt(data):
            extra["kind"] = "pbtxt"
            return _scan_pbtxt(data, size, subject, ctx, extra)
        kind = detect(wire, re.split(r"[/\\!]", subject)[-1])
        if kind is None:
            return [unscannable(subject, "not a recognised ONNX or TensorFlow protobuf", **extra)]
        extra["kind"] = kind
        if kind == "onnx":
            return _scan_onnx(wire, subject, ctx, extra)
        if kind == "fingerprint":
            return []  # hashes of the other SavedModel files: nothing that runs
        if kind == "keras_metadata":
            return _scan_keras_metadata(wire, subject, ctx, extra)
        return _scan_tf(wire, kind, subject, extra)
    except Malformed as exc:
        return [unscannable(subject, f"malformed protobuf: {exc}", **extra)]
    except RecursionError:
        return [unscannable(subject, "protobuf nests too deeply", **extra)]
    except OSError as exc:
        return [unscannable(subject, f"read error: {exc}", **extra)]
