"""Walk a model file or directory, sniff every file by content, route it to a format scanner.

Every file ends with exactly one verdict: ``clean`` (fully checked, nothing found), ``findings``,
or ``unscannable`` (a MODEL-UNSCANNABLE finding: never a silent skip). Archives recurse through
``scan_stream`` with the depth, size, ratio and entry limits of ``api.Limits``.
"""

from __future__ import annotations

import importlib
import lzma
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from scanner import files as fs
from scanner.core import Finding, Severity
from scanner.files import FileEntry, FileSet, OpenedFile
from scanner.formats import sniff
from scanner.models import containers
from scanner.models.api import UNSCANNABLE, FormatContext, Limits, finding, unscannable
from scanner.models.streams import ArtifactBudget, Budget, LimitExceeded, TruncatedStream

RULE_SYMLINK = "MODEL-SYMLINK-ESCAPE"
RULE_DEPTH = "MODEL-ARCHIVE-DEPTH"

# sniffed format -> module under scanner.models.formats written by the formats area
FORMAT_MODULES = {
    sniff.SAFETENSORS: "safetensors",
    sniff.GGUF: "gguf",
    sniff.HDF5: "hdf5",
    sniff.PROTOBUF: "protobuf",
    sniff.TFLITE: "tflite",
    "keras-json": "keras_config",
    "chat-template-json": "chat_template",
    "skops-schema": "skops",
}
# Names whose format validator runs when the content did not match it (it reports what is wrong).
NAME_FORMATS = {".safetensors": sniff.SAFETENSORS, ".gguf": sniff.GGUF, ".tflite": sniff.TFLITE}
# Names of files whose loaders deserialize them (torch.load, joblib, numpy, Keras, ...): binary
# content there that matches no format is never clean. Not ``.bin``/``.data``: raw tensor
# storage (ONNX external data, TF variables) is unstructured bytes by design.
MODEL_SUFFIXES = frozenset(
    {
        ".pt",
        ".pth",
        ".ckpt",
        ".pkl",
        ".pickle",
        ".joblib",
        ".dill",
        ".npy",
        ".npz",
        ".h5",
        ".hdf5",
        ".keras",
        ".onnx",
        ".tflite",
        ".safetensors",
        ".gguf",
        ".nemo",
        ".mar",
        ".skops",
    }
)
# findings that mean some content was not examined (the check is incomplete)
NOT_EXAMINED = frozenset({UNSCANNABLE, containers.RULE_BOMB, RULE_DEPTH})
ARCHIVES = {sniff.ZIP, sniff.TAR, sniff.GZIP, sniff.BZIP2, sniff.XZ, sniff.ZLIB}


@dataclass
class FileVerdict:
    path: str
    format: str
    verdict: str  # clean / findings / unscannable
    size: int


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: list[FileVerdict] = field(default_factory=list)
    judged: int = 0  # files and members recognised as a model format and examined

    @property
    def complete(self) -> bool:
        return not any(f.id in NOT_EXAMINED for f in self.findings)

    def summary(self) -> dict[str, Any]:
        verdicts = Counter(f.verdict for f in self.files)
        return {
            "files": len(self.files),
            "clean": verdicts.get("clean", 0),
            "with_findings": verdicts.get("findings", 0),
            "unscannable": verdicts.get("unscannable", 0),
            "formats": dict(sorted(Counter(f.format for f in self.files).items())),
        }


class Dispatcher:
    """One scan of one root. ``settings`` are the check settings (see ``scanner.models.check``);
    ``files`` is the run's FileSet: each file is opened once, hashed from its descriptor, and
    that descriptor is what sniffing and the format scanners read."""

    def __init__(
        self,
        root: Path,
        settings: dict[str, Any] | None = None,
        limits: Limits | None = None,
        files: FileSet | None = None,
    ) -> None:
        self.root = root
        self.settings = dict(settings or {})
        self.limits = limits or Limits()
        self.files = files if files is not None else FileSet(root)
        self.judged = 0  # files (and members) recognised as a model format and examined
        lim = self.limits
        self.artifact_budget = ArtifactBudget(
            lim.max_artifact_entries, lim.max_artifact_archives, lim.max_artifact_bytes, lim.max_artifact_seconds
        )

    # -- files --

    def scan(self) -> ScanResult:
        result = ScanResult()
        is_dir = self.files.is_dir
        base = self.root if is_dir else self.root.parent
        for entry, opened in self.files.open_each():
            shown = self.files.show(self.root / entry.rel if is_dir else self.root)
            if opened is None:
                findings, fmt = _not_read(entry, shown)
                size = 0
            else:
                findings, fmt = self._scan_opened(opened, shown, base)
                size = opened.size
            result.findings.extend(findings)
            result.files.append(FileVerdict(shown, fmt, _verdict(findings), size))
        result.judged = self.judged
        return result

    def _scan_opened(self, opened: OpenedFile, shown: str, base: Path) -> tuple[list[Finding], str]:
        fh, size, path = opened.fh, opened.size, opened.entry.path
        if self.artifact_budget.exhausted:
            reason = f"not scanned: the artifact's budget is spent ({self.artifact_budget.exhausted})"
            return [unscannable(shown, reason)], "skipped"
        try:
            fmt = sniff.sniff_stream(fh, size, path.name)
            ctx = self._ctx(path, base)
            budget = Budget(
                self.limits.max_total_bytes,
                self.limits.max_member_bytes,
                self.limits.max_ratio,
                artifact=self.artifact_budget,
            )
            findings = self._guarded(fh, size, shown, 0, budget, {}, ctx, fmt)
        except OSError as exc:
            return [unscannable(shown, f"cannot read: {exc.strerror or exc}")], "unreadable"
        return findings, fmt

    def _ctx(self, path: Path, base: Path) -> FormatContext:
        return FormatContext(
            root=base.resolve() if base.exists() else base,
            path=path,
            depth=0,
            limits=self.limits,
            settings=self.settings,
        )

    # -- streams --

    def scan_stream(
        self,
        data: BinaryIO,
        size: int,
        subject: str,
        depth: int,
        budget: Budget,
        hints: dict[str, Any],
        ctx: FormatContext,
        member: str | None = None,
    ) -> list[Finding]:
        """An embedded file (archive member, decompressed stream, nested payload)."""
        if self.artifact_budget.exhausted:
            return []  # already reported once (MODEL-ARCHIVE-BOMB): nothing more is opened
        try:
            self.artifact_budget.entry()
        except LimitExceeded as exc:
            return [containers._bomb(subject, str(exc), member=member)]
        if depth > self.limits.max_depth:
            return [
                finding(
                    RULE_DEPTH,
                    Severity.HIGH,
                    subject,
                    f"archives nested more than {self.limits.max_depth} deep; not scanned further",
                    fix="flatten the archive; deep nesting is a way to hide content from scanners",
                    depth=depth,
                    member=member,
                )
            ]
        fmt = sniff.sniff_stream(data, size, subject.rsplit("!", 1)[-1])
        return self._guarded(data, size, subject, depth, budget, hints, ctx, fmt)

    def _guarded(
        self,
        data: BinaryIO,
        size: int,
        subject: str,
        depth: int,
        budget: Budget,
        hints: dict[str, Any],
        ctx: FormatContext,
        fmt: str,
    ) -> list[Finding]:
        """Route, turning every failure on hostile input into a finding (fail closed)."""
        try:
            return self._route(data, size, subject, depth, budget, hints, ctx, fmt)
        except LimitExceeded as exc:
            return [containers._bomb(subject, str(exc), format=fmt)]
        except TruncatedStream as exc:
            return [unscannable(subject, str(exc), format=fmt)]
        except (MemoryError, RecursionError) as exc:
            return [unscannable(subject, f"input too large or too deeply nested ({type(exc).__name__})", format=fmt)]
        except (OSError, EOFError, ValueError, struct.error, zlib.error, lzma.LZMAError) as exc:
            return [unscannable(subject, f"cannot read {fmt} data: {exc}", format=fmt)]
        except Exception as exc:  # a bug in a format scanner must not pass a file as clean
            return [unscannable(subject, f"scanner error on {fmt} data: {type(exc).__name__}: {exc}", format=fmt)]

    def _route(
        self,
        data: BinaryIO,
        size: int,
        subject: str,
        depth: int,
        budget: Budget,
        hints: dict[str, Any],
        ctx: FormatContext,
        fmt: str,
    ) -> list[Finding]:
        def recurse(
            sub: BinaryIO,
            sub_size: int,
            sub_subject: str,
            hints: dict[str, Any] | None = None,
            member: str | None = None,
        ) -> list[Finding]:
            return self.scan_stream(sub, sub_size, sub_subject, depth + 1, budget, hints or {}, ctx, member)

        if fmt not in (sniff.UNKNOWN, sniff.TEXT, sniff.EMPTY, sniff.JSON):
            self.judged += 1
        if depth > 0 and fmt in ARCHIVES | {sniff.SEVENZIP}:
            self.artifact_budget.archive()
        sub_ctx = FormatContext(
            root=ctx.root,
            path=ctx.path,
            depth=depth,
            limits=self.limits,
            settings=self.settings,
            recurse=lambda s, n, subj: recurse(s, n, subj),
        )
        if fmt == sniff.PICKLE:
            from scanner.models.pickle_scan import PickleScan

            return PickleScan(data, size, subject, sub_ctx, torchscript=bool(hints.get("torchscript"))).run()
        if fmt == sniff.ZIP:
            return containers.scan_zip(data, size, subject, budget, self.limits.max_entries, recurse)
        if fmt == sniff.TAR:
            return containers.scan_tar(data, size, subject, self.limits.max_entries, recurse)
        if fmt in containers.COMPRESSED:
            return containers.scan_compressed(fmt, data, size, subject, budget, recurse)
        if fmt == sniff.SEVENZIP:
            return [unscannable(subject, "7z archives are not read by this scanner", format=fmt)]
        if fmt == sniff.NUMPY:
            return self._numpy(data, size, subject, sub_ctx)
        if hints.get("raw_data"):
            return []  # tensor storage bytes of a torch zip: only pickles and archives matter there
        if fmt in (sniff.TEXT, sniff.UNKNOWN) and self._zip_at_end(data, size):
            # data prepended to a zip (self-extracting style): zipfile.is_zipfile, and so Keras,
            # accept it, since a zip is read from its end
            return containers.scan_zip(data, size, subject, budget, self.limits.max_entries, recurse)
        if fmt == sniff.JSON and _looks_like_skops_schema(data):
            fmt = "skops-schema"
        elif fmt == sniff.JSON and _looks_like_keras_json(data):
            fmt = "keras-json"
        elif fmt == sniff.JSON and _has_chat_template(data, size):
            fmt = "chat-template-json"
        if fmt in (sniff.UNKNOWN, sniff.TEXT, sniff.EMPTY):
            # Content matched no format. A name that promises one is not believed, but not ignored
            # either: a truncated safetensors file is validated (and found malformed); any other
            # model-file name whose content is unrecognised or empty is not reported clean (fail
            # closed): nothing to judge is not clean. Text under other names holds nothing a
            # loader would deserialize.
            suffix = _suffix(subject)
            if suffix in NAME_FORMATS:
                fmt = NAME_FORMATS[suffix]
            elif fmt == sniff.EMPTY and "!" in subject:
                pass  # an empty archive member (a Keras zip without weights): nothing a loader runs
            elif fmt != sniff.TEXT and (suffix in MODEL_SUFFIXES or self._loader_bin(suffix, subject, ctx)):
                what = "empty file" if fmt == sniff.EMPTY else "content not recognised as any model format"
                return [unscannable(subject, f"{what} (named {suffix})", format=fmt)]
        if fmt in ("keras-json", "chat-template-json"):
            self.judged += 1
        module = FORMAT_MODULES.get(fmt)
        if fmt == sniff.TFLITE and self._zip_at_end(data, size):
            # TFLite metadata packs "associated files" (labels, vocabularies) as a zip after the
            # flatbuffer: its members are scanned like any archive's
            found = self._format_module("tflite", data, size, subject, sub_ctx)
            return found + containers.scan_zip(data, size, subject, budget, self.limits.max_entries, recurse)
        if module is not None:
            return self._format_module(module, data, size, subject, sub_ctx)
        return []  # text, plain JSON, or unrecognised data under a non-model name

    @staticmethod
    def _loader_bin(suffix: str, subject: str, ctx: FormatContext) -> bool:
        """A top-level ``.bin`` is what ``torch.load`` and ``from_pretrained`` read
        (``pytorch_model.bin``), unless it is raw tensor storage: ONNX external data (an ``.onnx``
        beside it) or OpenVINO weights (an ``.xml`` of the same stem)."""
        if suffix != ".bin" or "!" in subject or ctx.path is None:
            return False
        here = ctx.path.parent
        try:
            if ctx.path.with_suffix(".xml").is_file() or any(here.glob("*.onnx")):
                return False
        except OSError:
            return True
        return True

    def _zip_at_end(self, data: BinaryIO, size: int) -> bool:
        if size < 22:
            return False
        data.seek(max(0, size - 65557))
        if b"PK\x05\x06" not in data.read():
            return False
        try:
            return bool(containers.read_central_directory(data, size, self.limits.max_entries))
        except (containers.ArchiveError, LimitExceeded, struct.error, OSError):
            return False

    def _numpy(self, data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
        try:
            header = containers.read_npy_header(data, size)
        except containers.ArchiveError as exc:
            return [unscannable(subject, f"broken .npy file: {exc}", format="numpy")]
        if not header.has_objects:
            # a header that promises more data than the file holds (an 8 TiB shape over 64
            # bytes) is not an array anyone can load: nothing was judged
            promised = header.data_bytes()
            if promised is not None and promised > size - header.data_offset:
                return [
                    unscannable(
                        subject,
                        f"header promises {promised} bytes of data, the file holds {size - header.data_offset}",
                        format="numpy",
                    )
                ]
            return []
        from scanner.models.pickle_scan import PickleScan

        # numpy.load(allow_pickle=True) unpickles the data: judged like any pickle (a benign
        # object array only imports numpy's own reconstruction helpers).
        return PickleScan(data, size, subject, ctx, start=header.data_offset, single=True).run()

    def _format_module(self, module: str, data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
        name = f"scanner.models.formats.{module}"
        try:
            scanner_module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            return [unscannable(subject, f"no scanner for this format in this build ({name})", format=module)]
        data.seek(0)
        found: list[Finding] = scanner_module.scan(data, size, subject, ctx)
        return found


def _looks_like_keras_json(data: BinaryIO) -> bool:
    data.seek(0)
    head = data.read(sniff.HEAD_BYTES)
    data.seek(0)
    return b'"class_name"' in head and b'"config"' in head


def _looks_like_skops_schema(data: BinaryIO) -> bool:
    from scanner.models.formats.skops import is_schema

    data.seek(0)
    head = data.read(sniff.HEAD_BYTES)
    data.seek(0)
    return is_schema(head)


def _suffix(subject: str) -> str:
    """Lower-cased suffix of the innermost name of a subject (``dir/a.zip!inner/w.bin`` → ``.bin``)."""
    name = subject.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _has_chat_template(data: BinaryIO, size: int) -> bool:
    """A JSON document that carries a ``"chat_template"`` key anywhere in its text (tokenizer
    configs put it after a long added-tokens table, so the whole file is searched, in chunks)."""
    data.seek(0)
    tail = b""
    while chunk := data.read(1 << 20):
        if b'"chat_template"' in tail + chunk:
            data.seek(0)
            return True
        tail = chunk[-16:]
    data.seek(0)
    return False


def _verdict(findings: list[Finding]) -> str:
    if any(f.id == UNSCANNABLE for f in findings):
        return "unscannable"
    return "findings" if findings else "clean"


def _not_read(entry: FileEntry, shown: str) -> tuple[list[Finding], str]:
    """The finding for an entry the walk listed but never opened (``scanner.files``)."""
    if entry.problem == fs.ESCAPES:
        return [
            finding(
                RULE_SYMLINK,
                Severity.HIGH,
                shown,
                f"symlink points outside the scanned directory (to {entry.detail}); not followed",
                fix="replace the link with the file it points to, or remove it",
                target=entry.detail,
            )
        ], "symlink"
    if entry.problem == fs.DIR_LINK:
        return [], "symlink"  # a directory link inside the tree: its files are scanned where they are
    if entry.problem == fs.LOOP:
        return [unscannable(shown, "symlink loop: not followed", target=entry.detail)], "symlink"
    if entry.problem == fs.DANGLING:
        return [unscannable(shown, "dangling symlink", target=entry.detail)], "symlink"
    return [unscannable(shown, f"is a {entry.detail}, not a regular file: not read", kind=entry.detail)], "special"


def scan_path(
    root: Path, settings: dict[str, Any] | None = None, limits: Limits | None = None, files: FileSet | None = None
) -> ScanResult:
    return Dispatcher(root, settings, limits, files).scan()
