"""``atomic.Folder``: many files written whole into one folder (a batch run's evidence records)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


def test_a_staged_file_that_cannot_be_placed_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "b.json" / "in-the-way").mkdir(parents=True)
    folder = Folder(tmp_path, "evidence record")
    folder.stage("a.json", ["a"])
    folder.stage("b.json", ["b"])
    folder.stage("c.json", ["c"])
    with pytest.raises(ScanError) as caught:
        folder.commit(durable=True)
    assert "b.json" in str(caught.value)
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
