"""Writing an output file whole or not at all: reports, evidence records, attestations and the
saved policy input are written to a temporary file beside the destination, flushed to disk
(fsync) and renamed over it. A disk that fills up, a size limit or a permission problem fails
the write with ``ScanError`` naming the destination, and the destination keeps what it held.

A destination that exists and is no regular file (``/dev/stdout``, a pipe, a terminal) cannot be
replaced: it is written in place (and a write error there fails the same way)."""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import ScanError


def write_atomic(path: str | Path, chunks: Iterable[str], what: str = "report", *, sync_folder: bool = True) -> Path:
    """Write the concatenated ``chunks`` (UTF-8) to ``path``; returns the path written.
    ``sync_folder=False`` leaves the folder's fsync (which makes the rename durable) to the
    caller — one ``sync_folder(path.parent)`` after many files instead of one per file. The file
    itself is flushed to disk before the rename either way (whole or not at all)."""
    staged = stage(path, chunks, what)
    staged.commit(sync_folder=sync_folder)
    return staged.path


@dataclass
class Staged:
    """A file written in full beside its destination (``temporary``, flushed to disk) and not
    yet in place: ``commit`` renames it over the destination, ``discard`` removes it. A
    destination that is no regular file was written in place already (``temporary`` is None)."""

    path: Path
    temporary: Path | None
    what: str
    done: str | None = None  # said (``ui.info``) once the file is in place
    placed: Path | None = None  # the regular file the rename put in place (the link's target)

    def commit(self, *, sync_folder: bool = True) -> None:
        if self.temporary is None:
            self._say()
            return
        destination = Path(os.path.realpath(self.path))
        try:
            os.replace(self.temporary, destination)
        except OSError as exc:
            self.discard()
            raise ScanError(f"cannot write {self.what}: {exc.strerror or exc}", self.path) from None
        self.temporary = None
        self.placed = destination
        if sync_folder:
            _sync_directory(destination.parent)
        self._say()

    def _say(self) -> None:
        if self.done:
            from scanner import ui

            ui.info(self.done)
            self.done = None

    def discard(self) -> None:
        if self.temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temporary)
            self.temporary = None


def stage(path: str | Path, chunks: Iterable[str], what: str = "report", done: str | None = None) -> Staged:
    """Write ``chunks`` to a temporary file beside ``path`` (fsync'd, permissions as the
    destination's or the umask's); ``commit`` puts it in place and says ``done``."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        resolved = Path(os.path.realpath(target))
        try:
            mode: int | None = os.stat(resolved).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            _write_in_place(resolved, chunks)
            return Staged(target, None, what, done)
        temporary = _write_temporary(resolved, chunks, None if mode is None else stat.S_IMODE(mode))
        return Staged(target, temporary, what, done)
    except OSError as exc:
        raise ScanError(f"cannot write {what}: {exc.strerror or exc}", target) from None


def _write_in_place(path: Path, chunks: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(chunk)
        fh.flush()


def _write_temporary(path: Path, chunks: Iterable[str], mode: int | None) -> Path:
    import tempfile  # (a batch run answered from the cache writes through Folder only)

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            _write_chunks(fd, chunks)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


class Folder:
    """Many files written whole into one folder (a batch run's evidence records): the folder is
    opened once and each file is written under a temporary name and renamed relative to it — no
    path lookup per file, and a folder replaced by a link during the run is not followed. A name
    that exists is replaced as a directory entry: a link planted there is replaced, never written
    through. A reader, or a crash of this process, never sees a partial file under its name, and
    no temporary file is left behind by an error or an interrupt (Ctrl-C).

    ``durable`` also waits for the disk (each file flushed before its rename, the renames
    synced): what a ledger entry is about to name. Without it the flush is left to the system —
    a flush per file costs more than encoding and writing a small record, and on a busy disk
    several milliseconds each (measured in ``docs/batch.md``). ``stage`` + ``commit`` put many
    files in place together: one flush of the file system (``sync_filesystem``) or, where that
    is not safe or cheap, the files' own flushes overlapping (``FLUSHERS`` at a time), and the
    folder synced once. Until ``settle`` they can be withdrawn (``discard``): the files of a group whose
    ledger entries were rolled back must not stay, naming entries that do not exist."""

    FLUSHERS = 8

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._names = itertools.count()
        self._staged: list[tuple[str, str, int]] = []  # (temporary, name, inode): not yet in place
        self._placed: list[tuple[str, int]] = []  # (name, inode): put in place, not yet settled
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise ScanError(f"cannot create the folder for {what}s: {exc.strerror or exc}", path) from None

    def write(self, name: str, chunks: Iterable[str], *, durable: bool) -> Path:
        """``chunks`` (UTF-8) as the file ``name``, whole or not at all; on disk on return when
        ``durable``."""
        pending: list[tuple[str, str, int]] = []
        try:
            self._temporary(name, chunks, flush=durable, into=pending)
            self._place(pending, [])
        finally:
            self._unlink(temporary for temporary, _, _ in pending)  # (none once it is in place)
        if durable:
            self._sync()
        return self.path / name

    def stage(self, name: str, chunks: Iterable[str]) -> Path:
        """``chunks`` written beside ``name``, in place after the next ``commit``."""
        self._temporary(name, chunks, flush=False, into=self._staged)
        return self.path / name

    def commit(self, *, durable: bool) -> None:
        """Every staged file put in place (flushed to disk first when ``durable``) — all of them,
        or on an error none: the ones put in place already are removed again."""
        if not self._staged:
            return
        try:
            if durable:
                temporaries = [temporary for temporary, _, _ in self._staged]
                try:
                    if len(temporaries) == 1:
                        self._flush(temporaries[0])
                    elif sync_filesystem(self._fd):
                        pass  # every staged file is on disk: one flush of the file system
                    else:
                        from concurrent.futures import ThreadPoolExecutor

                        with ThreadPoolExecutor(min(self.FLUSHERS, len(temporaries))) as pool:
                            list(pool.map(self._flush, temporaries))
                except OSError as exc:
                    raise ScanError(f"cannot write {self.what}s: {exc.strerror or exc}", self.path) from None
            self._place(self._staged, self._placed)
        except BaseException:
            self.discard()
            raise
        if durable:
            self._sync()

    def settle(self) -> None:
        """The files put in place by ``commit`` stay (what names them was recorded)."""
        self._placed = []

    def discard(self) -> None:
        """Remove the staged files, and withdraw those put in place since the last ``settle``
        (each only while it is still the file written here: a name whose rename failed keeps
        what it held)."""
        staged, self._staged = self._staged, []
        placed, self._placed = self._placed, []
        self._unlink(temporary for temporary, _, _ in staged)
        for name, inode in placed:
            with contextlib.suppress(OSError):
                if os.stat(name, dir_fd=self._fd, follow_symlinks=False).st_ino == inode:
                    os.unlink(name, dir_fd=self._fd)

    def close(self) -> None:
        """Staged files never committed are removed (files put in place are left as they are)."""
        staged, self._staged, self._placed = self._staged, [], []
        self._unlink(temporary for temporary, _, _ in staged)
        os.close(self._fd)

    def _temporary(self, name: str, chunks: Iterable[str], *, flush: bool, into: list[tuple[str, str, int]]) -> None:
        """Write the temporary file for ``name``, listed in ``into`` as soon as it exists (so that
        an interrupt while it is written leaves it to be removed); an error removes it."""
        temporary = f".{name}.{os.getpid()}-{next(self._names)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(temporary, flags, 0o666, dir_fd=self._fd)  # the umask applies
        except OSError as exc:
            raise ScanError(f"cannot write {self.what}: {exc.strerror or exc}", self.path / name) from None
        entry = (temporary, name, os.fstat(fd).st_ino)
        into.append(entry)
        try:
            _write_chunks(fd, chunks)
            if flush:
                os.fsync(fd)
        except BaseException as exc:
            into.remove(entry)
            self._unlink([temporary])
            if isinstance(exc, OSError):
                raise ScanError(f"cannot write {self.what}: {exc.strerror or exc}", self.path / name) from None
            raise
        finally:
            os.close(fd)

    def _flush(self, temporary: str) -> None:
        fd = os.open(temporary, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), dir_fd=self._fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _place(self, pending: list[tuple[str, str, int]], placed: list[tuple[str, int]]) -> None:
        """Rename ``pending`` into place in order, moving each to ``placed`` (listed there before
        its rename: an interrupt just after it must not leave it unlisted)."""
        while pending:
            temporary, name, inode = pending[0]
            placed.append((name, inode))
            try:
                os.replace(temporary, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            except OSError as exc:
                raise ScanError(f"cannot write {self.what}: {exc.strerror or exc}", self.path / name) from None
            del pending[0]

    def _sync(self) -> None:
        with contextlib.suppress(OSError):  # best effort: not every file system allows it
            os.fsync(self._fd)

    def _unlink(self, temporaries: Iterable[str]) -> None:
        for temporary in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self._fd)


def _write_chunks(fd: int, chunks: Iterable[str]) -> None:
    """``chunks`` as UTF-8 to the descriptor ``fd`` (left open); one string is written as it is,
    without a text layer."""
    if isinstance(chunks, (list, tuple)) and len(chunks) == 1:
        view = memoryview(chunks[0].encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
        return
    with open(fd, "w", encoding="utf-8", closefd=False) as fh:
        for chunk in chunks:
            fh.write(chunk)


def sync_folder(folder: Path) -> None:
    """Make the renames done in ``folder`` durable (see ``write_atomic(sync_folder=False)``)."""
    _sync_directory(folder)


def _sync_directory(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Waiting for the file system flushes other programs' unwritten data too: only when there is
# little of it (``Dirty`` + ``Writeback`` in /proc/meminfo, over every file system) is that
# cheaper than a flush per file.
SYNCFS_MAX_UNWRITTEN = 16 << 20

# File systems (``statfs`` magic) whose ``syncfs`` writes every file's data to the disk and
# commits it, like a file's own flush: ext2/3/4, XFS, Btrfs, F2FS — and tmpfs, where neither
# writes anything. Elsewhere it can succeed with the files not durable: a FUSE or 9p mount's
# server is never asked to flush (a file's fsync asks it), nor a CIFS server, and overlayfs hands
# it to the file system beneath, whose write errors it has not always reported. Those, and any
# file system not named here, are flushed file by file.
SYNCFS_FILE_SYSTEMS = frozenset({0xEF53, 0x58465342, 0x9123683E, 0xF2F52010, 0x01021994})


def sync_filesystem(fd: int) -> bool:
    """Flush the whole file system holding ``fd`` to disk at once (Linux ``syncfs``), when that
    is safe and cheap: True when done, False to flush file by file instead. A group of new small
    files costs one journal commit this way instead of one per file (120 evidence records: 2 ms
    instead of 12 ms on a quiet disk, ``benchmarks/records_flush.py``). Only on Linux 5.8 or
    later, where ``syncfs`` reports a write error of the file system (before, it returned success
    regardless), only on a file system whose ``syncfs`` writes every file to the disk
    (``SYNCFS_FILE_SYSTEMS``), and only while little unwritten data is waiting system-wide (a
    program writing gigabytes elsewhere would make this wait for all of it). Raises OSError when
    the flush fails."""
    libc = _syncfs()
    if libc is None or _file_system(libc, fd) not in SYNCFS_FILE_SYSTEMS:
        return False
    if _unwritten_bytes() > SYNCFS_MAX_UNWRITTEN:
        return False
    if libc.syncfs(fd) != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return True


_SYNCFS: list[Any] = []  # [libc (its syncfs and fstatfs) or None], looked up on first use


def _syncfs() -> Any:
    if not _SYNCFS:
        _SYNCFS.append(_find_syncfs())
    return _SYNCFS[0]


def _find_syncfs() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return None
    if (major, minor) < (5, 8):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
        libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]
    except (OSError, AttributeError, ImportError):  # (a Python without ctypes: file by file)
        return None
    libc.syncfs.restype = libc.fstatfs.restype = ctypes.c_int
    return libc


def _file_system(libc: Any, fd: int) -> int | None:
    """The type (``f_type``, a magic number) of the file system holding ``fd``, or None."""
    import ctypes

    buffer = ctypes.create_string_buffer(512)  # a ``struct statfs`` (120 bytes on 64-bit Linux)
    if libc.fstatfs(fd, buffer) != 0:
        return None
    # ``f_type`` comes first, a long (an int on s390x: read as a long there it matches no magic)
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


def _unwritten_bytes() -> int:
    """Data written by any program and not yet on disk (kB figures of /proc/meminfo); when it
    cannot be read, more than any limit."""
    total = 0
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith((b"Dirty:", b"Writeback:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 1 << 62
    return total


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
