"""The files of an artifact, each opened once: walked without being tricked by links or special
files, hashed from the descriptor its scanners then read, so a digest is of the bytes examined.

``walk`` lists what lies under a root. A link is followed only while it stays inside the
*declared root* (``declared_root``: the scanned path, or the ``models--org--name`` folder of a
Hugging Face hub cache when a snapshot inside it is scanned); a link leaving it, a link loop, a
dangling link and a FIFO, socket or device are listed with their ``problem`` and never read.

``FileSet`` is one run's view of one artifact (a per-run cache, passed explicitly): ``open_each``
opens every readable file through ``scanner.safeio.open_regular``, hashes it from that descriptor
and hands the same descriptor to the caller; after the caller has read it, the descriptor's
size, times and inode are compared with what they were at open (a file rewritten meanwhile stops
the run, exit 2). A file replaced by another one after it was opened changes nothing: the
descriptor still reads the bytes that were hashed. ``artifact_digest`` assembles the artifact
digest from the per-file digests.

A single file can name other files its reader reads with it (a requirements file's ``-r``
includes): ``members`` (given by whoever knows the reader, ``scanner.artifact.file_set``) finds
them by reading through ``read_bytes``. Each is then an entry like a directory's file (``rel``
from the named file's folder), hashed once, listed, and covered by the artifact digest; a later
read of any of them must give the bytes first hashed (``FileChanged`` otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from scanner.errors import ScanError
from scanner.safeio import describe_mode, open_regular, read_upto

CHUNK = 1 << 20
PROGRESS_BYTES = 256 << 20  # show a progress bar above this much data

# FileEntry.problem values: why an entry is listed but never read
ESCAPES = "escapes"  # a link whose target leaves the declared root
LOOP = "loop"  # a link that resolves to itself or to a directory above it
DANGLING = "dangling"  # a link to nothing
SPECIAL = "special"  # a FIFO, socket or device (reading one can block forever)
DIR_LINK = "dir-link"  # a link to a directory walked elsewhere in the tree: its files are read there


def sha256_stream(fh: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Hex SHA-256 and length of everything ``fh`` holds from where it stands, read in 1 MiB
    chunks into one buffer (no allocation per chunk)."""
    h = hashlib.sha256()
    try:  # a small file needs no 1 MiB buffer (allocating one costs more than hashing it)
        size = os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        size = CHUNK
    buf = bytearray(min(CHUNK, max(size, 0) + 1))
    view = memoryview(buf)
    total = 0
    while n := fh.readinto(buf):  # type: ignore[attr-defined]
        h.update(view[:n])
        total += n
        if on_bytes is not None:
            on_bytes(n)
    return h.hexdigest(), total


def sha256_file(path: str | Path, *, follow: bool = True) -> str:
    """Hex SHA-256 of one regular file (never a FIFO or device), uncached. For files that are not
    part of the artifact (policies, waivers, data): an artifact's files come from its FileSet."""
    with open_regular(path, follow=follow) as fh:
        return sha256_stream(fh)[0]


@dataclass(frozen=True)
class FileEntry:
    """A file found under a root. ``rel`` uses forward slashes (``os.fsdecode`` of the bytes:
    names that are not UTF-8 keep their bytes as surrogates). ``problem`` is ``None`` for a
    readable file (a regular file, or a link to one inside the declared root), else one of
    ``ESCAPES``, ``LOOP``, ``DANGLING``, ``SPECIAL``, ``DIR_LINK``; ``detail`` is the link target
    or what kind of special file it is. ``ident`` is the (device, inode) the walk saw, checked
    again on the opened descriptor."""

    rel: str
    path: Path
    is_symlink: bool = False
    problem: str | None = None
    detail: str = ""
    ident: tuple[int, int] | None = None

    @property
    def escapes(self) -> bool:
        return self.problem == ESCAPES

    @property
    def readable(self) -> bool:
        return self.problem is None


def declared_root(path: Path) -> Path:
    """The folder links may point into: the scanned path itself, except for a Hugging Face hub
    cache, whose snapshot files are links into ``../../blobs/`` — a path under the
    ``snapshots/`` folder of a ``models--org--name`` folder declares that folder."""
    return _declared_of(path.resolve())


def _declared_of(real: Path) -> Path:
    """``declared_root`` of a path already resolved."""
    for parent in real.parents:
        if parent.name == "snapshots" and parent.parent.name.startswith("models--"):
            return parent.parent
    return real


def leaves(path: Path, root: Path) -> bool:
    """``path`` (its links followed) lies outside ``root`` (already resolved), or cannot be
    resolved: a reader of the artifact must not read it (the walk lists it as a problem)."""
    try:
        return not path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return True


def walk(
    root: Path,
    declared: Path | None = None,
    before_list: Callable[[Path], None] | None = None,
    empty_dirs: list[str] | None = None,
    resolved: tuple[Path, Path] | None = None,
) -> Iterator[FileEntry]:
    """Every entry below ``root``, sorted by name, directories depth first. A single file yields
    itself (a link named on the command line is followed: it was asked for). ``declared`` is the
    root links may point into (default ``declared_root(root)``). ``resolved``: the directory
    ``root`` and the declared root with their links followed, when the caller has them already
    (``FileSet`` resolves each once).

    Directories are opened and listed through descriptors, each child looked up relative to its
    parent's descriptor without following links, and a directory's descriptor must be the
    directory its parent listed: one swapped for a link meanwhile (to a folder outside, or to
    ``/``) is never listed through the link (``FileChanged``, exit 2). ``before_list`` is a test
    hook called with each directory right before it is opened. ``empty_dirs``, when given,
    collects the ``rel`` of every folder below ``root`` that holds nothing at all."""
    if not root.is_dir():
        yield _single(root)
        return
    if resolved is not None:
        tree, real_root = resolved
    else:
        real_root = (declared or declared_root(root)).resolve()
        tree = root.resolve()
    ident = _ident(tree)
    state = _Walk(real_root, tree, before_list, empty_dirs)
    with _opened_dir(str(root), None, root, ident, True, before_list) as fd:
        yield from _walk_dir(state, fd, root, "", (ident,))


def _single(path: Path) -> FileEntry:
    is_link = path.is_symlink()
    try:
        st = path.stat()
    except FileNotFoundError:
        return FileEntry(path.name, path, is_link, DANGLING, _readlink(path))
    except (OSError, RuntimeError):
        return FileEntry(path.name, path, is_link, LOOP, _readlink(path))
    if not stat.S_ISREG(st.st_mode):
        return FileEntry(path.name, path, is_link, SPECIAL, describe_mode(st.st_mode))
    return FileEntry(path.name, path, is_link, ident=(st.st_dev, st.st_ino))


_REPLACED = "was replaced while the artifact was being read"
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def _opened_dir(
    name: str,
    dir_fd: int | None,
    shown: Path,
    ident: tuple[int, int],
    follow: bool,
    before_list: Callable[[Path], None] | None,
) -> Iterator[int]:
    """A descriptor of the directory ``name`` (relative to ``dir_fd``), which must be the one with
    ``ident``. ``follow`` false: a link there now is refused, never followed."""
    if before_list is not None:
        before_list(shown)
    flags = _DIR_FLAGS if follow else _DIR_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            raise FileChanged(_REPLACED, shown) from None
        raise ScanError(exc.strerror or str(exc), shown) from None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != ident:
            raise FileChanged(_REPLACED, shown)
        yield fd
    finally:
        os.close(fd)


@dataclass
class _Walk:
    """What stays the same through one walk: the declared root (resolved) links may point into,
    the scanned tree (resolved), the folders of the declared root already walked through a link,
    the test hook, and where empty folders are collected (if anywhere)."""

    real_root: Path
    tree: Path
    before_list: Callable[[Path], None] | None
    empty_dirs: list[str] | None
    seen: set[tuple[int, int]] = field(default_factory=set)


def _walk_dir(
    state: _Walk, dir_fd: int, here: Path, prefix: str, ancestors: tuple[tuple[int, int], ...]
) -> Iterator[FileEntry]:
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as exc:
        raise ScanError(exc.strerror or str(exc), here) from None
    if not names and prefix and state.empty_dirs is not None:
        state.empty_dirs.append(prefix.rstrip("/"))
    for name in names:
        path = here / name
        rel = prefix + name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue  # removed while walking
        ident = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            with _opened_dir(name, dir_fd, path, ident, False, state.before_list) as fd:
                yield from _walk_dir(state, fd, path, rel + "/", (*ancestors, ident))
        elif stat.S_ISREG(st.st_mode):
            yield FileEntry(rel, path, ident=ident)
        elif stat.S_ISLNK(st.st_mode):
            yield from _link(state, dir_fd, name, path, rel, ancestors)
        else:
            yield FileEntry(rel, path, problem=SPECIAL, detail=describe_mode(st.st_mode))


def _link(
    state: _Walk, dir_fd: int, name: str, path: Path, rel: str, ancestors: tuple[tuple[int, int], ...]
) -> Iterator[FileEntry]:
    real_root, tree, seen = state.real_root, state.tree, state.seen
    shown = _readlink(path)
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        yield FileEntry(rel, path, True, DANGLING, shown)
        return
    except (OSError, RuntimeError):  # ELOOP: the link resolves through itself
        yield FileEntry(rel, path, True, LOOP, shown)
        return
    if not target.is_relative_to(real_root):
        yield FileEntry(rel, path, True, ESCAPES, shown)
        return
    try:
        st = target.stat()
    except OSError:
        yield FileEntry(rel, path, True, DANGLING, shown)
        return
    ident = (st.st_dev, st.st_ino)
    if stat.S_ISREG(st.st_mode):
        yield FileEntry(rel, path, True, detail=shown, ident=ident)
    elif not stat.S_ISDIR(st.st_mode):
        yield FileEntry(rel, path, True, SPECIAL, describe_mode(st.st_mode))
    elif ident in ancestors or tree.is_relative_to(target):  # a folder above it: no end
        yield FileEntry(rel, path, True, LOOP, shown)
    elif target.is_relative_to(tree) or ident in seen:
        yield FileEntry(rel, path, True, DIR_LINK, shown)  # its files are read where they are
    else:
        # a folder of the declared root outside the scanned tree: walked once, through the link
        # (its descriptor must be the folder checked to lie inside the root)
        seen.add(ident)
        with _opened_dir(name, dir_fd, path, ident, True, state.before_list) as fd:
            yield from _walk_dir(state, fd, path, rel + "/", (*ancestors, ident))


def _ident(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino)


def _readlink(path: Path) -> str:
    try:
        return os.fsdecode(os.readlink(path))
    except OSError:
        return "?"


@dataclass(frozen=True)
class FileDigest:
    """What one file of the artifact held when it was read."""

    rel: str
    sha256: str
    size: int


class FileChanged(ScanError):
    """A file was rewritten while it was being read: its digest would not be of what was judged."""


class OpenedFile:
    """One readable entry, opened once. ``digest`` is of every byte the descriptor holds (taken
    when it was opened); ``fh`` is positioned at 0 for the caller."""

    def __init__(self, entry: FileEntry, fh: BinaryIO, digest: FileDigest, before: os.stat_result) -> None:
        self.entry = entry
        self.fh = fh
        self.digest = digest
        self._before = before

    @property
    def size(self) -> int:
        return self.digest.size

    def recheck(self) -> None:
        """Raise ``FileChanged`` when the descriptor's file changed since it was opened."""
        after = os.fstat(self.fh.fileno())
        if not _same(self._before, after) or after.st_size != self.digest.size:
            raise FileChanged(
                "changed while it was being read: its digest would not be of what was examined", self.entry.path
            )


_CHANGED = "changed while it was being read: its digest would not be of what was examined"


def _fingerprint(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file's bytes change. The change time also moves when the name is
    unlinked or replaced (the bytes behind the descriptor are intact then), so it counts only while
    the link count is the same."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_nlink, st.st_ctime_ns)


def _same(before: os.stat_result, after: os.stat_result) -> bool:
    a, b = _fingerprint(before), _fingerprint(after)
    if a[4] != b[4]:  # unlinked or linked meanwhile
        return a[:4] == b[:4]
    return a == b


class FileSet:
    """The files of one artifact in one run, each hashed once (a per-run cache: never shared
    between runs). ``after_open`` is a test hook called with each entry right after its file was
    opened, ``before_list`` one called with each directory right before the walk opens it (to
    replace the file or the directory at the worst moment). ``members`` (a single file only)
    returns the other files read with it, reading each through ``read_bytes`` (module doc).
    ``show`` names its files in outputs (``scanner.core.Artifact.show``)."""

    def __init__(
        self,
        root: Path,
        declared: Path | None = None,
        *,
        after_open: Callable[[FileEntry], None] | None = None,
        before_list: Callable[[Path], None] | None = None,
        members: Callable[[FileSet], object] | None = None,
        show: Callable[[Path], str] = str,
    ) -> None:
        self.root = root
        self.show = show  # how outputs name a file of it (``Artifact.show``: piped content is "stdin")
        self.is_dir = root.is_dir()
        # a directory's path with its links followed, resolved once (``real_root``)
        self.real_root: Path | None = root.resolve() if self.is_dir else None
        if declared is not None:
            self.declared: Path | None = declared
            self._real_declared = declared.resolve() if self.is_dir else None
        else:
            self.declared = self._real_declared = _declared_of(self.real_root) if self.real_root else None
        self._after_open = after_open
        self._before_list = before_list
        self._members = None if self.is_dir else members
        self._member_rels: set[str] = set()
        self._finding_members = False
        self._entries: list[FileEntry] | None = None
        self._empty_dirs: list[str] = []
        self._digests: dict[str, FileDigest] = {}
        self._by_ident: dict[tuple[int, int], str] = {}

    def members(self) -> list[str]:
        """The ``rel`` of every file read with the single named file (none for a directory)."""
        return [e.rel for e in self.entries if e.rel in self._member_rels]

    @property
    def reads_members(self) -> bool:
        """A single file whose reader reads other files with it, through ``read_bytes`` (its
        digest covers them as soon as there are any)."""
        return self._members is not None

    def escaping_under(self, rel: str) -> list[FileEntry]:
        """Entries at or below ``rel`` (a relative folder) that the walk did not read because
        they link out of the declared root (or nowhere, or into a loop)."""
        prefix = rel.rstrip("/") + "/"
        return [
            e
            for e in self.entries
            if e.problem in (ESCAPES, DANGLING, LOOP) and (e.rel == rel or e.rel.startswith(prefix))
        ]

    @property
    def empty_folders(self) -> list[str]:
        """The ``rel`` of every folder below a directory's root that holds nothing (they count in
        ``artifact_digest``)."""
        _ = self.entries
        return list(self._empty_dirs)

    @property
    def entries(self) -> list[FileEntry]:
        if self._entries is None:
            try:
                resolved = (self.real_root, self._real_declared) if self.real_root and self._real_declared else None
                self._entries = list(walk(self.root, self.declared, self._before_list, self._empty_dirs, resolved))
            except RecursionError:  # one generator frame per folder level: deeper than Python goes
                raise ScanError("folders nested too deep to walk: not scanned", self.root) from None
            if self._members is not None and self._entries and self._entries[0].readable:
                self._finding_members = True
                try:
                    self._members(self)  # adds an entry for each member it reads
                finally:
                    self._finding_members = False
        return self._entries

    def read_bytes(self, path: Path, limit: int, *, what: str = "file") -> bytes:
        """The whole content (at most ``limit`` bytes, ``TooLarge`` past it) of the named file or
        of a member, read from one descriptor that is hashed: the first read records the digest
        (a member is added while ``members`` runs; a file that is neither is refused), a later
        read must hash the same (``FileChanged``). A member is never reached through a link."""
        from scanner.safeio import TooLarge

        entries = self.entries
        root = entries[0]
        rel = root.rel if path == self.root else os.path.relpath(path, self.root.parent).replace(os.sep, "/")
        entry = root if rel == root.rel and path == self.root else next((e for e in entries if e.rel == rel), None)
        if entry is None and (not self._finding_members or rel.startswith("../") or rel == ".."):
            raise ScanError(f"{what} is not part of the artifact: not read", path)
        with open_regular(path, follow=entry is root) as fh:
            before = os.fstat(fh.fileno())
            ident = (before.st_dev, before.st_ino)
            if entry is not None and entry.ident is not None and ident != entry.ident:
                raise FileChanged(_REPLACED, path)
            if before.st_size > limit:
                raise TooLarge(f"{what} is larger than {limit} bytes: not read", path)
            data = read_upto(fh, limit)
            if len(data) > limit:
                raise TooLarge(f"{what} is larger than {limit} bytes: not read", path)
            after = os.fstat(fh.fileno())
        if not _same(before, after) or after.st_size != len(data):
            raise FileChanged(_CHANGED, path)
        if entry is None:
            entry = FileEntry(rel, path, ident=ident)
            entries.append(entry)
            self._member_rels.add(rel)
        digest = FileDigest(entry.rel, hashlib.sha256(data).hexdigest(), len(data))
        self._record(entry, digest, path)
        self._by_ident[ident] = entry.rel
        return data

    def _record(self, entry: FileEntry, digest: FileDigest, path: Path) -> None:
        """Keep a file's digest; one read before with other bytes means it changed during the run."""
        known = self._digests.get(entry.rel)
        if known is not None and known != digest:
            raise FileChanged(_CHANGED, path)
        self._digests[entry.rel] = digest

    def open_each(self, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[FileEntry, OpenedFile | None]]:
        """Every entry; readable ones opened, hashed and rewound (``None`` for the others). The
        descriptor is checked and closed when the caller asks for the next entry. Without
        ``on_bytes``, a progress bar on stderr when there is much to read (one large checkpoint
        as well as many files)."""
        if on_bytes is None:
            total = self._to_read([e for e in self.entries if e.readable and e.rel not in self._digests])
            if total > PROGRESS_BYTES:
                from scanner import ui

                with ui.progress() as bar:
                    task = bar.add_task(f"reading {self.root.name}", total=total)
                    yield from self._open_each(lambda n: bar.advance(task, n))
                return
        yield from self._open_each(on_bytes)

    @staticmethod
    def _to_read(entries: list[FileEntry]) -> int:
        """How many bytes ``entries`` hold, when a progress bar could show them (0 otherwise:
        no ``stat`` per file for a bar that is never drawn)."""
        from scanner import ui

        return sum(_size(e.path) for e in entries) if ui.progress_enabled() else 0

    def _open_each(self, on_bytes: Callable[[int], None] | None) -> Iterator[tuple[FileEntry, OpenedFile | None]]:
        for entry in self.entries:
            if not entry.readable:
                yield entry, None
                continue
            with self._open(entry, on_bytes) as opened:
                yield entry, opened
                opened.recheck()

    def _open(self, entry: FileEntry, on_bytes: Callable[[int], None] | None) -> _Opened:
        member = entry.rel in self._member_rels
        fh = open_regular(entry.path, follow=entry.is_symlink or (not self.is_dir and not member))
        try:
            before = os.fstat(fh.fileno())
            if entry.ident is not None and (before.st_dev, before.st_ino) != entry.ident:
                raise FileChanged("was replaced while the artifact was being read", entry.path)
            if self._after_open is not None:
                self._after_open(entry)
            hexdigest, size = sha256_stream(fh, on_bytes)
            fh.seek(0)
            digest = FileDigest(entry.rel, hexdigest, size)
            opened = OpenedFile(entry, fh, digest, before)
            opened.recheck()
            self._record(entry, digest, entry.path)
        except BaseException:
            fh.close()
            raise
        self._by_ident[(before.st_dev, before.st_ino)] = entry.rel
        return _Opened(opened)

    def digest(self, entry: FileEntry) -> FileDigest:
        """The digest of a readable entry, hashing it now if no pass has yet."""
        known = self._digests.get(entry.rel)
        if known is None:
            with self._open(entry, None):
                pass
            known = self._digests[entry.rel]
        return known

    def digest_of_path(self, path: Path) -> str | None:
        """Hex SHA-256 of the artifact file at ``path`` (any path reaching it), when a pass has
        already read it; ``None`` otherwise."""
        try:
            st = path.stat()
        except (OSError, RuntimeError):
            return None
        rel = self._by_ident.get((st.st_dev, st.st_ino))
        return self._digests[rel].sha256 if rel is not None else None

    def hash_all(self) -> None:
        """Hash every readable file not yet read (with a progress bar when there is much)."""
        todo = [e for e in self.entries if e.readable and e.rel not in self._digests]
        total = self._to_read(todo)
        if total > PROGRESS_BYTES:
            from scanner import ui

            with ui.progress() as bar:
                task = bar.add_task(f"hashing {self.root.name}", total=total)
                for entry in todo:
                    with self._open(entry, lambda n: bar.advance(task, n)):
                        pass
            return
        for entry in todo:  # (no bar: nothing drawn, no thread started)
            with self._open(entry, None):
                pass

    def file_digests(self) -> list[FileDigest]:
        """Every readable file's digest, in walk order (hashing what no pass has read yet)."""
        self.hash_all()
        return [self._digests[e.rel] for e in self.entries if e.readable]

    def artifact_digest(self) -> str:
        """``sha256:<hex>`` of the file, or of the sorted ``rel\\0sha256\\n`` lines of every
        readable file of a directory or of a file and its members. The one artifact digest of
        every command and report.

        An entry the walk found but did not read (a link leaving the artifact, a dangling link or
        a loop, a FIFO or device) adds ``rel\\0!problem:sha256(detail)\\n``: it is a finding,
        so it decides the verdict, and two trees that differ only by one must not share a digest
        (a verdict cached by digest would answer for both). So does an empty folder
        (``rel\\0!empty-folder\\n``): its name alone can decide what the artifact is (an empty
        ``*.dist-info`` makes a model folder an environment). Trees without such entries keep
        the digest they always had."""
        digests = self.file_digests()
        if not self.is_dir and not self._member_rels:
            if not digests:
                entry = self.entries[0]
                raise ScanError(f"{entry.problem} ({entry.detail}): not a regular file, not read", entry.path)
            return "sha256:" + digests[0].sha256
        lines = [os.fsencode(d.rel) + f"\0{d.sha256}\n".encode() for d in digests]
        for entry in self.entries:
            if not entry.readable:
                detail = hashlib.sha256(os.fsencode(entry.detail)).hexdigest()
                lines.append(os.fsencode(entry.rel) + f"\0!{entry.problem}:{detail}\n".encode())
        lines.extend(os.fsencode(rel) + b"\0!empty-folder\n" for rel in self._empty_dirs)
        h = hashlib.sha256()
        for line in sorted(lines):
            h.update(line)
        return "sha256:" + h.hexdigest()


class _Opened:
    """Context manager closing an OpenedFile's descriptor."""

    def __init__(self, opened: OpenedFile) -> None:
        self.opened = opened

    def __enter__(self) -> OpenedFile:
        return self.opened

    def __exit__(self, *exc: object) -> None:
        self.opened.fh.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def directory_digest(root: Path) -> str:
    """The digest of a directory that is not the artifact under judgement (the policy folder in
    the record), by the same rule as ``FileSet.artifact_digest``."""
    return FileSet(root).artifact_digest()
