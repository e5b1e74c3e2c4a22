"""Signatures and attestations attached to an artifact's digest in a registry (OCI referrers) are
evidence the verdict rests on: each layer is fetched once (checked against its digest while it
streams), verified from those bytes, and named in the evidence record under
``inputs.attached_evidence`` — the referrer manifest's digest and the digest and size of the layer
read — by ``gate``, ``batch`` and ``promote`` alike, and shown in the reports. Against the real
docker-registry of ``tests/registry/conftest.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from scanner.registry import mediatypes as mt
from scanner.registry.client import Client
from scanner.registry.referrers import attach, build_referrer
from tests.registry.helpers import PLAIN, model_dir, signed_bundle


def _envelope(private_key: Path, digest: str, accuracy: float) -> bytes:
    """A DSSE envelope over a CycloneDX evaluation of ``digest``, signed with ``private_key``."""
    from cryptography.hazmat.primitives import serialization

    from scanner.verify.keyed import sign_envelope

    key = serialization.load_pem_private_key(private_key.read_bytes(), None)
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {
                "type": "machine-learning-model",
                "name": "model",
                "modelCard": {
                    "quantitativeAnalysis": {"performanceMetrics": [{"type": "accuracy", "value": str(accuracy)}]}
                },
            }
        ],
    }
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": bom,
    }
    return json.dumps(sign_envelope(key, json.dumps(statement).encode(), "application/vnd.in-toto+json")).encode()


def _attach(client: Client, repo: str, digest: str, payload: bytes, media_type: str, kind: str, host: str) -> dict:
    """Attach ``payload`` as cosign/oras would; returns the record entry expected for it."""
    subject = client.get_manifest(repo, digest).descriptor()
    referrer = build_referrer(client, repo, subject, media_type, [(payload, media_type)], {})
    attach(client, repo, referrer)
    [layer] = referrer.layers
    assert layer.digest == "sha256:" + hashlib.sha256(payload).hexdigest()
    return {
        "ref": f"oci://{host}/{repo}@{referrer.digest}",
        "referrer": referrer.digest,
        "subject": digest,
        "kind": kind,
        "layer": layer.digest,
        "media_type": media_type,
        "size": len(payload),
    }


def test_gate_batch_and_promote_list_the_attached_evidence_they_verified(
    cli, registry, repo, tmp_path: Path, sign_key
) -> None:
    client = Client(registry.host, PLAIN)
    pushed = cli("push", model_dir(tmp_path), registry.ref(repo, "dev"), "--plain-http")
    assert pushed.code == 0, pushed.err
    digest = pushed.out.strip().rsplit("@", 1)[1]
    bundle = signed_bundle(sign_key[0], digest, f"{registry.host}/{repo}")
    expected = [
        _attach(client, repo, digest, bundle, mt.SIGSTORE_BUNDLE, "signature", registry.host),
        _attach(
            client, repo, digest, _envelope(sign_key[0], digest, 0.93), mt.DSSE_ENVELOPE, "attestation", registry.host
        ),
    ]
    expected.sort(key=lambda e: e["referrer"])
    common = ["--stage", "dev", "--plain-http", "--no-ledger"]

    out = tmp_path / "gate.json"
    gate = cli("gate", registry.ref(repo, "dev"), *common, "--key", sign_key[1], "--attestation-key", sign_key[1],
               "-f", f"json={out}", "-q")  # fmt: skip
    assert gate.code in (0, 1), gate.err
    record = json.loads(out.read_text())
    listed = sorted(record["inputs"]["attached_evidence"], key=lambda e: e["referrer"])
    assert listed == expected
    assert [s["verified"] for s in record["sections"]["signatures"]] == [True]  # verified from those bytes
    assert [a["counted"] for a in record["quality"]["attestations"]] == [True, True]  # the bundle holds one too
    assert record["quality"]["metrics"]["accuracy"]["value"] == 0.93
    from tests.batch.test_beside_key import _valid

    _valid(record)
    from scanner.report.html import render as html
    from scanner.report.markdown import render as markdown

    for page in (html(record), markdown(record)):
        for entry in expected:
            assert entry["referrer"] in page and entry["layer"] in page

    records = tmp_path / "records"
    batch = cli("batch", registry.ref(repo, "dev"), *common, "--records", records, "--no-cache", "-f", "json")
    assert batch.code in (0, 1), batch.err
    [result] = json.loads(batch.out)["results"]
    judged = json.loads(Path(result["record"]).read_text())
    assert sorted(judged["inputs"]["attached_evidence"], key=lambda e: e["referrer"]) == expected

    promote = cli("promote", registry.ref(repo, "dev"), registry.ref(repo + "-rel", "staging"), "--stage", "staging",
                  "--plain-http", "--no-ledger", "--key", sign_key[1], "--attestation-key", sign_key[1],
                  "--sign-key", sign_key[0], "-f", "json")  # fmt: skip
    assert promote.code in (0, 1), promote.err
    promoted = json.loads(promote.out)
    assert sorted(promoted["inputs"]["attached_evidence"], key=lambda e: e["referrer"]) == expected
