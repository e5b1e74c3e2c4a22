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


def test_a_working_directory_apart_from_the_artifact_gets_no_default_ledger_either(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judging a file that lies outside the working directory (in CI: an artifact the checkout
    built elsewhere, the environment it installed): the default ledger is the user state
    directory's too, and nothing is written into the working directory."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("jinja2==3.1.6\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SCANNER_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    r = cli("gate", tmp_path / "app" / "requirements.txt")
    assert r.code in (0, 1), r.err
    assert list(work.iterdir()) == []
    assert (tmp_path / "state" / "scanner" / "ledger.db").is_file()


def test_the_refusal_follows_the_tree_not_the_spelling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default ledger is the state directory's for every source; it is refused when it lies
    inside the working directory or the tree judged, whatever the spelling: a link from elsewhere
    into that tree, ``..``, the tree judged from a sub-folder."""
    from scanner.core import ScanError
    from scanner.evidence.ledger import default_path

    checkout = tmp_path / "checkout"
    (checkout / "sub").mkdir(parents=True)
    (checkout / "sub" / "m.bin").write_bytes(b"x")
    apart = tmp_path / "apart"
    apart.mkdir()
    (apart / "m.bin").write_bytes(b"x")
    (apart / "link").symlink_to(checkout / "sub", target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(checkout / "sub" / ".state"))
    state = checkout / "sub" / ".state" / "scanner" / "ledger.db"
    monkeypatch.chdir(work)
    for source in (None, "-", "/dev/stdin", "oci://registry.example/repo:tag", apart, apart / "m.bin"):
        assert default_path(source) == state, source
    for source in (
        checkout / "sub",
        checkout / "sub" / "m.bin",
        apart / "link",
        apart / "link" / "m.bin",
        apart / ".." / "checkout" / "sub",
        Path("..") / "checkout",
    ):
        with pytest.raises(ScanError, match="inside the tree being judged"):
            default_path(source)
    monkeypatch.chdir(checkout)  # the state directory inside the working directory: every source
    for source in (None, "-", "oci://registry.example/repo:tag", apart / "m.bin"):
        with pytest.raises(ScanError, match="inside the working directory"):
            default_path(source)
    monkeypatch.setenv("XDG_STATE_HOME", str(apart / "link" / ".state"))  # spelled apart, lies inside
    with pytest.raises(ScanError, match="inside the working directory"):
        default_path(None)


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
