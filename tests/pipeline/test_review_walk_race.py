"""A directory swapped for a link while the artifact is walked: the walk lists the directory it
checked, never the link's target (a folder outside the artifact, or ``/``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.files import FileSet
from tests.pipeline.conftest import evil_pickle


def _swap_to_link(directory: Path, target: Path) -> None:
    directory.rename(directory.with_name(directory.name + ".orig"))
    directory.symlink_to(target, target_is_directory=True)


@pytest.mark.parametrize("target", ["outside", "/"])
def test_directory_replaced_by_a_link_while_walking_is_never_listed_through_it(tmp_path: Path, target: str) -> None:
    root = tmp_path / "artifact"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "w.data").write_bytes(evil_pickle())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the artifact\n")
    swap_to = outside if target == "outside" else Path("/")
    swapped: list[Path] = []

    def before_list(directory: Path) -> None:
        if directory.name == "sub" and not swapped:
            _swap_to_link(directory, swap_to)
            swapped.append(directory)

    files = FileSet(root, before_list=before_list)
    try:
        rels = [e.rel for e in files.entries if e.readable]
    except ScanError as exc:
        assert "sub" in str(exc)
    else:  # listed as it is now (a link leaving the root), never through it
        assert not any(r.startswith("sub/") for r in rels), rels
    assert swapped


def test_parent_swapped_between_listing_and_child_lookup(tmp_path: Path) -> None:
    """``a`` is listed, then replaced by a link to a folder that has a ``b`` too: ``a/b`` must not
    be looked up through the link."""
    root = tmp_path / "artifact"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "w.data").write_bytes(evil_pickle())
    outside = tmp_path / "outside"
    (outside / "b").mkdir(parents=True)
    (outside / "b" / "secret.txt").write_text("not part of the artifact\n")
    swapped: list[Path] = []

    def before_list(directory: Path) -> None:
        if directory.name == "b" and not swapped:
            # ``a`` was listed already; the lookup of ``a/b`` goes by name from here
            _swap_to_link(directory.parent, outside)
            swapped.append(directory)

    files = FileSet(root, before_list=before_list)
    try:
        rels = {e.rel for e in files.entries if e.readable}
    except ScanError:
        return
    assert "a/b/secret.txt" not in rels
    assert swapped
