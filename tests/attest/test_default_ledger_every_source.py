"""The default ledger never comes from the working directory, whatever the source: in CI the
working directory is the checkout under review, and it also supplies what is judged when that lies
apart from it — a model it built into another folder, the environment
``pip install -r requirements.txt`` filled, requirements piped in on standard input. A
``.scanner/ledger.db`` planted there (a forged chain in which "sentiment" held accuracy 0.99)
must neither supply the baseline nor receive the entry; the user state directory's ledger does,
and an auditor's ``scanner report`` / ``verify-ledger`` read that one by default and name it.
Named with ``--ledger``, the planted file is the user's choice, and used. (Registry sources:
``test_registry_default_ledger.py``; a tree that is the working directory or lies in it:
``test_baseline_not_from_checkout.py``.)"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.evidence.ledger import Ledger
from tests.attest.conftest import data_file, ledger_digests, make_model
from tests.attest.test_quality_gate import denies, gate, signed_eval
from tests.attest.test_registry_default_ledger import _plant

NO_REGRESSION = {"quality": {"no_regression": ["accuracy"]}}


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_a_model_built_apart_from_the_checkout_takes_no_baseline_from_it_nor_writes_there(
    cli, keys, tmp_path: Path, checkout: Path
) -> None:
    model = make_model(tmp_path / "build" / "sentiment", [1.0, 2.0])  # built outside the checkout
    data = data_file(tmp_path, staging=NO_REGRESSION)
    shipped, before = _plant(checkout)
    evidence = ("--model-name", "sentiment", *signed_eval(cli, model, keys, tmp_path, accuracy=0.93))
    state = tmp_path / "state" / "scanner" / "ledger.db"

    code, record = gate(cli, model, "staging", data, *evidence)
    assert record["quality"]["baseline"]["found"] is False, record["quality"]["baseline"]
    assert code == 0, denies(record)
    assert record["ledger"]["path"] == str(state)
    assert ledger_digests(state) == [record["artifact"]["digest"]]
    assert shipped.read_bytes() == before

    # named, the planted chain is the user's choice: its baseline is read and the entry appended
    code, record = gate(cli, model, "staging", data, *evidence, "--ledger", Path(".scanner/ledger.db"))
    assert code == 1
    assert record["quality"]["baseline"]["found"] is True
    assert "quality-regression" in denies(record)
    assert len(ledger_digests(shipped)) == 2
    assert len(ledger_digests(state)) == 1


def test_the_environment_the_checkout_installed_appends_to_the_state_directory(
    cli, tmp_path: Path, checkout: Path
) -> None:
    """``pip install -r requirements.txt && scanner gate $VIRTUAL_ENV`` in a checkout, the
    environment outside it."""
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True, timeout=60)
    shipped, before = _plant(checkout)
    r = cli("gate", env, "-f", "json")
    assert r.code in (0, 1), r.err
    record = json.loads(r.out)
    assert record["artifact"]["kind"] == "environment"
    state = tmp_path / "state" / "scanner" / "ledger.db"
    assert record["ledger"]["path"] == str(state)
    assert ledger_digests(state) == [record["artifact"]["digest"]]
    assert shipped.read_bytes() == before


def test_standard_input_appends_to_the_state_directory_unless_a_ledger_is_named(
    cli, tmp_path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped, before = _plant(checkout)
    state = tmp_path / "state" / "scanner" / "ledger.db"
    _stdin(monkeypatch, b"jinja2==3.1.6\n")
    r = cli("gate", "-", "-f", "json")
    assert r.code in (0, 1), r.err
    record = json.loads(r.out)
    assert record["ledger"]["path"] == str(state)
    assert ledger_digests(state) == [record["artifact"]["digest"]]
    assert shipped.read_bytes() == before

    _stdin(monkeypatch, b"jinja2==3.1.6\n")
    r = cli("gate", "-", "-f", "json", "--ledger", ".scanner/ledger.db")
    assert r.code in (0, 1), r.err
    assert json.loads(r.out)["ledger"]["path"] == ".scanner/ledger.db"
    assert len(ledger_digests(shipped)) == 2 and len(ledger_digests(state)) == 1


def test_a_state_directory_inside_the_working_directory_is_refused_for_standard_input(
    cli, tmp_path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner whose home is the checkout: the checkout could ship the state ledger too."""
    monkeypatch.setenv("XDG_STATE_HOME", str(checkout / ".local" / "state"))
    planted = checkout / ".local" / "state" / "scanner" / "ledger.db"
    with Ledger(planted):
        pass
    before = planted.read_bytes()
    _stdin(monkeypatch, b"jinja2==3.1.6\n")
    r = cli("gate", "-", "-f", "json")
    assert r.code == 2, (r.code, r.err)
    assert "lies inside the working directory" in r.err and "--ledger" in r.err
    assert planted.read_bytes() == before
    _stdin(monkeypatch, b"jinja2==3.1.6\n")
    r = cli("gate", "-", "-f", "json", "--ledger", tmp_path / "named.db")
    assert r.code in (0, 1), r.err
    assert ledger_digests(tmp_path / "named.db") == [json.loads(r.out)["artifact"]["digest"]]


def test_the_auditor_reads_the_ledger_decisions_went_to_and_is_told_which(cli, tmp_path: Path, checkout: Path) -> None:
    state = tmp_path / "state" / "scanner" / "ledger.db"
    r = cli("report", "verify-ledger")
    assert r.code == 2 and str(state) in r.err  # none yet: says which file it looked for
    shipped, _ = _plant(checkout)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("jinja2==3.1.6\n")
    assert cli("gate", tmp_path / "app" / "requirements.txt", "-f", "json").code in (0, 1)

    r = cli("report", "verify-ledger")
    assert r.code == 0, r.err
    assert r.out.startswith(f"ledger {state}: OK, 1 record(s)")
    assert ".scanner/ledger.db in the working directory is not read" in r.err
    r = cli("report", "verify-ledger", "--json")
    assert json.loads(r.out)["ledger"] == str(state)
    r = cli("report", "--since", "2000-01-01", "-f", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["ledger"]["ledger"] == str(state) and doc["totals"]["decisions"] == 1

    # named: the planted file is read
    r = cli("report", "verify-ledger", ".scanner/ledger.db")
    assert r.code == 0 and r.out.startswith("ledger .scanner/ledger.db: OK, 1 record(s)")
    assert "not read" not in r.err
    r = cli("report", "--ledger", shipped, "-f", "json")
    assert json.loads(r.out)["decisions"][0]["artifact"] == "sentiment"
    # and `scanner config` shows the same default
    r = cli("config")
    assert any(line.split()[:2] == ["ledger", str(state)] for line in r.out.splitlines()), r.out
