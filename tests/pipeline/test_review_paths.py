"""Odd sources on the command line: never a traceback or an internal error, never a silent
judgement of something else than what was named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.conftest import evil_pickle

COMMANDS = ("gate", "scan", "sbom", "audit", "verify")


def _args(command: str, source: str | Path) -> list[str | Path]:
    return [command, source, *(["--no-ledger"] if command == "gate" else [])]


@pytest.mark.parametrize("command", COMMANDS)
def test_empty_source_is_refused_not_read_as_the_working_directory(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """``scanner gate "$ARTIFACT"`` with the variable unset must not gate the checkout instead."""
    (tmp_path / "README.md").write_text("an unrelated working directory\n")
    monkeypatch.chdir(tmp_path)
    r = cli(*_args(command, ""))
    assert r.code == 2, (r.code, r.out, r.err)
    assert "empty" in r.err
    assert "internal error" not in r.err and "Traceback" not in r.err


@pytest.mark.parametrize("command", COMMANDS)
def test_path_longer_than_path_max_is_a_clear_error(cli, command: str) -> None:
    r = cli(*_args(command, "a/" * 3000))
    assert r.code == 2
    assert "internal error" not in r.err and "Traceback" not in r.err
    assert "too long" in r.err.lower()


@pytest.mark.parametrize("command", COMMANDS)
def test_trailing_slash_on_a_file_is_not_a_directory(cli, tmp_path: Path, command: str) -> None:
    """``weights.data/`` names a directory; a file there is not judged as if it had been named."""
    path = tmp_path / "weights.data"
    path.write_bytes(evil_pickle())
    r = cli(*_args(command, f"{path}/"))
    assert r.code == 2, (r.code, r.err)
    assert "not a directory" in r.err.lower()
    assert "internal error" not in r.err


@pytest.mark.parametrize("command", COMMANDS)
def test_dangling_link_as_the_artifact_is_a_clear_error(cli, tmp_path: Path, command: str) -> None:
    link = tmp_path / "model.pkl"
    link.symlink_to(tmp_path / "missing")
    r = cli(*_args(command, link))
    assert r.code == 2
    assert "model.pkl" in r.err and "internal error" not in r.err


def test_very_deep_tree_is_a_clear_error_naming_the_folder(cli, tmp_path: Path) -> None:
    """A tree nested deeper than the walk can follow stops the run naming the artifact (not a
    bare "input nested too deeply" with no file, and never a partial, clean verdict)."""
    root = tmp_path / "artifact"
    levels = [root]
    root.mkdir()
    for _ in range(1200):  # os.makedirs (and shutil.rmtree) recurse once per level: one at a time
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    (levels[-1] / "state.data").write_bytes(evil_pickle())
    try:
        r = cli("scan", root, "--no-second-opinion")
        assert r.code == 2, (r.code, r.err)
        assert str(root) in r.err and "deep" in r.err
    finally:  # pytest's own clean-up of tmp_path would recurse too deep
        (levels[-1] / "state.data").unlink()
        for level in reversed(levels):
            level.rmdir()
