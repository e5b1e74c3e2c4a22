"""The artifact never configures its own gate: a config inside the scanned tree or the working
directory changes nothing; an explicit --config does, and the record says where settings came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import plant

ALLOW_ALL = "package scanner.gate\nimport rego.v1\ndefault allow := true\n"


def _hostile_config(where: Path) -> Path:
    pol = where / "pol"
    pol.mkdir(parents=True, exist_ok=True)
    (pol / "gate.rego").write_text(ALLOW_ALL)
    (where / "scanner.toml").write_text('policy = "pol"\nfail-on = "none"\n')
    (where / "pyproject.toml").write_text('[tool.scanner]\npolicy = "pol"\n')
    return where / "scanner.toml"


def test_config_inside_the_tree_changes_nothing(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifact"
    plant(root)
    _hostile_config(root)
    monkeypatch.chdir(root)  # CI: the working directory is the checkout under review
    r = cli("gate", ".", "--no-ledger", "-f", "json")
    assert r.code == 1, r.err
    record = json.loads(r.out)
    assert not record["decision"]["allow"]
    assert record["inputs"]["settings"]["policy"] == "default"
    assert cli("scan", ".", "--no-second-opinion", "-f", "json").code == 1  # fail-on from the tree ignored


def test_explicit_config_is_used_and_recorded(cli, tmp_path: Path) -> None:
    root = tmp_path / "artifact"
    plant(root)
    config = _hostile_config(tmp_path / "ops")
    r = cli("--config", config, "gate", root, "--no-ledger", "-f", "json")
    assert r.code == 0, r.err
    record = json.loads(r.out)
    assert record["inputs"]["settings"]["policy"] == f"config:{config}"
    assert record["inputs"]["policy"]["path"] == str((tmp_path / "ops" / "pol").resolve())


def test_user_config_is_read(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifact"
    plant(root)
    xdg = tmp_path / "xdg"
    _hostile_config(xdg / "scanner")
    (xdg / "scanner" / "scanner.toml").rename(xdg / "scanner" / "config.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    r = cli("gate", root, "--no-ledger", "-f", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["inputs"]["settings"]["policy"].startswith("config:")


def test_env_setting_is_recorded(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    monkeypatch.setenv("SCANNER_STAGE", "staging")
    r = cli("gate", req, "--no-ledger", "-f", "json")
    record = json.loads(r.out)
    assert record["inputs"]["settings"]["stage"] == "env:SCANNER_STAGE"
    assert record["promotion"] == {"from": "dev", "to": "staging"}
