"""Where `scanner batch` keeps its evidence by default: as `scanner gate`, never inside a
directory being judged (`evidence.ledger.default_path`), with one source or several."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.batch.conftest import clean_model, malicious_model


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default ledger, not the tests' SCANNER_LEDGER; the user state directory of this test."""
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "scanner"


def test_batch_dot_writes_nothing_into_the_tree_it_judges(
    cli, tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = clean_model(tmp_path / "model", 41)
    before = _tree(root)
    monkeypatch.chdir(root)
    digests = []
    for _ in range(2):
        r = cli("batch", ".", "--workers", "1", "--no-cache", "-f", "json")
        assert r.code == 0, r.err
        (result,) = json.loads(r.out)["results"]
        digests.append(result["digest"])
        assert Path(result["record"]).is_relative_to(state / "batch")
    assert digests[0] == digests[1]
    assert _tree(root) == before
    from scanner.evidence.ledger import Ledger

    with Ledger(state / "ledger.db", create=False) as ledger:
        assert ledger.verify().ok and len(ledger.entries()) == 2


def test_with_several_sources_the_evidence_lands_inside_none_of_them(
    cli, tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = tmp_path / "estate"
    first = clean_model(outer / "a", 42)
    second = malicious_model(outer / "b")
    before = _tree(outer)
    monkeypatch.chdir(second)  # the working directory is inside the second source only
    r = cli("batch", first, ".", "--workers", "1", "--no-cache", "-f", "json")
    assert r.code == 1, r.err
    assert _tree(outer) == before
    assert (state / "ledger.db").is_file()
    assert all(Path(x["record"]).is_relative_to(state / "batch") for x in json.loads(r.out)["results"])


def test_outside_every_source_the_evidence_goes_to_the_state_directory_too(
    cli, tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources apart from the working directory (in CI: artifacts the checkout built elsewhere):
    nothing is written into the working directory either."""
    model = clean_model(tmp_path / "models" / "a", 43)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    r = cli("batch", model, "--workers", "1", "--no-cache", "-f", "json")
    assert r.code == 0, r.err
    assert list(work.iterdir()) == []
    assert (state / "ledger.db").is_file()
    assert Path(json.loads(r.out)["results"][0]["record"]).is_relative_to(state / "batch")


def test_a_planted_link_for_the_default_ledger_is_never_reached(
    cli, tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = clean_model(tmp_path / "models" / "a", 44)
    work = tmp_path / "checkout"
    work.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (work / ".scanner").symlink_to(elsewhere)
    monkeypatch.chdir(work)
    r = cli("batch", model, "--workers", "1", "--no-cache")
    assert r.code == 0, r.err
    assert list(elsewhere.iterdir()) == []
    assert (state / "ledger.db").is_file()


def test_a_state_directory_inside_the_working_directory_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner whose home is the checkout: the checkout could ship the state ledger."""
    model = clean_model(tmp_path / "models" / "a", 45)
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(work / ".local" / "state"))
    r = cli("batch", model, "--workers", "1", "--no-cache")
    assert r.code == 2 and "inside the working directory" in r.err and "--ledger" in r.err, r.err
    assert list(work.iterdir()) == []
    named = ("--ledger", tmp_path / "named.db", "--records", tmp_path / "r")
    r = cli("batch", model, "--workers", "1", "--no-cache", *named)
    assert r.code == 0, r.err
    assert (tmp_path / "named.db").is_file() and list(work.iterdir()) == []
