"""The gate's signature and provenance checks feed the policy input; the gate's own signed VSA
is verified again by ``scanner verify``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scanner import pipeline
from scanner.cli.verify import verify_options
from scanner.core import ArtifactKind
from scanner.evidence.vsa import PREDICATE_TYPE, policy_digest
from scanner.options import GateOptions
from scanner.resources import policies_dir
from tests.verify.conftest import copy_asset, sha256, sign_dsse, statement
from tests.verify.test_provenance import BUILDER, slsa_v1

OAUTH = "https://github.com/login/oauth"


def policy_data(**config) -> dict:
    data = json.loads((policies_dir() / "data.json").read_text())
    data["scanner"]["config"].update(config)
    return data


def gate(path: Path, flags: dict, stage: str = "dev", kind: ArtifactKind | None = None):
    """The pipeline with the gate's verification flags (as ``scanner gate`` maps them)."""
    data = flags.pop("policy_data", None) or policy_data()
    if "key" in flags:
        flags["key"] = Path(flags["key"])
    options = GateOptions(
        stage=stage, policy_dir=policies_dir(), policy_data=data, kind=kind, verify=verify_options(flags)
    )
    return pipeline.gate(path, options)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    req = tmp_path / "requirements.txt"
    req.write_text("flask==2.2.2\n")
    return req


def test_no_signature_means_empty_sections(app: Path) -> None:
    out = gate(app, {})
    assert out.policy_input["signatures"] == [] and out.policy_input["provenance"] == []
    assert out.policy_input["checks"]["signature"] == {"complete": True, "findings": 0}
    assert not [f for f in out.policy_input["findings"] if f["check"] in ("signature", "provenance")]


def test_real_bundle_checked_against_policy_identities(tmp_path: Path) -> None:
    a, b = copy_asset(tmp_path, "bundle_v3.txt", "bundle_v3.txt.sigstore")
    allowed = {"allowed_identities": [{"identity": "william@yossarian.net", "issuer": OAUTH}]}
    out = gate(a, {"staging": True, "policy_data": policy_data(signatures=allowed)}, kind=ArtifactKind.REQUIREMENTS)
    assert out.policy_input["signatures"] == [
        {
            "type": "sigstore-bundle",
            "subject": str(a),
            "bundle": str(b),
            "verified": True,
            "identity": "william@yossarian.net",
            "issuer": OAUTH,
            "error": None,
            "predicate_type": None,
            "details": [],
        }
    ]
    regexp = {"allowed_identities": [{"identity_regexp": r".*@trailofbits\.com", "issuer": OAUTH}]}
    out = gate(a, {"staging": True, "policy_data": policy_data(signatures=regexp)}, kind=ArtifactKind.REQUIREMENTS)
    [finding] = [f for f in out.policy_input["findings"] if f["id"] == "SIGNATURE-INVALID"]
    assert finding["severity"] == "high" and finding["check"] == "signature" and finding["subject"] == str(a)
    error = r"signer not allowed: identity 'william@yossarian.net' does not match '.*@trailofbits\.com'"
    assert finding["evidence"] == {
        "type": "sigstore-bundle",
        "bundle": str(b),
        "identity": "william@yossarian.net",
        "issuer": OAUTH,
        "error": error,
    }
    assert out.policy_input["signatures"][0]["verified"] is False
    assert out.decision.allow  # the shipped dev stage blocks at "critical" only
    prod = gate(a, {"staging": True, "policy_data": policy_data(signatures=regexp)}, "prod", ArtifactKind.REQUIREMENTS)
    assert not prod.decision.allow
    assert any("SIGNATURE-INVALID" in r.message for r in prod.decision.deny)


def test_flags_override_policy_identities(tmp_path: Path) -> None:
    a, _ = copy_asset(tmp_path, "bundle_v3.txt", "bundle_v3.txt.sigstore")
    settings = {"staging": True, "cert_identity": "william@yossarian.net", "cert_oidc_issuer": OAUTH}
    out = gate(a, settings, kind=ArtifactKind.REQUIREMENTS)
    assert out.policy_input["signatures"][0]["verified"] is True


def test_provenance_section_and_finding(app: Path, keys) -> None:
    prov = app.with_name("requirements.txt.intoto.jsonl")
    prov.write_text(json.dumps(sign_dsse(slsa_v1(app.name, sha256(app)), keys["signer"])))
    trusted = {"trusted_builders": [BUILDER], "source_repositories": ["https://github.com/acme/app"]}
    out = gate(app, {"key": str(keys["signer"].public), "policy_data": policy_data(provenance=trusted)})
    [entry] = out.policy_input["provenance"]
    assert entry["verified"] is True and entry["error"] is None
    assert entry["builder_id"] == f"{BUILDER}@refs/tags/v2.1.0"
    assert entry["source"]["repository"] == "https://github.com/acme/app"
    assert entry["subject_matches"] and entry["trusted_builder"] and entry["slsa_build_level"] == 2
    # the envelope is not a signature bundle: nothing in `signatures`
    assert out.policy_input["signatures"] == []

    out = gate(
        app,
        {
            "key": str(keys["signer"].public),
            "source_repo": "https://github.com/acme/fork",
            "policy_data": policy_data(provenance=trusted),
        },
    )
    [finding] = [f for f in out.policy_input["findings"] if f["id"] == "PROVENANCE-INVALID"]
    assert finding["check"] == "provenance" and finding["severity"] == "high"
    assert finding["evidence"]["error"] == (
        "source repository 'https://github.com/acme/app' is not 'https://github.com/acme/fork'"
    )


def test_malformed_bundle_is_a_finding_not_a_crash(app: Path) -> None:
    app.with_name("requirements.txt.sigstore.json").write_text("{oops")
    out = gate(app, {})
    [finding] = [f for f in out.policy_input["findings"] if f["id"] == "SIGNATURE-INVALID"]
    assert (
        finding["evidence"]["error"]
        == "not valid JSON (line 1 column 2: Expecting property name enclosed in double quotes)"
    )


def _vsa_statement(path: Path) -> dict:
    env = json.loads(path.read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    return json.loads(base64.b64decode(env["payload"]))


def test_gate_writes_a_signed_vsa_that_verify_accepts(cli, app: Path, keys, tmp_path: Path) -> None:
    sig = app.with_name("requirements.txt.sigstore.json")
    sig.write_text(
        json.dumps(sign_dsse(statement([(app.name, sha256(app))], "https://example.com/ok", {}), keys["signer"]))
    )
    vsa = tmp_path / "out" / "vsa.json"
    run = cli(
        "gate",
        app,
        "--stage",
        "staging",
        "--key",
        keys["signer"].public,
        "--sign-key",
        keys["signer"].private,
        "--attestation-output",
        vsa,
        "-f",
        "json",
        "-o",
        tmp_path / "record.json",
    )
    assert run.code == 0, run.err
    assert f"wrote verification summary to {vsa} (DSSE, key {keys['signer'].private})" in run.err
    stmt = _vsa_statement(vsa)
    assert stmt["predicateType"] == PREDICATE_TYPE
    assert stmt["subject"] == [{"name": "requirements.txt", "digest": {"sha256": sha256(app)}}]
    pred = stmt["predicate"]
    assert pred["verifier"]["id"] == "urn:scanner:gate"
    assert pred["verificationResult"] == "PASSED"
    assert pred["verifiedLevels"] == ["SLSA_BUILD_LEVEL_0", "SCANNER_STAGE_STAGING"]
    assert pred["resourceUri"] == app.resolve().as_uri()
    assert pred["policy"] == {
        "uri": policies_dir().resolve().as_uri(),
        "digest": {"sha256": policy_digest(policies_dir(), policy_data())},
    }
    assert pred["inputAttestations"] == [{"uri": sig.resolve().as_uri(), "digest": {"sha256": sha256(sig)}}]
    assert pred["timeVerified"].endswith("Z")

    ok = cli("verify", app, "--bundle", vsa, "--key", keys["signer"].public)
    assert ok.code == 0, ok.out
    assert "verification summary: PASSED" in ok.out
    wrong_key = cli("verify", app, "--bundle", vsa, "--key", keys["other"].public)
    assert wrong_key.code == 1
    app.write_text("flask==2.2.3\n")
    changed = cli("verify", app, "--bundle", vsa, "--key", keys["signer"].public)
    assert changed.code == 1 and "is not a subject of the statement" in changed.out


def test_denied_gate_vsa_records_failed(cli, tmp_path: Path, keys) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("flask\n")  # unpinned: denied at prod
    vsa = tmp_path / "vsa.json"
    run = cli(
        "gate",
        req,
        "--stage",
        "prod",
        "--sign-key",
        keys["signer"].private,
        "--attestation-output",
        vsa,
        "-f",
        "json",
        "-o",
        tmp_path / "r.json",
    )
    assert run.code == 1
    pred = _vsa_statement(vsa)["predicate"]
    assert pred["verificationResult"] == "FAILED" and pred["verifiedLevels"] == ["FAILED"]
    again = cli("verify", req, "--bundle", vsa, "--key", keys["signer"].public)
    assert again.code == 1
    assert "the verification summary records verificationResult 'FAILED'" in again.out


def test_vsa_without_key_or_ambient_credential(cli, app: Path, tmp_path: Path, monkeypatch) -> None:
    for var in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "SIGSTORE_ID_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    run = cli("gate", app, "--attestation-output", tmp_path / "vsa.json", "-f", "json", "-o", tmp_path / "r.json")
    assert run.code == 2
    assert "no --sign-key given and no ambient OIDC credential for Sigstore keyless" in run.err
    assert not (tmp_path / "vsa.json").exists()


def test_gate_fails_closed_on_missing_bundle_flag(cli, app: Path, tmp_path: Path) -> None:
    run = cli("gate", app, "--bundle", tmp_path / "nope.sigstore.json", "-f", "json", "-o", tmp_path / "r.json")
    assert run.code == 2
    assert "signature file not found" in run.err
