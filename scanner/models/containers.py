"""Archives and compressed streams, read the way the loaders read them, never extracted to disk.

zip: the central directory is parsed here (``zipfile`` refuses what torch accepts: bad CRCs,
odd flag bits, a local header naming a member differently from the central directory), every
member is sniffed by content. tar: headers are parsed here with bounds (the stdlib ``tarfile``
on this Python loops forever on a negative size and takes minutes on a long PAX header).
gzip / bz2 / xz / zlib: decompressed lazily within the budget. numpy ``.npy``: an object array
holds a pickle.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.models.api import finding, unscannable
from scanner.models.streams import Budget, Inflate, LimitExceeded, Window, buffered

RULE_BOMB = "MODEL-ARCHIVE-BOMB"
RULE_PATH = "MODEL-ARCHIVE-PATH"
RULE_NAME_MISMATCH = "MODEL-ZIP-NAME-MISMATCH"
MAX_PAX = 1 << 20
MAX_NPY_HEADER = 1 << 20

# scan(data, size, subject, hints) -> findings; the dispatcher's entry for an embedded file
Recurse = Callable[..., list[Finding]]


@dataclass
class ZipEntry:
    name: str
    method: int
    flags: int
    csize: int
    usize: int
    local_offset: int


class ArchiveError(Exception):
    """The archive structure is broken: the member list cannot be trusted to be complete."""


def _bomb(subject: str, why: str, **evidence: Any) -> Finding:
    return finding(
        RULE_BOMB,
        Severity.HIGH,
        subject,
        f"archive exceeds a safety limit: {why}",
        fix="do not extract this archive; it may be a decompression bomb",
        reason=why,
        **evidence,
    )


def _unsafe_path(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


# --- zip -------------------------------------------------------------------------------------


def read_central_directory(data: BinaryIO, size: int, max_entries: int) -> list[ZipEntry]:
    tail_len = min(size, 65557)
    data.seek(size - tail_len)
    tail = data.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ArchiveError("no end-of-central-directory record (truncated zip)")
    eocd = size - tail_len + at
    _, _, _, _, total, cd_size, cd_offset, _ = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    saturated = total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF
    cd_end = eocd
    loc = tail[at - 20 : at] if at >= 20 else b""
    if loc[:4] == b"PK\x06\x07":  # a zip64 record sits between the central directory and here
        (z64_offset,) = struct.unpack("<Q", loc[8:16])
        # where the locator says, else right before it (a prefix shifts the stated offset)
        for z64_at in (z64_offset, eocd - 20 - 56):
            if 0 <= z64_at <= eocd - 76:
                data.seek(z64_at)
                rec = data.read(56)
                if rec[:4] == b"PK\x06\x06":
                    break
        else:
            raise ArchiveError("bad zip64 end record")
        cd_end = z64_at
        if saturated:
            total, cd_size, cd_offset = struct.unpack("<QQQ", rec[32:56])
    elif saturated:
        raise ArchiveError("zip64 locator missing")
    if total > max_entries:
        raise LimitExceeded(f"{total} entries (limit {max_entries})")
    # Data prepended to the archive shifts every offset (self-extracting archives): measured,
    # as zipfile does, from where the central directory must end.
    shift = cd_end - cd_size - cd_offset
    if shift < 0:
        raise ArchiveError("central directory outside the file")
    if cd_size > 64 * max_entries + (64 << 20):
        raise LimitExceeded(f"central directory of {cd_size} bytes")
    data.seek(cd_offset + shift)
    cd = data.read(cd_size)
    entries: list[ZipEntry] = []
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == b"PK\x01\x02":
        (flags, method, _t, _d, _crc, csize, usize, nlen, elen, clen, _disk, _ia, _ea, local) = struct.unpack(
            "<HHHHIIIHHHHHII", cd[pos + 8 : pos + 46]
        )
        name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + elen]
        if 0xFFFFFFFF in (csize, usize, local):
            usize, csize, local = _zip64_extra(extra, usize, csize, local)
        entries.append(ZipEntry(name, method, flags, csize, usize, local + shift))
        if len(entries) > max_entries:
            raise LimitExceeded(f"more than {max_entries} entries")
        pos += 46 + nlen + elen + clen
    if len(entries) != total and total != 0xFFFF:
        raise ArchiveError(f"central directory lists {len(entries)} of {total} entries")
    return entries


def _zip64_extra(extra: bytes, usize: int, csize: int, local: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, n = struct.unpack("<HH", extra[pos : pos + 4])
        body = extra[pos + 4 : pos + 4 + n]
        if tag == 1:
            values = [struct.unpack("<Q", body[i : i + 8])[0] for i in range(0, len(body) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if local == 0xFFFFFFFF:
                local = next(it, local)
        pos += 4 + n
    return usize, csize, local


def scan_zip(
    data: BinaryIO, size: int, subject: str, budget: Budget, max_entries: int, recurse: Recurse
) -> list[Finding]:
    try:
        entries = read_central_directory(data, size, max_entries)
    except ArchiveError as exc:
        return [unscannable(subject, f"broken zip: {exc}", format="zip")]
    except LimitExceeded as exc:
        return [_bomb(subject, str(exc), format="zip")]
    findings: list[Finding] = []
    names = [e.name for e in entries]
    torchscript = any("/code/" in f"/{n}" for n in names) and any(n.endswith("constants.pkl") for n in names)
    torch_zip = any(n.endswith("data.pkl") for n in names)
    placed: list[tuple[ZipEntry, int, str]] = []
    for entry in entries:
        if entry.name.endswith("/"):
            continue
        member = f"{subject}!{entry.name}"
        if _unsafe_path(entry.name):
            findings.append(
                finding(
                    RULE_PATH,
                    Severity.MEDIUM,
                    member,
                    f"archive member path leaves the extraction directory: {entry.name!r}",
                    member=entry.name,
                    format="zip",
                )
            )
        try:
            start, local_name = _local_data_start(data, size, entry)
        except ArchiveError as exc:
            findings.append(unscannable(member, f"broken zip member: {exc}", member=entry.name, format="zip"))
            continue
        if local_name != entry.name:
            findings.append(
                finding(
                    RULE_NAME_MISMATCH,
                    Severity.MEDIUM,
                    member,
                    f"local header names this member {local_name!r}, the central directory {entry.name!r}: "
                    "tools disagree on what the archive holds",
                    member=entry.name,
                    local_name=local_name,
                    format="zip",
                )
            )
        placed.append((entry, start, member))
    # Overlapping entries (the overlapping-file zip bomb) are found before anything is inflated;
    # only the first of a group of overlapping members is scanned.
    overlapping = _overlapping(placed)
    if overlapping:
        first, second = overlapping[0]
        findings.append(
            _bomb(subject, f"members {first!r} and {second!r} overlap (overlapping-entry zip bomb)", format="zip")
        )
    skip = {second for _, second in overlapping}
    for entry, start, member in placed:
        if entry.name in skip:
            continue
        if entry.flags & 0x1:
            findings.append(unscannable(member, "encrypted zip member", member=entry.name, format="zip"))
            continue
        raw = Window(data, start, entry.csize)
        hints = {"torchscript": torchscript, "raw_data": torch_zip and "/data/" in f"/{entry.name}"}
        if entry.method == 0:
            findings.extend(recurse(buffered(raw), entry.csize, member, hints=hints, member=entry.name))
            continue
        make = _ZIP_METHODS.get(entry.method)
        if make is None:
            findings.append(
                unscannable(member, f"zip compression method {entry.method}", member=entry.name, format="zip")
            )
            continue
        if entry.usize > budget.max_member:
            findings.append(_bomb(member, f"declares {entry.usize} bytes uncompressed", member=entry.name))
            continue
        stream = Inflate(buffered(raw), entry.csize, make, budget)
        findings.extend(scan_inflated(stream, member, recurse, hints=hints, member=entry.name))
    return findings


_ZIP_METHODS: dict[int, Callable[[], Any]] = {
    8: lambda: zlib.decompressobj(-15),
    12: bz2.BZ2Decompressor,
}


def _local_data_start(data: BinaryIO, size: int, entry: ZipEntry) -> tuple[int, str]:
    if entry.local_offset + 30 > size:
        raise ArchiveError("local header outside the file")
    data.seek(entry.local_offset)
    head = data.read(30)
    if head[:4] != b"PK\x03\x04":
        raise ArchiveError("no local header where the central directory points")
    nlen, elen = struct.unpack("<HH", head[26:30])
    name = data.read(nlen).decode("utf-8" if entry.flags & 0x800 else "cp437", "replace")
    start = entry.local_offset + 30 + nlen + elen
    if start + entry.csize > size:
        raise ArchiveError("member data runs past the end of the file")
    return start, name


def _overlapping(placed: list[tuple[ZipEntry, int, str]]) -> list[tuple[str, str]]:
    """(earlier, later) member names whose data ranges overlap."""
    spans = sorted((start, start + e.csize, e.name) for e, start, _ in placed if e.csize > 0)
    out: list[tuple[str, str]] = []
    end, owner = -1, ""
    for start, stop, name in spans:
        if start < end:
            out.append((owner, name))
        if stop > end:
            end, owner = stop, name
    return out


def scan_inflated(
    stream: Inflate, subject: str, recurse: Recurse, *, hints: dict[str, Any], member: str | None = None
) -> list[Finding]:
    """Decompress once to learn the size (and hit any bomb limit), then scan the stream."""
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return recurse(buffered(stream), size, subject, hints=hints, member=member)


# --- single compressed streams ------------------------------------------------------------------


COMPRESSED: dict[str, tuple[Callable[[], Any], tuple[str, ...]]] = {
    "gzip": (lambda: zlib.decompressobj(31), (".gz", ".gzip", ".tgz")),
    "zlib": (lambda: zlib.decompressobj(15), (".z", ".zlib")),
    "bzip2": (bz2.BZ2Decompressor, (".bz2", ".tbz2")),
    "xz": (lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ), (".xz", ".txz")),
    "lzma": (lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE), (".lzma",)),
}


def scan_compressed(
    fmt: str, data: BinaryIO, size: int, subject: str, budget: Budget, recurse: Recurse
) -> list[Finding]:
    make, suffixes = COMPRESSED[fmt]
    base = subject.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    inner = next((base[: -len(s)] for s in suffixes if base.lower().endswith(s)), "") or "decompressed"
    if base.lower().endswith((".tgz", ".tbz2", ".txz")):
        inner += ".tar"
    stream = Inflate(data, size, make, budget, multi=fmt not in ("zlib", "lzma"))
    return scan_inflated(stream, f"{subject}!{inner}", recurse, hints={}, member=inner)


# --- tar ---------------------------------------------------------------------------------------


def _tar_number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:  # base-256 negative
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = field.replace(b"\0", b" ").strip()
    return int(text, 8) if text else 0


def scan_tar(data: BinaryIO, size: int, subject: str, max_entries: int, recurse: Recurse) -> list[Finding]:
    findings: list[Finding] = []
    pos = 0
    count = 0
    next_name: str | None = None
    next_size: int | None = None
    while pos + 512 <= size:
        data.seek(pos)
        block = data.read(512)
        if block == b"\0" * 512:
            return findings
        chk = sum(block[:148]) + 8 * 32 + sum(block[156:])
        try:
            stored = _tar_number(block[148:156])
            msize = _tar_number(block[124:136])
        except ValueError:
            return [*findings, unscannable(subject, f"bad tar header at offset {pos}", offset=pos, format="tar")]
        if stored != chk:
            return [*findings, unscannable(subject, f"tar header checksum mismatch at offset {pos}", offset=pos)]
        if msize < 0:
            return [*findings, unscannable(subject, f"negative member size at offset {pos}", offset=pos, format="tar")]
        if next_size is not None:
            msize = next_size
        kind = block[156:157]
        name = block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        if block[257:262] == b"ustar" and block[345:500].strip(b"\0"):
            name = block[345:500].split(b"\0", 1)[0].decode("utf-8", "replace") + "/" + name
        if next_name is not None:
            name = next_name
        start = pos + 512
        if start + msize > size:
            return [*findings, unscannable(subject, f"tar member {name!r} runs past the end", format="tar")]
        pos = start + (msize + 511) // 512 * 512
        count += 1
        if count > max_entries:
            return [*findings, _bomb(subject, f"more than {max_entries} entries", format="tar")]
        if kind in (b"x", b"g", b"L", b"K"):
            if msize > MAX_PAX:
                return [*findings, _bomb(subject, f"a {msize}-byte extended header at offset {start}", format="tar")]
            data.seek(start)
            body = data.read(msize)
            if kind == b"x":
                pax = _pax(body)
                next_name = pax.get("path", next_name)
                if "size" in pax:
                    try:
                        next_size = int(pax["size"])
                    except ValueError:
                        return [*findings, unscannable(subject, "bad PAX size", format="tar")]
                    if next_size < 0:
                        return [*findings, unscannable(subject, "negative PAX size", format="tar")]
            elif kind == b"L":
                next_name = body.split(b"\0", 1)[0].decode("utf-8", "replace")
            continue
        next_name = None
        next_size = None
        member = f"{subject}!{name}"
        if _unsafe_path(name):
            findings.append(
                finding(
                    RULE_PATH,
                    Severity.MEDIUM,
                    member,
                    f"archive member path leaves the extraction directory: {name!r}",
                    member=name,
                    format="tar",
                )
            )
        if kind in (b"1", b"2"):
            target = block[157:257].split(b"\0", 1)[0].decode("utf-8", "replace")
            if _unsafe_path(target):
                findings.append(
                    finding(
                        RULE_PATH,
                        Severity.MEDIUM,
                        member,
                        f"archive link points outside the extraction directory: {target!r}",
                        member=name,
                        target=target,
                        format="tar",
                    )
                )
            continue
        if kind in (b"0", b"\0", b"7"):
            findings.extend(recurse(buffered(Window(data, start, msize)), msize, member, hints={}, member=name))
    if pos < size and size - pos >= 512:
        findings.append(unscannable(subject, "tar ends without its end-of-archive blocks", format="tar"))
    return findings


def _pax(body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        space = body.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(body[pos:space])
        except ValueError:
            break
        if length <= 0:
            break
        record = body[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out


# --- numpy -------------------------------------------------------------------------------------


@dataclass
class NpyHeader:
    descr: Any
    shape: tuple[int, ...]
    data_offset: int

    @property
    def has_objects(self) -> bool:
        return "O" in repr(self.descr)

    def data_bytes(self) -> int | None:
        """Bytes the header says the array holds, for a simple dtype (``'<f8'``); None when it
        cannot be told without numpy (structured dtypes) or the shape is not a tuple of ints."""
        import math
        import re

        m = re.fullmatch(r"[<>|=]?[a-zA-Z](\d+)", self.descr) if isinstance(self.descr, str) else None
        if m is None or not all(isinstance(n, int) and n >= 0 for n in self.shape):
            return None
        unit = 4 if self.descr.lstrip("<>|=")[:1] == "U" else 1  # numpy str_ is UCS-4
        return math.prod(self.shape) * int(m.group(1)) * unit


def read_npy_header(data: BinaryIO, size: int) -> NpyHeader:
    data.seek(0)
    head = data.read(12)
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        raise ArchiveError("not a numpy file")
    major = head[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack("<I", head[8:12])
        start = 12
    else:
        raise ArchiveError(f"unknown .npy version {major}")
    if hlen > MAX_NPY_HEADER or start + hlen > size:
        raise ArchiveError("header larger than the file or the limit")
    data.seek(start)
    text = data.read(hlen).decode("utf-8" if major == 3 else "latin-1", "replace")
    import ast  # only .npy headers need it

    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ArchiveError("header is not a Python literal") from None
    if not isinstance(header, dict) or "descr" not in header or not isinstance(header.get("shape"), tuple):
        raise ArchiveError("header lacks descr or shape")
    return NpyHeader(header["descr"], header["shape"], start + hlen)
