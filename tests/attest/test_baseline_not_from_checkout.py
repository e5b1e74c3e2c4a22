"""The quality baseline never comes from the tree being judged: a checkout that ships
``.scanner/ledger.db`` (a forged chain of earlier "decisions") must not supply the metrics its
model is compared with, nor have the new decision appended to it — whether the gate judges the
checkout itself, a folder in it, or a single file in it, from the checkout as working directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.attest.conftest import data_file, make_model
from tests.attest.test_quality_gate import gate, signed_eval

NO_REGRESSION = {"quality": {"no_regression": ["accuracy"]}}


@pytest.mark.parametrize("judged", ["models/sentiment", "models/sentiment/model.safetensors", "model.safetensors"])
def test_ledger_shipped_in_the_checkout_is_neither_baseline_nor_written(
    cli, keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judged: str
) -> None:
    checkout = tmp_path / "checkout"
    make_model(checkout / "models" / "sentiment", [1.0, 2.0])
    if judged == "model.safetensors":
        shutil.copy(checkout / "models" / "sentiment" / "model.safetensors", checkout / "model.safetensors")
    artifact = checkout / judged
    data = data_file(tmp_path, staging=NO_REGRESSION)
    shipped = checkout / ".scanner" / "ledger.db"
    common = ("--model-name", "sentiment")
    # the checkout's author made this chain: their model "held" accuracy 0.99 at staging
    code, _ = gate(
        cli,
        artifact,
        "staging",
        data,
        "--ledger",
        shipped,
        *common,
        *signed_eval(cli, artifact, keys, tmp_path, accuracy=0.99),
    )
    assert code == 0
    before = shipped.read_bytes()

    monkeypatch.chdir(checkout)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    code, record = gate(
        cli, Path(judged), "staging", data, *common, *signed_eval(cli, artifact, keys, tmp_path, accuracy=0.93)
    )
    assert record["quality"]["baseline"]["found"] is False, record["quality"]["baseline"]
    assert code == 0, record["decision"]
    assert record["ledger"]["path"] == str(tmp_path / "state" / "scanner" / "ledger.db")
    assert shipped.read_bytes() == before


def test_ledger_in_a_working_directory_apart_from_the_artifact_is_still_the_default(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judging a file that lies outside the working directory: the working directory's
    ``.scanner/ledger.db`` stays the default (it is not part of what is judged)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("jinja2==3.1.6\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    r = cli("gate", tmp_path / "app" / "requirements.txt")
    assert r.code in (0, 1), r.err
    assert (work / ".scanner" / "ledger.db").is_file()
    assert not (tmp_path / "state").exists()


def test_default_ledger_follows_the_tree_not_the_spelling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link from elsewhere into the checkout, ``..`` spellings, the checkout judged from a
    sub-folder: all share the working directory's tree, as a registry source does."""
    from scanner.evidence.ledger import DEFAULT_PATH, default_path

    checkout = tmp_path / "checkout"
    (checkout / "sub").mkdir(parents=True)
    (checkout / "sub" / "m.bin").write_bytes(b"x")
    apart = tmp_path / "apart"
    apart.mkdir()
    (apart / "m.bin").write_bytes(b"x")
    (apart / "link").symlink_to(checkout / "sub", target_is_directory=True)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    state = tmp_path / "state" / "scanner" / "ledger.db"
    monkeypatch.chdir(checkout)
    assert default_path("sub/m.bin") == state
    assert default_path(checkout / "sub") == state
    assert default_path(apart / "link" / "m.bin") == state
    assert default_path(apart / "link") == state
    assert default_path(apart / ".." / "checkout" / "sub") == state
    assert default_path(apart / "m.bin") == DEFAULT_PATH
    assert default_path(apart) == DEFAULT_PATH
    assert default_path("oci://registry.example/repo:tag") == state  # test_registry_default_ledger.py
    assert default_path(None) == DEFAULT_PATH
    monkeypatch.chdir(checkout / "sub")
    assert default_path("..") == state


@pytest.mark.parametrize("judged", [".", "model.bin"])
def test_user_state_directory_inside_the_checkout_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judged: str
) -> None:
    """A CI runner whose home is the checkout: the user state directory is in the judged tree too,
    which could ship ``.local/state/scanner/ledger.db``. The run stops and says how to name one
    (as for the user-level config and the cache)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "model.bin").write_bytes(b"\x00" * 8)
    shipped = checkout / ".local" / "state" / "scanner" / "ledger.db"
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b"")
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(checkout / ".local" / "state"))
    r = cli("gate", judged, "-f", "json")
    assert r.code == 2, (r.code, r.err)
    assert "ledger" in r.err and "--ledger" in r.err
    assert shipped.read_bytes() == b""
    r = cli("gate", judged, "--ledger", tmp_path / "named.db", "-f", "json")
    assert r.code in (0, 1), r.err


def test_verify_ledger_finds_the_default_the_gate_used(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "requirements.txt").write_text("jinja2==3.1.6\n")
    monkeypatch.chdir(work)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert cli("gate", "requirements.txt").code in (0, 1)
    r = cli("report", "verify-ledger")
    assert r.code == 0, r.err
    assert f"ledger {tmp_path / 'state' / 'scanner' / 'ledger.db'}: OK, 1 record(s)" in r.out
