"""``atomic.Folder``: many files written whole into one folder (a batch run's evidence records)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from scanner import atomic
from scanner.atomic import Folder
from scanner.errors import ScanError


@pytest.mark.parametrize("durable", [True, False])
def test_files_are_written_whole_and_nothing_else_is_left(tmp_path: Path, durable: bool) -> None:
    folder = Folder(tmp_path / "records", "evidence record")
    folder.write("a.json", ["{", '"a": 1', "}\n"], durable=durable)
    folder.write("b.json", ["x" * 100_000], durable=durable)
    folder.write("a.json", ["again"], durable=durable)  # replaced
    folder.close()
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "records" / "a.json").read_text() == "again"
    assert (tmp_path / "records" / "b.json").read_text() == "x" * 100_000


def test_the_folder_swapped_for_a_link_during_the_run_is_not_followed(tmp_path: Path) -> None:
    records, elsewhere = tmp_path / "records", tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = Folder(records, "evidence record")
    os.rename(records, tmp_path / "moved")
    records.symlink_to(elsewhere)
    folder.write("a.json", ["x"], durable=False)
    folder.close()
    assert list(elsewhere.iterdir()) == [] and (tmp_path / "moved" / "a.json").read_text() == "x"


def test_a_link_at_the_name_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "a.json").symlink_to(victim)
    folder = Folder(tmp_path / "records", "evidence record")
    folder.write("a.json", ["x"], durable=True)
    folder.close()
    assert victim.read_text() == "keep" and not (tmp_path / "records" / "a.json").is_symlink()


def test_a_file_that_cannot_be_placed_is_an_error_naming_it_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "a.json" / "in-the-way").mkdir(parents=True)
    folder = Folder(tmp_path, "evidence record")
    with pytest.raises(ScanError) as caught:
        folder.write("a.json", ["x"], durable=True)
    assert "a.json" in str(caught.value) and "evidence record" in str(caught.value)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_folder_that_cannot_be_made_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ScanError) as caught:
        Folder(tmp_path / "file" / "records", "evidence record")
    assert "records" in str(caught.value)


@pytest.mark.parametrize("durable", [True, False])
def test_staged_files_appear_only_when_committed(tmp_path: Path, durable: bool) -> None:
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["a"])
    folder.stage("b.json", ["b" * 70_000])
    assert not (tmp_path / "a.json").exists() and folder.path == tmp_path
    folder.commit(durable=durable)
    assert (tmp_path / "a.json").read_text() == "a" and (tmp_path / "b.json").read_text() == "b" * 70_000
    folder.stage("c.json", ["never committed"])
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_a_commit_that_cannot_place_a_file_places_none_and_leaves_no_temporary(tmp_path: Path) -> None:
    """All of a commit's files or none: a.json, put in place before b.json failed, is removed
    again (with a ledger, it would name an entry that was rolled back)."""
    (tmp_path / "b.json" / "in-the-way").mkdir(parents=True)
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["a"])
    folder.stage("b.json", ["b"])
    folder.stage("c.json", ["c"])
    with pytest.raises(ScanError) as caught:
        folder.commit(durable=True)
    assert "b.json" in str(caught.value)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def _interrupted(after: int):
    """Chunks of a file whose writing is interrupted (Ctrl-C) after ``after`` of them."""
    for i in range(after):
        yield f"chunk {i}\n"
    raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["write", "stage"])
def test_a_file_interrupted_while_written_leaves_no_temporary(tmp_path: Path, how: str) -> None:
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["a"])
    with pytest.raises(KeyboardInterrupt):
        if how == "write":
            folder.write("b.json", _interrupted(3), durable=False)
        else:
            folder.stage("b.json", _interrupted(3))
    folder.commit(durable=True)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_files_put_in_place_are_withdrawn_until_settled(tmp_path: Path) -> None:
    """``discard`` after ``commit`` withdraws the files it put in place (their ledger entries were
    rolled back) — but never a file someone put at such a name since; ``settle`` keeps them."""
    (tmp_path / "old.json").write_text("an earlier run's")
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["a"])
    folder.stage("b.json", ["b"])
    folder.commit(durable=True)
    (tmp_path / "other").write_text("someone else's")
    os.replace(tmp_path / "other", tmp_path / "b.json")
    folder.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "old.json"]
    assert (tmp_path / "b.json").read_text() == "someone else's"
    folder.stage("c.json", ["c"])
    folder.commit(durable=False)
    folder.settle()
    folder.discard()
    folder.close()
    assert (tmp_path / "c.json").read_text() == "c"


# (no limit, else the path taken would depend on what other programs have written just then)
@pytest.mark.parametrize("unwritten_limit", [1 << 62, -1])
def test_a_durable_group_is_flushed_once_or_file_by_file(tmp_path: Path, monkeypatch, unwritten_limit: int) -> None:
    """Several files committed durably: one flush of the file system (Linux 5.8+, little data
    waiting system-wide), else each file's own — the files in place either way."""
    monkeypatch.setattr(atomic, "SYNCFS_MAX_UNWRITTEN", unwritten_limit)
    flushed: list[str] = []
    flush = Folder._flush
    monkeypatch.setattr(Folder, "_flush", lambda self, name: (flushed.append(name), flush(self, name))[1])
    folder = Folder(tmp_path, "evidence record")
    for i in range(5):
        folder.stage(f"{i}.json", [str(i)])
    folder.commit(durable=True)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.json" for i in range(5)]
    whole = unwritten_limit >= 0 and _syncfs_applies(tmp_path)
    assert len(flushed) == (0 if whole else 5)
    if sys.platform.startswith("linux") and tuple(map(int, os.uname().release.split(".")[:2])) >= (5, 8):
        assert atomic._syncfs() is not None  # (this machine: the one-flush path is the one tested)


def _syncfs_applies(folder: Path) -> bool:
    """Whether ``folder`` is flushed with one ``syncfs`` here (Linux 5.8+, a file system listed)."""
    libc = atomic._syncfs()
    if libc is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return atomic._file_system(libc, fd) in atomic.SYNCFS_FILE_SYSTEMS
    finally:
        os.close(fd)


def test_a_file_system_flush_that_fails_is_an_error(tmp_path: Path, monkeypatch) -> None:
    if not _syncfs_applies(tmp_path):
        pytest.skip("no syncfs for this folder here")
    monkeypatch.setattr(atomic, "SYNCFS_MAX_UNWRITTEN", 1 << 62)  # (however much is waiting)
    fd = os.open(tmp_path, os.O_PATH)  # its file system known, but syncfs refuses it (EBADF)
    try:
        with pytest.raises(OSError) as raised:
            atomic.sync_filesystem(fd)  # the error syncfs reports is raised
    finally:
        os.close(fd)
    assert raised.value.errno == errno.EBADF


def test_unwritten_data_is_counted_from_meminfo() -> None:
    unwritten = atomic._unwritten_bytes()
    assert unwritten >= 0 and (unwritten < 1 << 62 or not os.path.exists("/proc/meminfo"))


def test_without_ctypes_a_durable_group_is_flushed_file_by_file(tmp_path: Path, monkeypatch) -> None:
    """A Python built without ctypes (no libffi): the files are flushed one by one, the group is
    put in place all the same (not an ImportError that fails every durable group)."""
    monkeypatch.setitem(sys.modules, "ctypes", None)  # ``import ctypes`` fails as it would there
    monkeypatch.setattr(atomic, "_SYNCFS", [])  # (looked up afresh, and restored after)
    folder = Folder(tmp_path, "evidence record")
    for i in range(3):
        folder.stage(f"{i}.json", [str(i)])
    folder.commit(durable=True)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.json", "1.json", "2.json"]


def test_a_file_system_not_known_to_flush_its_files_with_syncfs_is_not_flushed_that_way(monkeypatch) -> None:
    """``syncfs`` can succeed where it writes nothing to a disk or server: a FUSE or 9p mount (the
    server is never asked to flush, as a file's fsync asks it), a CIFS share, overlayfs. /proc
    stands for them here: its syncfs succeeds, and the group must be flushed file by file."""
    if atomic._syncfs() is None:
        pytest.skip("no syncfs here")
    monkeypatch.setattr(atomic, "SYNCFS_MAX_UNWRITTEN", 1 << 62)  # (however much is waiting)
    fd = os.open("/proc", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        assert atomic.sync_filesystem(fd) is False
    finally:
        os.close(fd)
