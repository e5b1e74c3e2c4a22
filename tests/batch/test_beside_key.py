"""The cache key of an artifact with signature and provenance files beside it.

A judged verdict is filed under the digests of the bytes the gate verified
(``job.judged_identity``); a later run looks it up by hashing the files as they are then
(``job.cache_identity``). Both must give the same key for unchanged files, another key as soon
as one changed, and no key at all for a file the gate could not read whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scanner.batch import job
from scanner.options import GateOptions
from scanner.pipeline import gate
from scanner.verify.documents import MAX_BYTES
from tests.batch.conftest import clean_model
from tests.verify.conftest import ASSETS, GITHUB, make_keypair, sign_dsse, statement
from tests.verify.test_model_signing import sign_with_key

WHL = "bundle_v3_github.whl"
WHL_ID = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"


def _signed_model(tmp_path: Path) -> Path:
    """A model directory with three files beside it: its model signature (``m.sig``), a
    Sigstore-named DSSE envelope (``m.sigstore.json``) and SLSA provenance (``m.intoto.jsonl``)."""
    model = clean_model(tmp_path / "m", 5)
    keys = make_keypair(tmp_path, "signer")
    sign_with_key(model, keys.private, tmp_path / "m.sig")
    stmt = statement([("m", "ab" * 32)], "https://slsa.dev/provenance/v1", {"buildDefinition": {}})
    (tmp_path / "m.sigstore.json").write_text(json.dumps(sign_dsse(stmt, keys)))
    (tmp_path / "m.intoto.jsonl").write_text(json.dumps(sign_dsse(stmt, keys)) + "\n")
    return model


def _batch(cli, tmp_path: Path, *args: str | Path) -> dict:
    flags = ["--workers", "1", "--cache", tmp_path / "cache", "--records", tmp_path / "rec", "--no-ledger"]
    run = cli("batch", *args, *flags, "-f", "json")
    [result] = json.loads(run.out)["results"]
    assert result["error"] is None, run.err
    return result


def test_the_judged_key_is_the_lookup_key_of_the_unchanged_files(tmp_path: Path) -> None:
    model = _signed_model(tmp_path)
    outcome = gate(model, GateOptions())
    inputs = [item for r in outcome.results for item in r.inputs]
    assert {i.path.name for i in inputs} == {"m.sig", "m.sigstore.json", "m.intoto.jsonl"}
    judged = job.judged_identity(outcome.artifact, inputs)
    assert judged is not None and "+beside:sha256:" in judged
    assert judged == job.cache_identity(job.identify(str(model)))
    (tmp_path / "m.intoto.jsonl").write_text("\n" + (tmp_path / "m.intoto.jsonl").read_text())
    assert job.cache_identity(job.identify(str(model))) != judged


def test_a_signature_inside_the_model_is_not_keyed_twice(tmp_path: Path) -> None:
    """``model.sig`` inside the directory is part of the artifact digest: the key is the digest."""
    model = clean_model(tmp_path / "m", 6)
    sign_with_key(model, make_keypair(tmp_path, "signer").private, model / "model.sig")
    outcome = gate(model, GateOptions())
    inputs = [item for r in outcome.results for item in r.inputs]
    assert {i.path.name for i in inputs} == {"model.sig"}  # (both checks read it: one read, two results)
    assert job.judged_identity(outcome.artifact, inputs) == outcome.artifact.digest
    assert job.cache_identity(job.identify(str(model))) == outcome.artifact.digest


def test_batch_answers_unchanged_files_from_the_cache_and_judges_a_changed_one_again(cli, tmp_path: Path) -> None:
    model = _signed_model(tmp_path)
    first = _batch(cli, tmp_path, model)
    assert first["cached"] is False
    assert _batch(cli, tmp_path, model)["cached"] is True
    (tmp_path / "m.intoto.jsonl").write_text("\n" + (tmp_path / "m.intoto.jsonl").read_text())
    changed = _batch(cli, tmp_path, model)
    assert changed["cached"] is False and changed["digest"] == first["digest"]
    record = json.loads(Path(changed["record"]).read_text())
    assert sorted(Path(f["path"]).name for f in record["inputs"]["signature_files"]) == [
        "m.intoto.jsonl",
        "m.sig",
        "m.sigstore.json",
    ]


def test_a_signature_file_too_large_to_read_is_never_cached(cli, tmp_path: Path) -> None:
    model = clean_model(tmp_path / "m", 7)
    with (tmp_path / "m.sigstore.json").open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    first = _batch(cli, tmp_path, model)
    record = json.loads(Path(first["record"]).read_text())
    assert record["inputs"]["signature_files"][0]["sha256"] is None
    _valid(record)
    assert _batch(cli, tmp_path, model)["cached"] is False


def test_gate_and_batch_agree_on_a_signed_artifact(cli, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    artifact = work / WHL
    shutil.copyfile(ASSETS / WHL, artifact)
    shutil.copyfile(ASSETS / f"{WHL}.sigstore", work / f"{WHL}.sigstore")
    data = json.loads((Path(__file__).resolve().parents[2] / "policies" / "data.json").read_text())
    data["scanner"]["config"]["signatures"]["allowed_identities"] = [{"identity": WHL_ID, "issuer": GITHUB}]
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    gated = cli("gate", artifact, "--stage", "staging", "--data", data_file, "--no-ledger", "-f", "json")
    assert gated.code == 0, gated.err
    from_gate = json.loads(gated.out)
    batched = _batch(cli, tmp_path, artifact, "--stage", "staging", "--data", data_file)
    from_batch = json.loads(Path(batched["record"]).read_text())
    assert batched["allow"] is True and batched["digest"] == from_gate["artifact"]["digest"]
    assert from_batch["inputs"]["signature_files"] == from_gate["inputs"]["signature_files"] != []
    assert from_batch["sections"]["signatures"] == from_gate["sections"]["signatures"]
    assert from_batch["decision"] == from_gate["decision"]
    _valid(from_gate)


def _valid(record: dict) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "evidence-schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(record)
