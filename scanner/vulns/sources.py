"""Reading OSV dumps: a directory of ``.json``/``.yaml`` files, an osv.dev ``all.zip`` (members
read in memory, never extracted), or a ``.jsonl.gz`` (one record per line). All bounded: a
hostile or corrupt dump is a ScanError naming the file, member or line, never a partial import.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.errors import ScanError

MAX_RECORD_BYTES = 16 << 20  # one OSV record
MAX_TOTAL_BYTES = 4 << 30  # everything a dump may expand to
MAX_MEMBERS = 2_000_000
MAX_RATIO = 200  # compressed → expanded, per zip member

Record = dict[str, Any]


def read_dump(path: Path) -> Iterator[tuple[str, Record]]:
    """Yield ``(where, record)`` for every OSV record in ``path``; ``where`` names the file,
    member or line for error messages."""
    if path.is_dir():
        yield from _read_dir(path)
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ScanError(f"cannot read OSV dump: {exc.strerror or exc}", path) from None
    if head.startswith(b"PK"):
        yield from _read_zip(path)
    elif head.startswith(b"\x1f\x8b"):
        yield from _read_jsonl_gz(path)
    elif path.suffix in (".json", ".yaml", ".yml"):
        yield str(path), _parse(path.read_bytes(), str(path), path.suffix)
    else:
        raise ScanError("not an OSV dump (expected a directory, a .zip, a .jsonl.gz, or one .json/.yaml)", path)


def _read_dir(root: Path) -> Iterator[tuple[str, Record]]:
    total = 0
    files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    for p in files:
        if p.is_symlink() or not p.is_file():
            continue  # never follow links out of the dump
        size = p.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise ScanError(f"OSV record larger than {MAX_RECORD_BYTES} bytes", p)
        total += size
        if total > MAX_TOTAL_BYTES:
            raise ScanError(f"OSV dump larger than {MAX_TOTAL_BYTES} bytes", root)
        yield str(p), _parse(p.read_bytes(), str(p), p.suffix)


def _read_zip(path: Path) -> Iterator[tuple[str, Record]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ScanError(f"not a readable zip: {exc}", path) from None
    with zf:
        yield from read_zip(zf, str(path))


def read_zip(zf: zipfile.ZipFile, label: str) -> Iterator[tuple[str, Record]]:
    """Records from an open zip (a file or bytes in memory), each member read with its own bound
    rather than trusting the sizes in its header."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ScanError(f"zip has {len(infos)} members (limit {MAX_MEMBERS})", label)
    total = 0
    for info in sorted(infos, key=lambda i: i.filename):
        suffix = Path(info.filename).suffix
        if info.is_dir() or suffix not in (".json", ".yaml", ".yml"):
            continue
        where = f"{label}!{info.filename}"
        try:
            with zf.open(info) as fh:
                data = fh.read(MAX_RECORD_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ScanError(f"corrupt zip member: {exc}", where) from None
        if len(data) > MAX_RECORD_BYTES:
            raise ScanError(f"member expands beyond {MAX_RECORD_BYTES} bytes", where)
        if info.compress_size and len(data) > 1 << 20 and len(data) / info.compress_size > MAX_RATIO:
            raise ScanError(f"member compression ratio above {MAX_RATIO} (a zip bomb?)", where)
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise ScanError(f"zip expands beyond {MAX_TOTAL_BYTES} bytes", label)
        yield where, _parse(data, where, suffix)


def _read_jsonl_gz(path: Path) -> Iterator[tuple[str, Record]]:
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            lineno = 0
            while True:
                line = fh.readline(MAX_RECORD_BYTES + 1)
                if not line:
                    break
                lineno += 1
                where = f"{path}:{lineno}"
                if len(line) > MAX_RECORD_BYTES:
                    raise ScanError(f"line longer than {MAX_RECORD_BYTES} bytes", where)
                total += len(line)
                if total > MAX_TOTAL_BYTES:
                    raise ScanError(f"dump expands beyond {MAX_TOTAL_BYTES} bytes", path)
                if line.strip():
                    yield where, _parse(line, where, ".json")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ScanError(f"corrupt gzip: {exc}", path) from None


def _parse(data: bytes, where: str, suffix: str) -> Record:
    if suffix in (".yaml", ".yml"):
        from scanner import safeyaml

        doc = safeyaml.load(data, where, max_bytes=MAX_RECORD_BYTES)
    else:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ScanError(f"invalid JSON in OSV record: {exc}", where) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
        raise ScanError("not an OSV record (expected an object with an 'id')", where)
    return doc
