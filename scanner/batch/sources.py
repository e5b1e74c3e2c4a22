"""The artifacts of a batch: SOURCE arguments and the lines of ``--from FILE``.

A source is a local path or an ``oci://`` reference. Local paths are made absolute against the
driver's working directory (a worker may run elsewhere: on a Dask cluster the path must exist on
the workers, see docs/batch.md). ``oci://`` references are passed on as written: each worker pulls
the artifact itself, so no shared filesystem is assumed for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from scanner.errors import ScanError

OCI_PREFIX = "oci://"
MAX_LIST_BYTES = 64 << 20
MAX_SOURCES = 1_000_000


def is_oci(source: str) -> bool:
    return source.startswith(OCI_PREFIX)


def normalise(source: str, *, expand_user: bool = True) -> str:
    if is_oci(source):
        return source
    return os.path.abspath(os.path.expanduser(source) if expand_user else source)


def read_list(path: Path) -> list[str]:
    """One source per line; empty lines and lines starting with ``#`` are skipped. ``-`` is
    stdin.

    A line is taken as written: lists are often made by listing directories whose names the
    artifacts' authors chose, and such a name may end in a space or hold a Unicode line or
    paragraph separator. Lines end at ``\n`` only (and one ``\r`` before it), nothing is
    stripped, and ``~`` is not expanded: a name that differs from another only by trailing
    space is judged as itself, never folded onto its neighbour, nor split into other paths."""
    import sys

    from scanner.safeio import read_bounded

    if str(path) == "-":
        raw = sys.stdin.buffer.read(MAX_LIST_BYTES + 1)
        if len(raw) > MAX_LIST_BYTES:
            raise ScanError(f"source list larger than {MAX_LIST_BYTES} bytes", "-")
    else:
        raw = read_bounded(path, MAX_LIST_BYTES, what="source list")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScanError(f"source list is not UTF-8 (byte {exc.start})", path) from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return [line for line in lines if line and not line.startswith("#")]


def collect(arguments: Iterable[str], lists: Iterable[Path]) -> list[str]:
    """Sources in the order given, duplicates (after normalisation) dropped."""
    seen: dict[str, None] = {}
    items = [*((a, True) for a in arguments), *((line, False) for p in lists for line in read_list(p))]
    for item, expand_user in items:
        if "\0" in item:
            raise ScanError("a source contains a NUL byte", repr(item[:80]))
        seen.setdefault(normalise(item, expand_user=expand_user), None)
        if len(seen) > MAX_SOURCES:
            raise ScanError(f"more than {MAX_SOURCES} sources")
    if not seen:
        raise ScanError("no artifacts given (SOURCE arguments or --from FILE)")
    return list(seen)
