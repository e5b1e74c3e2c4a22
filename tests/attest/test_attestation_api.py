"""The functions other commands call with attestation bytes (a registry's referrers): the same
checks as ``--attestation`` files, keyless Sigstore bundles with identity rules, subjects that
list every file of a directory, and the registry-mode baseline from a stage's VSA."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.evidence.baseline import vsa_baseline
from scanner.verify.attestation import AttestationTrust, SubjectIdentity, verify_attestation_bytes
from scanner.verify.identity import IdentityRule
from tests.attest.conftest import CDX, data_file, metrics_bom
from tests.verify.conftest import ASSETS, sha256, sign_dsse, statement

BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
    "extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GITHUB = "https://token.actions.githubusercontent.com"


def envelope_bytes(stmt: dict, key) -> bytes:
    return json.dumps(sign_dsse(stmt, key)).encode()


def test_bytes_from_a_registry_are_checked_like_files(model: Path, keys) -> None:
    subject = SubjectIdentity.of_artifact(detect(model))
    stmt = statement([("sentiment", subject.digest.partition(":")[2])], CDX, metrics_bom(accuracy=0.91))
    trust = AttestationTrust(keys=(keys["eval"].public,))
    [att] = verify_attestation_bytes(
        envelope_bytes(stmt, keys["eval"]), source="oci://r/m@sha256:x", subject=subject, trust=trust
    )
    assert att.counted and att.signer_kind == "key" and att.signer.endswith("(eval.pub)")
    assert att.summary["metrics"] == [{"type": "accuracy", "value": 0.91, "slice": None}]
    assert att.source == "oci://r/m@sha256:x"  # a registry reference stays as given
    [untrusted] = verify_attestation_bytes(
        envelope_bytes(stmt, keys["other"]), source="ref", subject=subject, trust=trust
    )
    assert not untrusted.counted and untrusted.problem == "ATTESTATION-UNTRUSTED"
    [nobody] = verify_attestation_bytes(
        envelope_bytes(stmt, keys["eval"]), source="ref", subject=subject, trust=AttestationTrust()
    )
    assert nobody.reason == "signature not trusted: signed with a key, and no --attestation-key is trusted"


def test_every_file_of_a_directory_as_subjects(model: Path, keys) -> None:
    subject = SubjectIdentity.of_artifact(detect(model))
    files = [(p.name, sha256(p)) for p in sorted(model.iterdir())]
    trust = AttestationTrust(keys=(keys["eval"].public,))
    every = statement(files, CDX, metrics_bom(f1=0.8))
    [att] = verify_attestation_bytes(envelope_bytes(every, keys["eval"]), source="s", subject=subject, trust=trust)
    assert att.counted
    partial = statement(files[:-1], CDX, metrics_bom(f1=0.8))
    [att] = verify_attestation_bytes(envelope_bytes(partial, keys["eval"]), source="s", subject=subject, trust=trust)
    assert not att.counted and att.problem == "ATTESTATION-SUBJECT-MISMATCH"


def test_keyless_sigstore_bundle_counts_for_a_trusted_identity(tmp_path: Path) -> None:
    raw = (ASSETS / "a.dsse.staging-rekor-v2.txt.sigstore.json").read_bytes()
    payload = json.loads(base64.b64decode(json.loads(raw)["dsseEnvelope"]["payload"]))
    digest = "sha256:" + payload["subject"][0]["digest"]["sha256"]
    subject = SubjectIdentity(digest=digest, name="a.txt")
    trusted = AttestationTrust(rules=(IdentityRule(identity=BEACON, issuer=GITHUB),), staging=True)
    [att] = verify_attestation_bytes(raw, source="bundle", subject=subject, trust=trusted)
    assert att.counted and att.signer == BEACON and att.issuer == GITHUB and att.signer_kind == "keyless"
    assert att.predicate_type == "https://slsa.dev/provenance/v1"
    other = AttestationTrust(rules=(IdentityRule(identity="someone@example.com", issuer=GITHUB),), staging=True)
    [att] = verify_attestation_bytes(raw, source="bundle", subject=subject, trust=other)
    assert not att.counted and att.signer == BEACON and "signer not allowed" in (att.reason or "")
    elsewhere = SubjectIdentity(digest="sha256:" + "0" * 64, name="x")
    [att] = verify_attestation_bytes(raw, source="bundle", subject=elsewhere, trust=trusted)
    assert not att.counted and att.problem == "ATTESTATION-SUBJECT-MISMATCH"


@pytest.fixture
def staging_vsa(cli, model: Path, keys, tmp_path: Path) -> tuple[Path, str]:
    """A real VSA from the gate (staging, signed by the gate key) and the digest it is about."""
    data = data_file(tmp_path)
    vsa = tmp_path / "staging.vsa.json"
    run = cli(
        "gate",
        model,
        "--stage",
        "staging",
        "--data",
        data,
        "--sign-key",
        keys["gate"].private,
        "--attestation-output",
        vsa,
        "-q",
        "-f",
        f"json={tmp_path / 'r.json'}",
    )
    assert run.code == 0, run.err
    return vsa, detect(model).digest


def test_registry_baseline_from_the_stage_tags_vsa(staging_vsa, keys) -> None:
    vsa, digest = staging_vsa
    from scanner.check import AttachedInput
    from scanner.registry.discover import AttachedDocument

    raw = vsa.read_bytes()
    layer = "sha256:" + hashlib.sha256(raw).hexdigest()
    ref = AttachedInput("oci://r/m@sha256:" + "2" * 64, "sha256:" + "2" * 64, digest, "vsa", layer, "x", len(raw))
    docs = [AttachedDocument(ref, raw)]
    trust = AttestationTrust(keys=(keys["gate"].public,))
    base = vsa_baseline(docs, stage="staging", stage_digest=digest, trust=trust, model="sentiment")
    assert base.found and base.source == "registry" and base.digest == digest
    assert base.read == (ref,)  # named for the evidence record
    assert base.metrics == {"accuracy": 0.95, "accuracy@imdb": 0.95}
    wrong_key = vsa_baseline(
        docs, stage="staging", stage_digest=digest, trust=AttestationTrust(keys=(keys["eval"].public,))
    )
    assert not wrong_key.found and "verifies with none of the 1 trusted key(s)" in (wrong_key.error or "")
    other_digest = vsa_baseline(docs, stage="staging", stage_digest="sha256:" + "1" * 64, trust=trust)
    assert not other_digest.found and "not about this artifact" in (other_digest.error or "")
    other_stage = vsa_baseline(docs, stage="prod", stage_digest=digest, trust=trust)
    assert not other_stage.found and "PASSED for stage staging" in (other_stage.error or "")
    nothing = vsa_baseline([], stage="prod", stage_digest=digest, trust=trust)
    assert not nothing.found and "no verification summary attached" in (nothing.error or "")


def test_too_many_documents_in_one_file_are_not_verified(model: Path, keys) -> None:
    subject = SubjectIdentity.of_artifact(detect(model))
    stmt = statement([("sentiment", subject.digest.partition(":")[2])], CDX, metrics_bom(accuracy=0.91))
    line = envelope_bytes(stmt, keys["eval"])
    trust = AttestationTrust(keys=(keys["eval"].public,))
    ok = verify_attestation_bytes(b"\n".join([line] * 3), source="s", subject=subject, trust=trust)
    assert [a.counted for a in ok] == [True, True, True] and ok[1].source == "s:2"
    [refused] = verify_attestation_bytes(b"\n".join([line] * 257), source="s", subject=subject, trust=trust)
    assert not refused.counted and refused.reason == "257 documents in one file, more than the 256 read: none verified"
