"""Signature and provenance files as this run read them.

A signature or provenance file beside an artifact (``X.sigstore.json``, ``X.intoto.jsonl``,
``DIR.sig`` …) decides the verdict without being part of the artifact's digest. Each is read
once per run, through ``scanner.safeio`` (a regular file, at most ``MAX_BYTES``), and every
check that verifies it works from those bytes; the sha256 of exactly what was verified is
carried out (``DocumentFile.input``) into the evidence record (``inputs.signature_files``) and
the batch cache key. Reading the file again later — to hash it, or in a second check — would
let a file swapped during the run be recorded, or cached, under bytes nobody verified.

Which files lie beside the artifact is also looked up once per run (``DocumentReader.discover``):
the signature and the provenance checks see the same set, so a file appearing between them
cannot count for one and not the other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.check import InputFile
from scanner.errors import ScanError
from scanner.safeio import NotRegularFile, open_regular, read_upto

if TYPE_CHECKING:
    from scanner.check import GateContext
    from scanner.files import FileSet

MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class DocumentFile:
    """One signature or provenance file as it was read: ``raw`` (empty when the file was larger
    than ``MAX_BYTES``: ``sha256`` is then None and ``size`` is what it holds)."""

    path: Path
    size: int
    sha256: str | None
    raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def too_large(self) -> bool:
        return self.sha256 is None

    @property
    def input(self) -> InputFile:
        return InputFile(self.path, self.sha256, self.size)


def read_file(path: Path, limit: int = MAX_BYTES) -> DocumentFile:
    """Read ``path`` once (a link named here is followed; the target must be a regular file).
    ScanError when it cannot be read at all; an over-large file is not read (``too_large``)."""
    try:
        fh = open_regular(path, follow=True)
    except NotRegularFile:
        raise
    except ScanError:
        if not os.path.lexists(path):
            raise ScanError("signature file not found", path) from None
        raise
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            return DocumentFile(path, size, None)
        try:
            raw = read_upto(fh, limit)
        except OSError as exc:
            raise ScanError(f"cannot read signature file: {exc.strerror or exc}", path) from None
    if len(raw) > limit:  # it grew while being read
        return DocumentFile(path, len(raw), None)
    return DocumentFile(path, len(raw), hashlib.sha256(raw).hexdigest(), raw)


class DocumentReader:
    """The run's reads of signature and provenance files: each path read once (later requests
    get the same bytes), and the files beside the artifact looked up once. ``files`` is the
    run's FileSet: a signature document inside the artifact (``model.sig``) was hashed by the
    run's pass over its files, and must be the same bytes here (``FileChanged`` otherwise)."""

    def __init__(self, files: FileSet | None = None) -> None:
        self.files = files
        self._read: dict[str, DocumentFile] = {}
        self._found: dict[tuple[str, str], list[Path]] = {}

    def read(self, path: Path) -> DocumentFile:
        key = os.path.abspath(path)
        known = self._read.get(key)
        if known is None:
            known = read_file(path)
            self._check_inside(known)
            self._read[key] = known
        return known

    def _check_inside(self, doc: DocumentFile) -> None:
        """A document inside the artifact's directory must hold the bytes the run hashed for it
        (the artifact digest covers them): one replaced in between stops the run."""
        from scanner.files import FileChanged

        files = self.files
        if files is None or not files.is_dir or doc.sha256 is None:
            return
        try:
            rel = Path(os.path.abspath(doc.path)).relative_to(os.path.abspath(files.root)).as_posix()
        except ValueError:
            return  # beside the artifact, not in it
        entry = next((e for e in files.entries if e.rel == rel and e.readable), None)
        if entry is not None and files.digest(entry).sha256 != doc.sha256:
            raise FileChanged("was changed while the artifact was being read (signature document)", doc.path)

    def discover(self, artifact: Path) -> list[Path]:
        """``scanner.verify.beside.discover``, once per artifact in this run."""
        from scanner.verify.beside import discover

        return self._once("signatures", artifact, discover)

    def discover_provenance(self, artifact: Path) -> list[Path]:
        """``scanner.verify.beside.discover_provenance``, once per artifact in this run."""
        from scanner.verify.beside import discover_provenance

        return self._once("provenance", artifact, discover_provenance)

    def _once(self, what: str, artifact: Path, find: Callable[[Path], list[Path]]) -> list[Path]:
        key = (what, os.path.abspath(artifact))
        if key not in self._found:
            self._found[key] = list(find(artifact))
        return list(self._found[key])

    def inputs(self, paths: list[Path]) -> tuple[InputFile, ...]:
        """What was read of ``paths`` (in that order, each once; paths never read left out)."""
        seen: dict[str, InputFile] = {}
        for path in paths:
            doc = self._read.get(os.path.abspath(path))
            if doc is not None:
                seen.setdefault(os.path.abspath(path), doc.input)
        return tuple(seen.values())


def reader_for(ctx: GateContext) -> DocumentReader:
    """The run's reader (``GateContext.documents``), made on first use."""
    if ctx.documents is None:
        ctx.documents = DocumentReader(ctx.files)
    return ctx.documents
