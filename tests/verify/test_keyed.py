"""Managed-key verification (our own code: sigstore-python refuses bundles without a
certificate): DSSE envelopes signed by securesystemslib, and key-signed Sigstore bundles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.verify.api import Options, verify_artifact
from scanner.verify.keyed import key_hint
from tests.verify.conftest import b64, flip_byte, sha256, sign_dsse, statement

PREDICATE = "https://example.com/test-result/v1"


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "app-1.0.tar.gz"
    path.write_bytes(b"release contents\n" * 1000)
    return path


def write_envelope(path: Path, env: dict) -> Path:
    path.write_text(json.dumps(env))
    return path


def test_dsse_envelope_with_key(cli, artifact: Path, keys) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {"ok": True}), keys["signer"])
    bundle = write_envelope(artifact.with_name("att.json"), env)
    run = cli("verify", artifact, "--bundle", bundle, "--key", keys["signer"].public)
    assert run.code == 0, run.out
    assert f"OK    dsse-key         {bundle}: signed with the given key" in run.out
    assert f"statement: {PREDICATE}" in run.out


def test_dsse_envelope_swapped_key(artifact: Path, keys) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    bundle = write_envelope(artifact.with_name("att.json"), env)
    [r] = verify_artifact(artifact, bundle, Options(key=keys["other"].public))
    assert (r.type, r.verified, r.signature_ok) == ("dsse-key", False, False)
    assert r.error == "DSSE signature does not verify with the given key (wrong key or tampered envelope)"


def test_dsse_envelope_tampered_payload(artifact: Path, keys) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {"n": 1}), keys["signer"])
    env["payload"] = b64(json.dumps(statement([(artifact.name, sha256(artifact))], PREDICATE, {"n": 2})).encode())
    [r] = verify_artifact(
        artifact, write_envelope(artifact.with_name("a.json"), env), Options(key=keys["signer"].public)
    )
    assert r.error == "DSSE signature does not verify with the given key (wrong key or tampered envelope)"


def test_dsse_envelope_artifact_changed(artifact: Path, keys) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    bundle = write_envelope(artifact.with_name("att.json"), env)
    flip_byte(artifact, 100)
    [r] = verify_artifact(artifact, bundle, Options(key=keys["signer"].public))
    assert r.signature_ok and not r.verified
    assert r.error is not None and r.error.startswith(
        f"the artifact (sha256:{sha256(artifact)[:12]}…) is not a subject"
    )


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda e: e.update(payloadType="text/plain"), "unknown DSSE payload type 'text/plain'"),
        (lambda e: e.update(signatures=[]), "DSSE envelope has no signatures"),
        (lambda e: e.update(payload="***"), "DSSE payload is not valid base64"),
        (lambda e: e["signatures"][0].update(sig="@@"), "DSSE signature is not valid base64"),
    ],
    ids=["payload-type", "no-signatures", "payload-b64", "sig-b64"],
)
def test_malformed_envelopes(artifact: Path, keys, mutate, error: str) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    mutate(env)
    [r] = verify_artifact(
        artifact, write_envelope(artifact.with_name("a.json"), env), Options(key=keys["signer"].public)
    )
    assert not r.verified and r.error is not None and r.error.startswith(error)


def test_signed_payload_that_is_not_a_statement(artifact: Path, keys) -> None:
    env = sign_dsse({"hello": "world"}, keys["signer"])
    [r] = verify_artifact(
        artifact, write_envelope(artifact.with_name("a.json"), env), Options(key=keys["signer"].public)
    )
    assert r.signature_ok and r.error == "not an in-toto statement (_type None)"


def test_envelope_without_key_is_refused(artifact: Path, keys) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    [r] = verify_artifact(artifact, write_envelope(artifact.with_name("a.json"), env), Options())
    assert r.error == "a DSSE envelope carries no certificate: verify it with --key"


def test_jsonl_envelopes_each_verified(artifact: Path, keys) -> None:
    good = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    bad = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["other"])
    path = artifact.with_name("app.intoto.jsonl")
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    results = verify_artifact(artifact, path, Options(key=keys["signer"].public))
    assert [(r.bundle, r.verified) for r in results] == [(f"{path}:1", True), (f"{path}:2", False)]


def key_signed_bundle(artifact: Path, key: ec.EllipticCurvePrivateKey) -> dict:
    """A Sigstore bundle v0.3 with a message signature and a public-key hint (as cosign and
    model-signing write for managed keys)."""
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    digest = hashlib.sha256(artifact.read_bytes()).digest()
    sig = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": key_hint(key.public_key())}, "tlogEntries": []},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)}, "signature": b64(sig)},
    }


def test_key_signed_message_bundle(cli, artifact: Path, keys) -> None:
    bundle = artifact.with_name(artifact.name + ".sigstore.json")  # discovered beside the artifact
    bundle.write_text(json.dumps(key_signed_bundle(artifact, keys["signer"].key)))
    run = cli("verify", artifact, "--key", keys["signer"].public)
    assert run.code == 0, run.out
    assert f"OK    sigstore-bundle  {bundle}: signed with the given key" in run.out
    # sigstore-python itself would refuse it; without --key we say what to do
    keyless = cli("verify", artifact, "--cert-identity", "a@b", "--cert-oidc-issuer", "https://x")
    assert "bundle has no certificate (signed with a key? verify it with --key)" in keyless.out
    swapped = cli("verify", artifact, "--key", keys["other"].public)
    assert swapped.code == 1
    assert "bundle was signed with a different key (its key hint does not match the given key)" in swapped.out


def test_key_signed_message_bundle_artifact_changed(artifact: Path, keys) -> None:
    bundle = artifact.with_name("b.sigstore.json")
    doc = key_signed_bundle(artifact, keys["signer"].key)
    bundle.write_text(json.dumps(doc))
    flip_byte(artifact)
    [r] = verify_artifact(artifact, bundle, Options(key=keys["signer"].public))
    assert r.error == "artifact digest does not match the bundle's message digest (artifact changed)"
    del doc["messageSignature"]["messageDigest"]  # no recorded digest: the signature itself must fail
    bundle.write_text(json.dumps(doc))
    [r] = verify_artifact(artifact, bundle, Options(key=keys["signer"].public))
    assert r.error == "signature does not verify with the given key (artifact changed or wrong key)"


def test_bad_key_files(cli, artifact: Path, keys, tmp_path: Path) -> None:
    env = sign_dsse(statement([(artifact.name, sha256(artifact))], PREDICATE, {}), keys["signer"])
    bundle = write_envelope(artifact.with_name("att.json"), env)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    run = cli("verify", artifact, "--bundle", bundle, "--key", junk)
    assert run.code == 2 and f"scanner: error: {junk}: not a PEM or DER public key" in run.err
    run = cli("verify", artifact, "--bundle", bundle, "--key", tmp_path / "missing.pem")
    assert run.code == 2 and "public key not found" in run.err


def test_ed25519_and_rsa_keys(artifact: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    stmt = statement([(artifact.name, sha256(artifact))], PREDICATE, {})
    for name, key in (
        ("ed", ed25519.Ed25519PrivateKey.generate()),
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ):
        pub = tmp_path / f"{name}.pub"
        pub.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        env = Envelope(payload=json.dumps(stmt).encode(), payload_type="application/vnd.in-toto+json", signatures={})
        env.sign(CryptoSigner(key))
        [r] = verify_artifact(artifact, write_envelope(tmp_path / f"{name}.json", env.to_dict()), Options(key=pub))
        assert r.verified, (name, r.error)


def test_oversized_signature_file(artifact: Path, keys) -> None:
    big = artifact.with_name("big.sigstore.json")
    with big.open("wb") as fh:
        fh.truncate((16 << 20) + 1)
    [r] = verify_artifact(artifact, big, Options(key=keys["signer"].public))
    assert r.error == f"signature file is {(16 << 20) + 1} bytes, more than the 16 MiB allowed"


def test_identity_and_regexp_together(cli, artifact: Path) -> None:
    run = cli("verify", artifact, "--cert-identity", "a", "--cert-identity-regexp", "b", "--cert-oidc-issuer", "x")
    assert run.code == 2 and "give --cert-identity or --cert-identity-regexp, not both" in run.err
