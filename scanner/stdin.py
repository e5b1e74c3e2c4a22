"""``-`` (and ``/dev/stdin``) as an input: what a pipe brings is read once, within a bound, into a
private temporary file, and that file is the artifact — so content sniffing and the readers see
the same bytes, and nothing is consumed twice from a stream that cannot be re-read. The readers
read that file; every output calls it ``stdin`` (``SHOWN``; ``stdin:3`` for its third line) and
never names the temporary folder (``scanner.core.Artifact.show``, decided where the pipeline
opens the input)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from scanner.core import ScanError

NAMES = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")
SHOWN = "stdin"  # what outputs call piped content
LIMIT = 1 << 30  # 1 GiB: an SBOM or a requirements file, not a model estate
CHUNK = 1 << 20


def is_stdin(source: object) -> bool:
    return isinstance(source, (str, Path)) and str(source) in NAMES


def read_all(stream: BinaryIO | None = None, limit: int = LIMIT) -> bytes:
    """Everything on stdin, refusing more than ``limit`` bytes and an empty stream."""
    stream = stream if stream is not None else sys.stdin.buffer
    chunks, total = [], 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise ScanError(f"more than {limit} bytes on standard input", "-")
        chunks.append(chunk)
    if not total:
        raise ScanError("standard input is empty", "-")
    return b"".join(chunks)


@contextlib.contextmanager
def as_file(name: str = SHOWN) -> Iterator[Path]:
    """stdin saved to ``<private dir>/<name>`` (mode 0600), removed afterwards."""
    data = read_all()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="scanner-stdin-") as work:
        path = Path(work) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        yield path
