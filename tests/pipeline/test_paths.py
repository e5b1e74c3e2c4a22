"""Relative paths and file names that are not UTF-8."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.pipeline.conftest import evil_pickle, model_findings, plant


def test_gate_dot(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifact"
    plant(root)
    monkeypatch.chdir(root)
    r = cli("gate", ".", "--no-ledger", "-f", "json")
    assert r.code == 1, r.err
    record = json.loads(r.out)
    assert record["artifact"]["name"] == "artifact"
    assert {"state.data", "layers.zip"} <= model_findings(record["findings"])


def test_gate_dot_slash_sub_dot_dot(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifact"
    plant(root)
    (root / "sub").mkdir()
    monkeypatch.chdir(root)
    r = cli("gate", "./sub/..", "--no-ledger", "-f", "json")
    assert r.code == 1, r.err
    digest = json.loads(r.out)["artifact"]["digest"]
    assert json.loads(cli("scan", str(root), "-f", "json", "--no-second-opinion").out)["artifact"]["digest"] == digest


def test_non_utf8_file_name(cli, tmp_path: Path) -> None:
    root = tmp_path / "artifact"
    root.mkdir()
    (root / "requirements.txt").write_text("six==1.16.0\n")
    name = os.fsdecode(b"w\xffights.bin")
    (root / name).write_bytes(evil_pickle())
    for command in ("gate", "scan", "sbom", "audit"):
        args = [command, root] + (["--no-ledger"] if command == "gate" else [])
        r = cli(*args, *(["-f", "json"] if command != "sbom" else []))
        assert r.code in (0, 1), (command, r.err)
        assert "Traceback" not in r.err and "internal error" not in r.err
        if command in ("gate", "scan"):
            assert r.code == 1
            record = json.loads(r.out)
            assert "w\\xffights.bin" in model_findings(record["findings"])


def test_gate_dot_never_writes_its_default_ledger_into_the_tree(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scanner gate .` twice: the same digest both times, because the default ledger goes to the
    user state directory instead of `.scanner/` inside the directory being judged."""
    root = tmp_path / "artifact"
    plant(root)
    monkeypatch.chdir(root)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    digests = []
    for _ in range(2):
        r = cli("gate", ".", "-f", "json")
        assert r.code == 1, r.err
        digests.append(json.loads(r.out)["artifact"]["digest"])
    assert digests[0] == digests[1]
    assert not (root / ".scanner").exists()
    assert (tmp_path / "state" / "scanner" / "ledger.db").is_file()


def test_gate_of_a_file_in_the_working_directory_keeps_the_ledger_out_of_it(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's folder is the working directory, whose ``.scanner/`` the same checkout could
    ship: the default ledger goes to the user state directory (see also
    ``tests/attest/test_baseline_not_from_checkout.py``)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "requirements.txt").write_text("jinja2==3.1.6\n")
    monkeypatch.chdir(work)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    r = cli("gate", "requirements.txt")
    assert r.code in (0, 1), r.err
    assert not (work / ".scanner").exists()
    assert (tmp_path / "state" / "scanner" / "ledger.db").is_file()
