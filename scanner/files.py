"""Walking and hashing files safely: streamed, never following a link out of the scanned root."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
PROGRESS_BYTES = 256 << 20  # show a progress bar above this much data
_digest_cache: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks; cached per (path, size, mtime) so the
    inventory, the checks and the evidence record hash each file once per run. ``on_bytes``
    is told how many bytes each chunk had (for progress bars)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    cached = _digest_cache.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:  # readinto one buffer: no allocation per chunk
        while n := fh.readinto(buf):
            h.update(view[:n])
            if on_bytes is not None:
                on_bytes(n)
    digest = h.hexdigest()
    _digest_cache[key] = digest
    return digest


@dataclass(frozen=True)
class FileEntry:
    """A file found under a root. ``escapes`` is true for a symlink whose target leaves the root
    (it is reported, never read); ``rel`` uses forward slashes."""

    rel: str
    path: Path
    is_symlink: bool = False
    escapes: bool = False


def walk(root: Path) -> Iterator[FileEntry]:
    """Every regular file (and every symlink) below ``root``, sorted, without following
    directory links. A single file yields itself."""
    if root.is_file() or (root.is_symlink() and not root.is_dir()):
        yield _entry(root.parent, root)
        return
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        # A directory symlink is not descended into; it is reported like a file link.
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                filenames.append(d)
        for name in sorted(filenames):
            yield _entry(real_root, here / name, root)


def _entry(real_root: Path, path: Path, shown_root: Path | None = None) -> FileEntry:
    base = shown_root if shown_root is not None else real_root
    rel = path.relative_to(base).as_posix() if shown_root is not None else path.name
    if not path.is_symlink():
        return FileEntry(rel, path)
    try:
        target = path.resolve(strict=False)
        escapes = not target.is_relative_to(real_root.resolve())
    except (OSError, RuntimeError):  # link loops
        escapes = True
    return FileEntry(rel, path, is_symlink=True, escapes=escapes)


def directory_digest(root: Path) -> str:
    """``sha256:`` over the sorted ``rel\\0sha256\\n`` lines of every readable in-tree file,
    with a progress bar on stderr when there is much to hash."""
    from scanner import ui

    entries = [e for e in walk(root) if not e.escapes and e.path.is_file()]
    total = sum(e.path.stat().st_size for e in entries)
    h = hashlib.sha256()
    with ui.progress() as bar:
        task = bar.add_task(f"hashing {root.name}", total=total) if total > PROGRESS_BYTES else None

        def advance(n: int) -> None:
            if task is not None:
                bar.advance(task, n)

        for entry in entries:
            h.update(os.fsencode(entry.rel) + f"\0{sha256_file(entry.path, advance)}\n".encode())
    return "sha256:" + h.hexdigest()
