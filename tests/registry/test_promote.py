"""Promotion against real registries: by digest, with signed evidence attached as referrers,
denied and failed promotions leaving the target untouched, idempotent re-runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.options import GateOptions, VerifyOptions
from scanner.registry import mediatypes as mt
from scanner.registry.client import Client, RegistryError
from scanner.registry.manifest import build_index, tag_for
from scanner.registry.promote import promote
from scanner.registry.push import push
from scanner.registry.reference import parse_reference
from scanner.registry.referrers import list_referrers
from tests.registry.helpers import PLAIN, malicious_model, model_dir, raw_manifest, signed_bundle


def _gate(stage: str, key: Path | None = None) -> GateOptions:
    return GateOptions(stage=stage, verify=VerifyOptions(key=key))


def _pushed(registry, repo: str, tmp_path: Path, tag: str = "dev", **kw) -> str:
    result = push(model_dir(tmp_path, **kw), parse_reference(registry.ref(repo, tag)), Client(registry.host, PLAIN))
    return result.digest


def _kinds(client: Client, repo: str, digest: str) -> list[str]:
    from scanner.registry.discover import kind_of

    return sorted(kind_of(d) for d in list_referrers(client, repo, digest))


def test_promotion_within_a_repository_attaches_signed_evidence(
    cli, registry, repo, tmp_path, sign_key, _ledger
) -> None:
    digest = _pushed(registry, repo, tmp_path)
    r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
            "--plain-http", "--sign-key", sign_key[0], "-f", "json")  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["digest"] == digest and doc["blobs"] == {"present": 5}
    client = Client(registry.host, PLAIN)
    assert client.resolve(repo, "staging") == digest == client.resolve(repo, "dev")
    assert _kinds(client, repo, digest) == ["record", "sbom", "vsa"]

    # the VSA: a DSSE envelope signed by the key, about this manifest digest, PASSED for staging
    vsa_desc = next(d for d in list_referrers(client, repo, digest) if d.artifact_type == mt.IN_TOTO)
    assert vsa_desc.annotations[mt.ANN_STAGE] == "staging" and vsa_desc.annotations[mt.ANN_RESULT] == "PASSED"
    referrer = client.get_manifest(repo, vsa_desc.digest)
    assert referrer.subject is not None and referrer.subject.digest == digest
    envelope = json.loads(b"".join(client.open_blob(repo, referrer.layers[0].digest).iter_content(1 << 16)))
    from scanner.verify.keyed import load_public_key, verify_envelope

    payload = json.loads(verify_envelope(load_public_key(sign_key[1]), envelope))
    assert payload["subject"][0]["digest"] == {"sha256": digest.split(":")[1]}
    assert payload["subject"][0]["name"] == f"{registry.host}/{repo}"
    assert payload["predicate"]["verificationResult"] == "PASSED"
    assert "SCANNER_STAGE_STAGING" in payload["predicate"]["verifiedLevels"]
    assert payload["predicate"]["resourceUri"] == f"oci://{registry.host}/{repo}@{digest}"
    assert base64.b64decode(envelope["payload"]) == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    # the ledger names source, target and digest
    from scanner.evidence.ledger import Ledger

    with Ledger(_ledger) as ledger:
        entry = list(ledger.entries())[-1]
    assert entry.record["registry"]["source"] == f"oci://{registry.host}/{repo}@{digest}"
    assert entry.record["registry"]["target"] == registry.ref(repo, "staging")
    assert entry.record["registry"]["digest"] == digest and entry.record["registry"]["promoted"] is True


def test_across_repositories_mounts_and_moves_no_blob_bytes(registry, repo, tmp_path, sign_key) -> None:
    digest = _pushed(registry, repo, tmp_path)
    src, dst = parse_reference(registry.ref(repo, "dev")), parse_reference(registry.ref(repo + "-prod", "staging"))
    result = promote(src, dst, _gate("staging"), PLAIN, sign_key=sign_key[0], record_ledger=False)
    assert result.allowed and result.blobs == {"mounted": 5} and result.bytes_moved == 0
    assert Client(registry.host, PLAIN).resolve(dst.repository, "staging") == digest

    again = promote(src, dst, _gate("staging"), PLAIN, sign_key=sign_key[0], record_ledger=False)
    assert again.unchanged and not again.attached  # idempotent: nothing written the second time
    assert len(list_referrers(Client(registry.host, PLAIN), dst.repository, digest)) == 3


def test_across_two_registries_streams_and_keeps_the_digest(registry, registry2, repo, tmp_path, sign_key) -> None:
    digest = _pushed(registry, repo, tmp_path)
    src, dst = parse_reference(registry.ref(repo, "dev")), parse_reference(registry2.ref(repo, "staging"))
    result = promote(src, dst, _gate("staging"), PLAIN, sign_key=sign_key[0], record_ledger=False)
    assert result.blobs == {"copied": 5} and result.bytes_moved > 0
    other = Client(registry2.host, PLAIN)
    assert other.resolve(repo, "staging") == digest
    assert other.get_manifest(repo, digest).raw == Client(registry.host, PLAIN).get_manifest(repo, digest).raw
    assert _kinds(other, repo, digest) == ["record", "sbom", "vsa"]


def test_cosign_style_referrers_are_copied_and_preserved(registry, repo, tmp_path, sign_key) -> None:
    client = Client(registry.host, PLAIN)
    digest = _pushed(registry, repo, tmp_path)
    subject = client.get_manifest(repo, digest).descriptor()
    bundle = signed_bundle(sign_key[0], digest, f"{registry.host}/{repo}")
    signature = raw_manifest(client, repo, "sig-src", [(bundle, mt.SIGSTORE_BUNDLE, {})],
                             artifact_type=mt.SIGSTORE_BUNDLE, subject=subject)  # fmt: skip
    # written the way cosign writes to a registry without the referrers API: the tag-schema index
    client.put_manifest(repo, tag_for(digest), build_index([signature.descriptor()]))
    # and the older cosign layout: a signature manifest tagged sha256-<hex>.sig
    legacy = raw_manifest(
        client, repo, tag_for(digest) + ".sig", [(b"MEUCIQ", "application/vnd.dev.cosign.simplesigning.v1+json", {})]
    )
    # the target repository already lists another signature for this digest
    target = repo + "-release"
    raw_manifest(client, target, "placeholder", [(b"x", "text/plain", {})])
    theirs = raw_manifest(client, target, "sig-dst", [(bundle + b"\n", mt.SIGSTORE_BUNDLE, {})],
                          artifact_type=mt.SIGSTORE_BUNDLE, subject=subject)  # fmt: skip
    client.put_manifest(target, tag_for(digest), build_index([theirs.descriptor()]))

    result = promote(
        parse_reference(registry.ref(repo, "dev")),
        parse_reference(registry.ref(target, "staging")),
        _gate("staging", key=sign_key[1]),
        PLAIN,
        sign_key=sign_key[0],
        record_ledger=False,
    )
    assert result.referrers_copied == 2
    assert client.get_manifest(target, tag_for(digest) + ".sig").raw == legacy.raw
    listed = {d.digest for d in list_referrers(client, target, digest)}
    assert {signature.digest, theirs.digest} <= listed and len(listed) == 5
    assert _kinds(client, repo, digest) == ["signature"]  # the source is left as it was
    signatures = result.outcome.record["sections"]["signatures"]
    assert [s["verified"] for s in signatures] == [True]  # found in the registry, verified with --key
    assert signatures[0]["bundle"].startswith(f"oci://{registry.host}/{repo}@{digest} referrer ")


def test_signature_in_the_registry_counts_and_a_bad_one_denies(registry, repo, tmp_path, sign_key) -> None:
    client = Client(registry.host, PLAIN)
    digest = _pushed(registry, repo, tmp_path)
    subject = client.get_manifest(repo, digest).descriptor()
    other = digest[:-4] + "beef" if not digest.endswith("beef") else digest[:-4] + "cafe"
    forged = signed_bundle(sign_key[0], other, "elsewhere")  # a valid signature about another digest
    sig = raw_manifest(client, repo, "sig", [(forged, mt.SIGSTORE_BUNDLE, {})], artifact_type=mt.SIGSTORE_BUNDLE,
                       subject=subject)  # fmt: skip
    client.put_manifest(repo, tag_for(digest), build_index([sig.descriptor()]))
    src, dst = parse_reference(registry.ref(repo, "dev")), parse_reference(registry.ref(repo, "staging"))
    result = promote(src, dst, _gate("staging", key=sign_key[1]), PLAIN, sign_key=sign_key[0], record_ledger=False)
    assert not result.allowed
    assert any(d.rule == "signature-invalid" for d in result.outcome.decision.deny)
    assert client.resolve(repo, "staging") is None


def test_malicious_model_is_pushed_and_refused(cli, registry, repo, tmp_path, sign_key, _ledger) -> None:
    r = cli("push", malicious_model(tmp_path), registry.ref(repo, "dev"), "--plain-http")
    assert r.code == 0
    r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
            "--plain-http", "--sign-key", sign_key[0], "-f", "json")  # fmt: skip
    assert r.code == 1
    doc = json.loads(r.out)
    assert not doc["allowed"] and any(d["rule"] == "model-unsafe" for d in doc["decision"]["deny"])
    unsafe = next(d for d in doc["decision"]["deny"] if d["rule"] == "model-unsafe")
    assert "MODEL-PICKLE-GLOBAL model.pkl" in unsafe["message"]  # a file inside the artifact, not a temp path
    assert "DENIED: target untouched" in r.err
    client = Client(registry.host, PLAIN)
    assert client.resolve(repo, "staging") is None
    assert list_referrers(client, repo, doc["digest"]) == []
    assert sorted(client.tags(repo)) == ["dev"]
    from scanner.evidence.ledger import Ledger

    with Ledger(_ledger) as ledger:
        entry = list(ledger.entries())[-1]
    assert entry.allow is False and entry.record["registry"]["promoted"] is False
    assert doc["ledger"] == {"path": str(_ledger), "seq": entry.seq, "hash": entry.hash}  # the report names it


def test_error_before_writing_leaves_target_untouched(cli, registry, repo, tmp_path, monkeypatch) -> None:
    """No signing key and no ambient OIDC credential: exit 2, and DST was never written."""
    for name in (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SIGSTORE_ID_TOKEN",
        "GITHUB_ACTIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    _pushed(registry, repo, tmp_path)
    r = cli(
        "promote", registry.ref(repo, "dev"), registry.ref(repo + "-x", "staging"), "--stage", "staging", "--plain-http"
    )
    assert r.code == 2 and "cannot sign" in r.err
    assert Client(registry.host, PLAIN).tags(repo + "-x") == []


def test_registry_dying_mid_promotion_leaves_target_tag_where_it_was(
    registry, registry2, repo, tmp_path, sign_key
) -> None:
    old = _pushed(registry2, repo, tmp_path / "old", tag="staging", weights=32)  # what the stage holds now
    new = _pushed(registry, repo, tmp_path / "new", weights=4096)
    assert old != new
    steps: list[str] = []

    def kill_after_first_blob(step: str) -> None:
        steps.append(step)
        if step.startswith("blob-"):
            registry2.kill()

    with pytest.raises(RegistryError, match="cannot reach the registry"):
        promote(
            parse_reference(registry.ref(repo, "dev")),
            parse_reference(registry2.ref(repo, "staging")),
            _gate("staging"),
            PLAIN,
            sign_key=sign_key[0],
            record_ledger=False,
            on_event=kill_after_first_blob,
        )
    assert "tag-moved" not in steps
    registry2.restart()
    assert Client(registry2.host, PLAIN).resolve(repo, "staging") == old


def test_source_unreachable_is_exit_2(cli, registry, repo) -> None:
    r = cli("promote", f"oci://127.0.0.1:9/{repo}:dev", registry.ref(repo, "staging"), "--stage", "dev", "--plain-http")
    assert r.code == 2 and "cannot reach the registry" in r.err


def test_index_referrer_without_subject_is_refused(registry, repo) -> None:
    from scanner.registry.referrers import attach

    client = Client(registry.host, PLAIN)
    with pytest.raises(ScanError, match="has no subject"):
        attach(client, repo, build_index([]))


def test_a_tag_schema_tag_that_is_not_an_index_is_never_overwritten(registry, repo, tmp_path, sign_key) -> None:
    client = Client(registry.host, PLAIN)
    digest = _pushed(registry, repo, tmp_path)
    squatter = raw_manifest(client, repo, tag_for(digest), [(b"not an index", "text/plain", {})])
    src, dst = parse_reference(registry.ref(repo, "dev")), parse_reference(registry.ref(repo, "staging"))
    with pytest.raises(RegistryError, match="not a referrers index: not overwritten"):
        promote(src, dst, _gate("staging"), PLAIN, sign_key=sign_key[0], record_ledger=False)
    assert client.resolve(repo, tag_for(digest)) == squatter.digest
    assert client.resolve(repo, "staging") is None


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_report_that_cannot_be_written_stops_the_tag_move(cli, registry, repo, tmp_path, sign_key, _ledger) -> None:
    """The report fails at write time (a full device): exit 2 naming it, the target tag never
    moves, and the ledger records the decision as not promoted (so does its report)."""
    _pushed(registry, repo, tmp_path)
    r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
            "--plain-http", "--sign-key", sign_key[0], "-f", "json=/dev/full")  # fmt: skip
    assert r.code == 2 and "/dev/full" in r.err and "No space left on device" in r.err
    client = Client(registry.host, PLAIN)
    assert client.resolve(repo, "staging") is None
    from scanner.evidence.ledger import Ledger

    with Ledger(_ledger) as ledger:
        [entry] = ledger.entries()
    assert entry.record["registry"]["promoted"] is False and "No space left" in entry.record["registry"]["error"]
    history = json.loads(cli("report", "--ledger", _ledger, "-f", "json").out)
    assert [d["outcome"] for d in history["decisions"]] == ["failed"]
    # the same promotion with a writable report moves the tag
    report = tmp_path / "promotion.json"
    r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
            "--plain-http", "--sign-key", sign_key[0], "-f", f"json={report}")  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(report.read_text())["allowed"] and client.resolve(repo, "staging") is not None


def test_a_ledger_that_cannot_be_written_stops_before_the_tag_moves(cli, registry, repo, tmp_path, sign_key) -> None:
    """The ledger is opened before anything else: a ledger that cannot be created (its folder is
    a file) is exit 2 naming it, and the target tag never moves (it used to move, then the append
    failed)."""
    _pushed(registry, repo, tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the ledger's folder should be")
    r = cli("promote", registry.ref(repo, "dev"), registry.ref(repo, "staging"), "--stage", "staging",
            "--plain-http", "--sign-key", sign_key[0], "--ledger", blocker / "ledger.db")  # fmt: skip
    assert r.code == 2 and "cannot open ledger" in r.err and str(blocker / "ledger.db") in r.err
    assert Client(registry.host, PLAIN).resolve(repo, "staging") is None
