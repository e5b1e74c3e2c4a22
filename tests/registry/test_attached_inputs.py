"""Signatures and attestations attached to an artifact's digest in a registry (OCI referrers) are
evidence the verdict rests on: each layer is fetched once (checked against its digest while it
streams), verified from those bytes, and named in the evidence record under
``inputs.attached_evidence`` — the referrer manifest's digest and the digest and size of the layer
read — by ``gate``, ``batch`` and ``promote`` alike, and shown in the reports. Against the real
docker-registry of ``tests/registry/conftest.py``."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget
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

    from scanner.options import GateOptions, VerifyOptions
    from scanner.registry.promote import promote
    from scanner.registry.reference import parse_reference
    from scanner.verify.attestation import AttestationOptions

    options = GateOptions(
        stage="staging", verify=VerifyOptions(key=sign_key[1]), attestations=AttestationOptions(keys=(sign_key[1],))
    )
    src, dst = parse_reference(registry.ref(repo, "dev")), parse_reference(registry.ref(repo + "-rel", "staging"))
    result = promote(src, dst, options, PLAIN, sign_key=sign_key[0], record_ledger=False)
    promoted = result.outcome.record
    assert sorted(promoted["inputs"]["attached_evidence"], key=lambda e: e["referrer"]) == expected
    assert result.allowed, result.outcome.decision
    # the signed summary attached by the promotion names the same documents by their referrers
    from scanner.registry.discover import discover

    target = Client(registry.host, PLAIN)
    [vsa] = [
        d for a in discover(target, repo + "-rel", digest, Budget(1 << 20)) if a.kind == "vsa" for d in a.documents
    ]
    statement = json.loads(base64.b64decode(json.loads(vsa.raw)["payload"]))
    named = statement["predicate"]["inputAttestations"]
    for entry in expected:
        described = {"sha256": entry["referrer"].split(":", 1)[1]}
        assert {"uri": entry["ref"], "digest": described, "annotations": {"layer": entry["layer"]}} in named

    # the next promotion to that tag reads its baseline from the VSA the stage tag's digest holds:
    # that document is evidence too, named with the digest it is attached to
    again = cli("push", model_dir(tmp_path / "v2", weights=65), registry.ref(repo, "dev2"), "--plain-http")
    assert again.code == 0, again.err
    second = promote(
        parse_reference(registry.ref(repo, "dev2")), dst, options, PLAIN, sign_key=sign_key[0], record_ledger=False
    )
    [baseline] = [e for e in second.outcome.record["inputs"]["attached_evidence"] if e["kind"] == "vsa"]
    assert baseline["subject"] == digest and baseline["layer"] == vsa.input.layer
    assert baseline["ref"] == f"oci://{registry.host}/{repo}-rel@{vsa.input.referrer}"
