"""``atomic.Folder``: many files written whole into one folder (a batch run's evidence records)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.atomic import Folder
from scanner.errors import ScanError


def test_staged_files_appear_only_when_committed_and_whole(tmp_path: Path) -> None:
    folder = Folder(tmp_path / "records", "evidence record")
    folder.stage("a.json", ["{", '"a": 1', "}\n"])
    folder.stage("b.json", ["x" * 100_000])
    assert sorted(p.name for p in (tmp_path / "records").iterdir() if not p.name.startswith(".")) == []
    assert folder.staged == 2
    folder.commit()
    assert (tmp_path / "records" / "a.json").read_text() == '{"a": 1}\n'
    assert (tmp_path / "records" / "b.json").read_text() == "x" * 100_000
    folder.write("c.json", ["now"])  # in place at once
    assert (tmp_path / "records" / "c.json").read_text() == "now"
    folder.close()
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["a.json", "b.json", "c.json"]


def test_what_was_never_committed_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["never committed"])
    folder.close()
    assert list(tmp_path.iterdir()) == []


def test_the_folder_swapped_for_a_link_during_the_run_is_not_followed(tmp_path: Path) -> None:
    records, elsewhere = tmp_path / "records", tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = Folder(records, "evidence record")
    os.rename(records, tmp_path / "moved")
    records.symlink_to(elsewhere)
    folder.write("a.json", ["x"])
    folder.close()
    assert list(elsewhere.iterdir()) == [] and (tmp_path / "moved" / "a.json").read_text() == "x"


def test_a_file_that_cannot_be_placed_is_an_error_naming_it_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "a.json" / "in-the-way").mkdir(parents=True)
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["x"])
    folder.stage("b.json", ["y"])
    with pytest.raises(ScanError) as caught:
        folder.commit()
    assert "a.json" in str(caught.value) and "evidence record" in str(caught.value)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_folder_that_cannot_be_made_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ScanError) as caught:
        Folder(tmp_path / "file" / "records", "evidence record")
    assert "records" in str(caught.value)
