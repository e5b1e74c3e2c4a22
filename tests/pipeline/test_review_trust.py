"""Per-user locations that lie inside the scanned tree or the working directory are the
artifact's files, not the user's: the user-level config, the cache (vulnerability database,
compiled policies) and the default ledger must never be taken from there or written through links
planted there."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import plant

ALLOW_ALL = "package scanner.gate\nimport rego.v1\ndefault allow := true\n"


def _user_config_in(home: Path) -> None:
    (home / "pol").mkdir(parents=True, exist_ok=True)
    (home / "pol" / "gate.rego").write_text(ALLOW_ALL)
    config = home / ".config" / "scanner" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('policy = "../../pol"\n')


@pytest.mark.parametrize("command", ["gate", "scan", "audit", "sbom"])
def test_user_config_inside_the_scanned_tree_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """A CI runner whose HOME is the checkout: the checkout's ``.config/scanner/config.toml``
    would otherwise replace the policy and allow a malicious pickle."""
    root = tmp_path / "checkout"
    plant(root)
    _user_config_in(root)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = cli(command, root, *(["--no-ledger"] if command == "gate" else []))
    assert r.code == 2, (r.code, r.out[:300], r.err)
    assert "config.toml" in r.err and "inside the scanned" in r.err


def test_user_config_outside_the_tree_still_counts(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "checkout"
    plant(root)
    home = tmp_path / "home"
    _user_config_in(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = cli("gate", root, "--no-ledger", "-f", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["inputs"]["settings"]["policy"].startswith("config:")


@pytest.mark.parametrize("command", ["gate", "audit"])
def test_cache_inside_the_scanned_tree_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The default cache holds the vulnerability database and compiled policies: one shipped in
    the checkout (HOME is the checkout) would decide what is vulnerable and what is allowed."""
    root = tmp_path / "checkout"
    plant(root)
    (root / "requirements.txt").write_text("jinja2==2.11.2\n")
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("SCANNER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / ".cache"))
    r = cli(command, root, *(["--no-ledger"] if command == "gate" else []))
    assert r.code == 2, (r.code, r.err)
    assert "cache" in r.err and "inside the scanned" in r.err


@pytest.mark.parametrize("link", ["ledger.db", ".scanner"])
def test_default_ledger_never_reaches_a_planted_link(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: str
) -> None:
    """A checkout that ships ``.scanner/ledger.db`` (or ``.scanner``) as a link: a gate writing
    the working directory's ledger would create or write the file it points at, anywhere the
    runner may write. The default ledger is the user state directory's whatever is judged — the
    checkout, a file in it, something apart from it, standard input — so the link is never
    reached."""
    root = tmp_path / "checkout"
    plant(root)
    victim = tmp_path / "victim"
    victim.mkdir()
    if link == "ledger.db":
        (root / ".scanner").mkdir()
        (root / ".scanner" / "ledger.db").symlink_to(victim / "ledger.db")
    else:
        (root / ".scanner").symlink_to(victim, target_is_directory=True)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(root)
    a_file = next(p.name for p in sorted(root.iterdir()) if p.is_file() and not p.is_symlink())
    elsewhere = tmp_path / "elsewhere"
    plant(elsewhere)
    for judged in (a_file, ".", str(elsewhere)):
        r = cli("gate", judged, "-f", "json")
        assert r.code == 1, (r.code, r.err)  # judged (the planted pickle denies), ledger kept elsewhere
        assert json.loads(r.out)["ledger"]["path"] == str(tmp_path / "state" / "scanner" / "ledger.db")
        assert list(victim.iterdir()) == []
    (root / "requirements.txt").write_text("jinja2==3.1.6\n")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"jinja2==3.1.6\n")))
    r = cli("gate", "-", "-f", "json")
    assert r.code in (0, 1), (r.code, r.err)
    assert list(victim.iterdir()) == []


def test_user_config_beside_a_single_file_artifact_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scanner gate model.pkl`` in a checkout that is also HOME: the folder of the file counts."""
    root = tmp_path / "checkout"
    plant(root)
    _user_config_in(root)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = cli("gate", root / "state.data", "--no-ledger")
    assert r.code == 2, (r.code, r.err)
    assert "inside the scanned" in r.err


def test_record_names_the_environment_variable_that_was_actually_read(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click also reads ``SCANNER_<COMMAND>_<OPTION>`` for options without a variable of their
    own: the evidence must name that variable, not one that was never set."""
    root = tmp_path / "artifact"
    plant(root)
    saved = tmp_path / "input.json"
    monkeypatch.setenv("SCANNER_GATE_SAVE_INPUT", str(saved))
    r = cli("gate", root, "--no-ledger", "-f", "json")
    assert r.code == 1, r.err
    assert saved.is_file()
    assert json.loads(r.out)["inputs"]["settings"]["save_input"] == "env:SCANNER_GATE_SAVE_INPUT"


def test_batch_refuses_a_user_config_inside_an_artifact(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scanner batch` runs the same pipeline: HOME being an artifact's checkout is refused there too."""
    root = tmp_path / "checkout"
    plant(root)
    _user_config_in(root)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = cli("batch", root, "--stage", "dev", "--workers", "1", "--no-cache", "--no-ledger", "-f", "json")
    assert r.code == 2, (r.code, r.out[:300], r.err)
    (result,) = json.loads(r.out)["results"]
    assert "inside the scanned" in result["error"]
