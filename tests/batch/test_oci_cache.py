"""The result cache for `oci://` sources, against a real registry (docker-registry on 127.0.0.1).

A registry artifact's verdict depends on its manifest digest and on what is attached to it
(signatures, attestations: OCI referrers). The cache key holds both, learnt with one registry
round trip and no pull; these tests change each of them and tamper with the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.batch.conftest import clean_model, malicious_model


@pytest.fixture(scope="module")
def sign_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway EC private key (PEM) to sign attached evidence with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path_factory.mktemp("key") / "sign.key"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _client(registry):
    from scanner.registry.client import Client
    from scanner.registry.options import RegistryOptions

    return Client(registry.host, RegistryOptions(plain_http=True))


def _push(cli, registry, model: Path, repo: str, tag: str = "v1") -> tuple[str, str]:
    """(oci:// ref by tag, manifest digest)."""
    ref = registry.ref(repo, tag)
    r = cli("push", model, ref, "--plain-http")
    assert r.code == 0, r.err
    return ref, r.out.strip().rsplit("@", 1)[1]


def _attach(registry, repo: str, digest: str, payload: bytes, media_type: str) -> str:
    """Attach ``payload`` to ``digest`` as cosign/oras would (the tag-schema index on this
    registry, which has no referrers API); returns the referrer's digest."""
    from scanner.registry.referrers import attach, build_referrer

    client = _client(registry)
    subject = client.get_manifest(repo, digest).descriptor()
    referrer = build_referrer(client, repo, subject, media_type, [(payload, media_type)], {})
    attach(client, repo, referrer)
    return referrer.digest


def _bundle(key: Path, digest: str, predicate_type: str = "https://example.com/reviewed/v1") -> bytes:
    """A Sigstore bundle (DSSE over an in-toto statement about ``digest``), signed with ``key``."""
    from cryptography.hazmat.primitives import serialization

    from scanner.registry import mediatypes as mt
    from scanner.verify.keyed import key_hint, sign_envelope

    private = serialization.load_pem_private_key(key.read_bytes(), None)
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": {"reviewed": True},
    }
    envelope = sign_envelope(private, json.dumps(statement).encode(), "application/vnd.in-toto+json")
    bundle = {
        "mediaType": mt.SIGSTORE_BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(private.public_key())}},  # type: ignore[arg-type]
        "dsseEnvelope": envelope,
    }
    return json.dumps(bundle).encode()


def _run(cli, cache: Path, *args: str | Path, code: int | None = None) -> dict:
    r = cli("batch", *args, "--plain-http", "--workers", "1", "--cache", cache, "--no-ledger", "-f", "json")
    if code is not None:
        assert r.code == code, r.err
    doc = json.loads(r.out)
    doc["stderr"] = r.err
    return doc


def _cached(doc: dict) -> list[bool]:
    return [x["cached"] for x in doc["results"]]


def test_unchanged_registry_artifacts_are_answered_from_the_cache_without_a_pull(cli, registry, tmp_path: Path) -> None:
    clean, clean_digest = _push(cli, registry, clean_model(tmp_path / "clean", 31), "oc/clean")
    evil, evil_digest = _push(cli, registry, malicious_model(tmp_path / "evil"), "oc/evil")
    cache = tmp_path / "cache"
    first = _run(cli, cache, clean, evil, code=1)
    assert _cached(first) == [False, False]
    assert [x["digest"] for x in first["results"]] == [clean_digest, evil_digest]
    assert [x["allow"] for x in first["results"]] == [True, False]
    # take a layer of the clean model out of the registry: a pull of it now fails, so a verdict
    # that still arrives cannot have come from a pull
    client = _client(registry)
    layer = client.get_manifest("oc/clean", clean_digest).layers[0].digest
    client.request("DELETE", f"/v2/oc/clean/blobs/{layer}", what="delete a layer", ok=(202,)).close()
    second = _run(cli, cache, clean, evil, code=1)
    assert _cached(second) == [True, True] and second["counts"]["cached"] == 2
    assert [(x["digest"], x["allow"]) for x in second["results"]] == [(clean_digest, True), (evil_digest, False)]
    assert [d["rule"] for d in second["results"][1]["deny"]] == ["model-unsafe"]
    record = json.loads(Path(second["results"][0]["record"]).read_text())
    assert record["batch"]["cached"] is True and record["artifact"]["digest"] == clean_digest
    # without the cache the missing layer is met: proof that the run above pulled nothing
    r = cli("batch", clean, "--plain-http", "--workers", "1", "--no-cache", "--no-ledger", "-f", "json")
    assert r.code == 2 and json.loads(r.out)["results"][0]["error"]


def test_evidence_attached_to_the_same_digest_is_judged_again(cli, registry, tmp_path: Path, sign_key: Path) -> None:
    from scanner.registry import mediatypes as mt
    from tests.registry.helpers import data_relaxed_prod

    ref, digest = _push(cli, registry, clean_model(tmp_path / "m", 32), "oc/signed")
    # staging, without the requirements a test registry cannot meet (a keyless signature, SLSA
    # provenance): an invalid signature denies there
    staging = ["--stage", "staging", "--data", data_relaxed_prod(tmp_path)]
    cache = tmp_path / "cache"
    first = _run(cli, cache, ref, *staging, code=0)
    assert _cached(first) == [False] and first["results"][0]["allow"] is True
    assert _cached(_run(cli, cache, ref, *staging, code=0)) == [True]

    # a signature attached to the digest, signed about another digest: it does not verify, which
    # denies at staging; the manifest digest is the same
    other = digest[:-4] + ("beef" if not digest.endswith("beef") else "cafe")
    _attach(registry, "oc/signed", digest, _bundle(sign_key, other), mt.SIGSTORE_BUNDLE)
    second = _run(cli, cache, ref, *staging, code=1)
    assert _cached(second) == [False]
    assert second["results"][0]["digest"] == digest
    assert "signature-invalid" in [d["rule"] for d in second["results"][0]["deny"]]
    assert _cached(_run(cli, cache, ref, *staging, code=1)) == [True]

    # an attestation attached as well: judged again
    envelope = json.loads(_bundle(sign_key, digest, "https://example.com/evaluated/v1"))["dsseEnvelope"]
    _attach(registry, "oc/signed", digest, json.dumps(envelope).encode(), mt.DSSE_ENVELOPE)
    third = _run(cli, cache, ref, *staging, code=1)
    assert _cached(third) == [False] and third["results"][0]["digest"] == digest


def test_a_tag_moved_to_another_digest_is_judged_again(cli, registry, tmp_path: Path) -> None:
    ref, clean_digest = _push(cli, registry, clean_model(tmp_path / "clean", 33), "oc/moving")
    cache = tmp_path / "cache"
    assert _run(cli, cache, ref, code=0)["results"][0]["allow"] is True
    _, evil_digest = _push(cli, registry, malicious_model(tmp_path / "evil"), "oc/moving")  # same tag
    moved = _run(cli, cache, ref, code=1)
    assert _cached(moved) == [False]
    assert moved["results"][0]["digest"] == evil_digest != clean_digest
    assert _cached(_run(cli, cache, ref, code=1)) == [True]


def test_a_tampered_registry_cache_entry_is_not_trusted(cli, registry, tmp_path: Path) -> None:
    evil, evil_digest = _push(cli, registry, malicious_model(tmp_path / "evil"), "oc/tampered")
    clean, _ = _push(cli, registry, clean_model(tmp_path / "clean", 34), "oc/tampered-clean")
    cache = tmp_path / "cache"
    _run(cli, cache, evil, clean, code=1)
    entries = {json.loads(p.read_text())["key"]["source"]: p for p in cache.glob("v1/*/*.json")}
    assert set(entries) == {evil, clean}

    # the denied verdict edited into an allowed one
    doc = json.loads(entries[evil].read_text())
    doc["result"]["allow"], doc["result"]["deny"] = True, []
    entries[evil].write_text(json.dumps(doc))
    again = _run(cli, cache, evil, code=1)
    assert _cached(again) == [False] and again["results"][0]["allow"] is False
    assert f"cached verdict for {evil} not trusted" in again["stderr"]

    # the clean artifact's entry (valid in itself) copied over the malicious one's
    entries[evil].write_bytes(entries[clean].read_bytes())
    again = _run(cli, cache, evil, code=1)
    assert _cached(again) == [False] and again["results"][0]["digest"] == evil_digest
    assert "its key is not the key of this artifact and run" in again["stderr"]
