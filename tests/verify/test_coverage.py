"""A signature or provenance about a directory counts only when it covers every file: a file
added after signing, or left out by the signer, is named, and the signature does not verify."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from tests.verify.conftest import sha256, sign_dsse, statement
from tests.verify.test_gate_verify import gate, policy_data
from tests.verify.test_model_signing import make_model
from tests.verify.test_provenance import BUILDER, slsa_v1

TRUSTED = {"trusted_builders": [BUILDER], "source_repositories": ["https://github.com/acme/app"]}


def sign_model(model: Path, key: Path, signature: Path, ignore: list[str] | None = None) -> None:
    from model_signing import hashing, signing

    config = signing.Config().use_elliptic_key_signer(private_key=key)
    hashing_config = hashing.Config().use_file_serialization(hashing_algorithm="sha256")
    if ignore:
        hashing_config.set_ignored_paths(paths=[model / p for p in ignore])
    config.set_hashing_config(hashing_config)
    config.sign(model, signature)


def _signature_entries(out) -> list[dict]:
    return out.policy_input["signatures"]


def _denies(out) -> dict[str, str]:
    return {d.rule: d.message for d in out.decision.deny}


def test_file_added_after_model_signing_is_named_and_signature_does_not_count(cli, tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    sign_model(model, keys["signer"].private, model / "model.sig")  # inside: exempt from coverage
    flags = {"key": str(keys["signer"].public)}
    [entry] = _signature_entries(gate(model, dict(flags), stage="prod"))
    assert entry["verified"] is True and "unsigned" not in entry

    (model / "extra.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    out = gate(model, dict(flags), stage="prod")
    [entry] = _signature_entries(out)
    assert entry["verified"] is False and entry["unsigned"] == ["extra.pkl"]
    [finding] = [f for f in out.policy_input["findings"] if f["id"] == "SIGNATURE-PARTIAL-COVERAGE"]
    assert finding["evidence"]["unsigned"] == ["extra.pkl"] and "extra.pkl" in finding["message"]
    assert "extra.pkl" in _denies(out)["signature-required"]
    assert not out.decision.allow


def test_files_the_signer_ignored_are_unsigned(tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    sign_model(model, keys["signer"].private, tmp_path / "tiny-model.sig", ignore=["tokenizer"])
    out = gate(model, {"key": str(keys["signer"].public)}, stage="prod")
    [entry] = _signature_entries(out)
    assert entry["verified"] is False and entry["unsigned"] == ["tokenizer/vocab.txt"]
    assert "1 file is not signed (tokenizer/vocab.txt)" in entry["error"]


def test_intoto_subjects_naming_some_files_of_a_directory(tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    names = ["config.json", "model.safetensors", "tokenizer/vocab.txt"]
    bundle = tmp_path / "some.json"

    def sign(subjects: list[str]) -> None:
        stmt = statement([(n, sha256(model / n)) for n in subjects], "https://example.com/attest/v1", {})
        bundle.write_text(json.dumps(sign_dsse(stmt, keys["signer"])))

    sign(names[:2])
    out = gate(model, {"key": str(keys["signer"].public), "bundle": [Path(bundle)]})
    [entry] = _signature_entries(out)
    assert entry["verified"] is False and entry["unsigned"] == ["tokenizer/vocab.txt"]
    assert "covers 2 of 3 files" in entry["error"]
    assert {f["id"] for f in out.policy_input["findings"]} >= {"SIGNATURE-PARTIAL-COVERAGE"}

    sign(names)
    [entry] = _signature_entries(gate(model, {"key": str(keys["signer"].public), "bundle": [Path(bundle)]}))
    assert entry["verified"] is True and entry["error"] is None


def test_provenance_naming_some_files_of_a_directory(tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    prov = tmp_path / "tiny-model.intoto.jsonl"
    stmt = slsa_v1("config.json", sha256(model / "config.json"))
    prov.write_text(json.dumps(sign_dsse(stmt, keys["signer"])))
    out = gate(model, {"key": str(keys["signer"].public), "policy_data": policy_data(provenance=TRUSTED)})
    [entry] = out.policy_input["provenance"]
    assert entry["verified"] is False
    assert entry["unsigned"] == ["model.safetensors", "tokenizer/vocab.txt"]
    [finding] = [f for f in out.policy_input["findings"] if f["id"] == "PROVENANCE-PARTIAL-COVERAGE"]
    assert finding["evidence"]["unsigned"] == ["model.safetensors", "tokenizer/vocab.txt"]


def test_verify_runs_the_pipeline_checks_with_the_same_digest(cli, tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    sign_model(model, keys["signer"].private, model / "model.sig")
    (model / "extra.pkl").write_bytes(pickle.dumps([1]))
    r = cli("verify", model, "--key", keys["signer"].public, "-f", "json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    [entry] = doc["signatures"]
    assert entry["verified"] is False and entry["unsigned"] == ["extra.pkl"]
    gate_run = cli("gate", model, "--key", keys["signer"].public, "--no-ledger", "-f", "json")
    scan_run = cli("scan", model, "-f", "json", "--no-second-opinion")
    digests = {json.loads(run.out)["artifact"]["digest"] for run in (gate_run, scan_run)}
    assert digests == {doc["digest"]}
