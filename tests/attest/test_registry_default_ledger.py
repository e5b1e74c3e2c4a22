"""The default ledger of a registry source never comes from the working directory: in CI the
working directory is the checkout the artifact was built from, and a pull request controls both.
A ``.scanner/ledger.db`` planted there (a forged chain in which the model "held" accuracy 0.99)
must neither supply the baseline of ``gate oci://…`` nor receive its entry, nor those of
``promote`` and ``batch``; the user state directory holds the default ledger instead. Named with
``--ledger`` it is the user's choice, and used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scanner.evidence.ledger import Ledger
from scanner.registry.client import Client
from tests.attest.conftest import data_file, ledger_digests, make_model
from tests.attest.test_registry_quality import attest_remote
from tests.registry.helpers import PLAIN

NO_REGRESSION = {"quality": {"no_regression": ["accuracy"]}}


def _plant(checkout: Path) -> tuple[Path, bytes]:
    """The checkout's author forged this chain: a decision that allowed "sentiment" to staging
    with accuracy 0.99 (a valid chain: the ledger's own code appended it)."""
    shipped = checkout / ".scanner" / "ledger.db"
    record = {
        "artifact": {"name": "sentiment", "digest": "sha256:" + "ab" * 32},
        "stage": "staging",
        "decision": {"allow": True, "deny": [], "warn": []},
        "quality": {"model": "sentiment", "metrics": {"accuracy": {"value": 0.99}}},
    }
    with Ledger(shipped) as ledger:
        ledger.append(record)
    return shipped, shipped.read_bytes()


def test_gate_of_a_registry_artifact_takes_no_baseline_from_the_checkout_nor_writes_there(
    cli, registry, repo, keys, tmp_path: Path, checkout: Path
) -> None:
    cli("push", make_model(tmp_path / "sentiment", [1.0, 2.0]), registry.ref(repo, "v1"), "--plain-http")
    attest_remote(cli, registry, repo, "v1", 0.93, keys["eval"].private, tmp_path)
    data = data_file(tmp_path, staging=NO_REGRESSION)
    shipped, before = _plant(checkout)
    args = ("--stage", "staging", "--plain-http", "--data", data, "--model-name", "sentiment")
    trust = ("--attestation-key", keys["eval"].public, "-f", "json")

    # named, the forged chain is the baseline (the user chose it): the model "regressed"
    named = tmp_path / "named.db"
    shutil.copy(shipped, named)
    r = cli("gate", registry.ref(repo, "v1"), *args, *trust, "--ledger", named)
    assert r.code == 1, r.err
    record = json.loads(r.out)
    assert record["quality"]["baseline"]["found"] is True
    assert "quality-regression" in {d["rule"] for d in record["decision"]["deny"]}

    # by default: no baseline from the checkout, the entry goes to the user state directory
    r = cli("gate", registry.ref(repo, "v1"), *args, *trust)
    assert r.code == 0, (r.err, r.out[-2000:])
    record = json.loads(r.out)
    assert record["quality"]["baseline"]["found"] is False, record["quality"]["baseline"]
    state = tmp_path / "state" / "scanner" / "ledger.db"
    assert record["ledger"]["path"] == str(state)
    assert shipped.read_bytes() == before
    assert ledger_digests(state) == [record["artifact"]["digest"]]


def test_promote_and_batch_of_registry_artifacts_append_to_the_state_directory(
    cli, registry, repo, sign_key, tmp_path: Path, checkout: Path
) -> None:
    cli("push", make_model(tmp_path / "sentiment", [3.0, 4.0]), registry.ref(repo, "build-1"), "--plain-http")
    digest = Client(registry.host, PLAIN).resolve(repo, "build-1")
    shipped, before = _plant(checkout)
    state = tmp_path / "state" / "scanner" / "ledger.db"

    r = cli("promote", registry.ref(repo, "build-1"), registry.ref(repo, "dev"), "--stage", "dev",
            "--plain-http", "--sign-key", sign_key[0], "-f", "json")  # fmt: skip
    assert r.code == 0, r.err
    assert ledger_digests(state) == [digest]

    r = cli("batch", registry.ref(repo, "build-1"), "--plain-http", "--workers", "1",
            "--cache", tmp_path / "cache", "-f", "json")  # fmt: skip
    assert r.code == 0, r.err
    assert ledger_digests(state) == [digest, digest]
    assert (state.parent / "batch").is_dir()  # the records beside it
    assert not (checkout / ".scanner" / "batch").exists()
    assert shipped.read_bytes() == before


def test_a_state_directory_inside_the_working_directory_is_refused_for_a_registry_source(
    cli, tmp_path: Path, checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner whose home is the checkout: the checkout could ship
    ``.local/state/scanner/ledger.db`` as well. The run stops before contacting the registry."""
    monkeypatch.setenv("XDG_STATE_HOME", str(checkout / ".local" / "state"))
    r = cli("gate", "oci://127.0.0.1:9/none/such:v1", "--plain-http", "-f", "json")
    assert r.code == 2, (r.code, r.err)
    assert "lies inside the working directory" in r.err and "--ledger" in r.err
