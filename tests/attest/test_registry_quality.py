"""Evidence and quality in a real registry (Debian's docker-registry): `scanner attest oci://…
--attach` stores a signed evaluation beside the digest, the gate discovers it, the baseline is
read from the stage tag's VSA, and the previous stage's VSA attached to the digest lets a
promotion through (its absence stops one)."""

from __future__ import annotations

import json
from pathlib import Path

from scanner.registry.client import Client
from tests.attest.conftest import CDX, data_file, metrics_bom, write_json
from tests.registry.helpers import PLAIN, model_dir

QUALITY = {"quality": {"min": {"accuracy": 0.9}, "no_regression": ["accuracy"], "signed_only": True}}


def push(cli, registry, repo: str, tag: str, path: Path) -> str:
    r = cli("push", path, registry.ref(repo, tag), "--plain-http")
    assert r.code == 0, r.err
    return Client(registry.host, PLAIN).resolve(repo, tag) or ""


def attest_remote(cli, registry, repo: str, tag: str, accuracy: float, key: Path, tmp_path: Path) -> None:
    pred = write_json(tmp_path / f"eval-{tag}.json", metrics_bom(accuracy=accuracy))
    r = cli("attest", registry.ref(repo, tag), "--predicate-type", "cyclonedx", "--predicate", pred,
            "--sign-key", key, "--attach", "--plain-http")  # fmt: skip
    assert r.code == 0, r.err
    assert "attached as referrer sha256:" in r.err


def promote(cli, registry, repo: str, src: str, dst: str, stage: str, data: Path, keys, sign_key) -> tuple[int, dict]:
    r = cli("promote", registry.ref(repo, src), registry.ref(repo, dst), "--stage", stage, "--plain-http",
            "--data", data, "--sign-key", sign_key[0], "--attestation-key", keys["eval"].public,
            "-f", "json")  # fmt: skip
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)


def test_attached_evaluation_counts_and_prod_refuses_a_regression(
    cli, registry, repo, tmp_path, keys, sign_key
) -> None:
    data = data_file(tmp_path, staging=QUALITY)
    v1 = push(cli, registry, repo, "build-1", model_dir(tmp_path / "v1", weights=64))
    v2 = push(cli, registry, repo, "build-2", model_dir(tmp_path / "v2", weights=65))
    assert v1 != v2
    attest_remote(cli, registry, repo, "build-1", 0.93, keys["eval"].private, tmp_path)
    attest_remote(cli, registry, repo, "build-2", 0.92, keys["eval"].private, tmp_path)

    # first promotion to staging: the attached evaluation is found and counts; no baseline yet
    code, doc = promote(cli, registry, repo, "build-1", "staging", "staging", data, keys, sign_key)
    assert code == 0, doc["decision"]
    # a regression against what the staging tag holds: the baseline is its VSA's metrics
    code, doc = promote(cli, registry, repo, "build-2", "staging", "staging", data, keys, sign_key)
    assert code == 1
    [deny] = [d for d in doc["decision"]["deny"] if d["rule"] == "quality-regression"]
    assert deny["message"].startswith(f"metric accuracy regressed: 0.92 is worse than 0.93 held by staging now ({v1}, ")
    assert f"oci://{registry.host}/{repo}@sha256:" in deny["message"]
    assert Client(registry.host, PLAIN).resolve(repo, "staging") == v1  # denied: target untouched

    # prod (previous_stage_required, shipped): v1's staging VSA is attached to its digest and
    # signed by the gate's own key; v2 never passed staging
    code, doc = promote(cli, registry, repo, "build-1", "prod", "prod", data, keys, sign_key)
    assert code == 0, doc["decision"]
    code, doc = promote(cli, registry, repo, "build-2", "prod", "prod", data, keys, sign_key)
    assert code == 1
    assert "stage-skipped" in {d["rule"] for d in doc["decision"]["deny"]}


def test_attestation_attached_by_an_untrusted_key_does_not_count(cli, registry, repo, tmp_path, keys) -> None:
    data = data_file(tmp_path, staging=QUALITY)
    push(cli, registry, repo, "build-1", model_dir(tmp_path, weights=66))
    attest_remote(cli, registry, repo, "build-1", 0.99, keys["other"].private, tmp_path)
    out = tmp_path / "record.json"
    r = cli("gate", registry.ref(repo, "build-1"), "--stage", "staging", "--plain-http", "--data", data,
            "--attestation-key", keys["eval"].public, "-f", f"json={out}", "-q")  # fmt: skip
    assert r.code == 1, r.err
    record = json.loads(out.read_text())
    denies = {d["rule"]: d["message"] for d in record["decision"]["deny"]}
    assert denies["quality-metric"] == "metric accuracy is missing (stage staging requires min 0.9)"
    [entry] = record["quality"]["attestations"]
    assert not entry["counted"] and entry["source"].startswith(f"oci://{registry.host}/{repo}@sha256:")
    assert "verifies with none of the 1 trusted key(s)" in entry["reason"]


def test_attach_needs_a_registry_reference(cli, model: Path, keys, tmp_path: Path) -> None:
    pred = write_json(tmp_path / "p.json", metrics_bom(accuracy=0.9))
    r = cli("attest", model, "--predicate-type", CDX, "--predicate", pred, "--sign-key", keys["eval"].private,
            "--attach")  # fmt: skip
    assert r.code == 2 and "--attach needs an oci:// PATH" in r.err
    r = cli("attest", model, "--predicate-type", CDX, "--predicate", pred, "--sign-key", keys["eval"].private)
    assert r.code == 2 and "say where the attestation goes" in r.err
