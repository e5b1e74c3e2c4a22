"""Reading OSV dumps: a directory of ``.json``/``.yaml`` files, an osv.dev ``all.zip`` (members
read in memory, never extracted), or a ``.jsonl.gz`` (one record per line). All bounded: a
hostile or corrupt dump is a ScanError naming the file, member or line, never a partial import.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner import jsonfile
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
    from scanner.safeio import open_regular, read_bounded

    try:
        with open_regular(path, follow=True) as fh:  # a FIFO or device is never read
            head = fh.read(4)
    except OSError as exc:
        raise ScanError(f"cannot read OSV dump: {exc.strerror or exc}", path) from None
    if head.startswith(b"PK"):
        yield from _read_zip(path)
    elif head.startswith(b"\x1f\x8b"):
        yield from _read_jsonl_gz(path)
    elif path.suffix in (".json", ".yaml", ".yml"):
        yield str(path), _parse(read_bounded(path, MAX_RECORD_BYTES, follow=True), str(path), path.suffix)
    else:
        raise ScanError("not an OSV dump (expected a directory, a .zip, a .jsonl.gz, or one .json/.yaml)", path)


RECORD_SUFFIXES = (".json", ".yaml", ".yml")


def _read_dir(root: Path) -> Iterator[tuple[str, Record]]:
    """Every file of the dump is an OSV record: a link (to itself, its parent, a device), a FIFO,
    a socket or a file of another kind stops the import (all or nothing), naming the entry."""
    import os
    import stat

    from scanner.safeio import describe_mode, read_bounded

    total = 0
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                raise ScanError("link in the OSV dump: not followed, nothing imported", here / name)
        dirnames.sort()
        for name in filenames:
            p = here / name
            try:
                mode = p.lstat().st_mode
            except OSError as exc:
                raise ScanError(f"cannot read: {exc.strerror or exc}", p) from None
            if not stat.S_ISREG(mode):
                raise ScanError(f"{describe_mode(mode)} in the OSV dump: nothing imported", p)
            if p.suffix in RECORD_SUFFIXES:  # READMEs and licences beside the records are not read
                files.append(p)
    for p in sorted(files):
        data = read_bounded(p, MAX_RECORD_BYTES, what="OSV record")
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise ScanError(f"OSV dump larger than {MAX_TOTAL_BYTES} bytes", root)
        yield str(p), _parse(data, str(p), p.suffix)


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
        where = f"{label}!{info.filename}"
        if _unsafe_name(info.filename):
            raise ScanError("unsafe member name (absolute or leaving the archive): nothing imported", where)
        if (info.external_attr >> 16) & 0o170000 not in (0, 0o100000, 0o040000):
            raise ScanError("member is a link or special file: nothing imported", where)
        if info.is_dir():
            continue
        if suffix not in RECORD_SUFFIXES:
            raise ScanError("not an OSV record file (.json/.yaml): nothing imported", where)
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
        doc = jsonfile.parse(data, where, "OSV record")
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
        raise ScanError("not an OSV record (expected an object with an 'id')", where)
    unknown = sorted(set(doc) - OSV_FIELDS)
    if unknown:
        raise ScanError(f"not an OSV record: unknown field(s) {', '.join(map(repr, unknown[:5]))}", where)
    for key in ("aliases", "affected", "references", "severity", "related", "upstream", "credits"):
        if key in doc and not isinstance(doc[key], list):
            raise ScanError(f"not an OSV record: {key!r} is not a list", where)
    if any(not isinstance(a, dict) for a in doc.get("affected") or []):
        raise ScanError("not an OSV record: an 'affected' entry is not an object", where)
    return doc


# The top-level fields of the OSV schema (1.x); anything else is not an OSV record.
OSV_FIELDS = frozenset(
    {
        "schema_version",
        "id",
        "modified",
        "published",
        "withdrawn",
        "aliases",
        "related",
        "upstream",
        "summary",
        "details",
        "severity",
        "affected",
        "references",
        "credits",
        "database_specific",
    }
)


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts or "\0" in name
