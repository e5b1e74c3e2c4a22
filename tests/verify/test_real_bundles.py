"""The real Sigstore bundles from sigstore-python's test assets (see assets/README.md): each
gives its documented result offline against the pinned roots, and fails once its artifact
changes by one byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.verify.api import Options, verify_artifact
from scanner.verify.identity import IdentityRule
from tests.verify.conftest import ASSETS, GITHUB, copy_asset, flip_byte

OAUTH = "https://github.com/login/oauth"
WHL_ID = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
    "extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)

# artifact, bundle, staging, identity, issuer, expected error (None: verifies)
TABLE = [
    ("bundle_v3_github.whl", "bundle_v3_github.whl.sigstore", False, WHL_ID, GITHUB, None),
    ("bundle_v3.txt", "bundle_v3.txt.sigstore", True, "william@yossarian.net", OAUTH, None),
    ("staging-rekor-v2.txt", "staging-rekor-v2.txt.sigstore.json", True, "jku@goto.fi", OAUTH, None),
    (
        "bundle_cve_2022_36056.txt",
        "bundle_cve_2022_36056.txt.sigstore",
        True,
        "william@yossarian.net",
        OAUTH,
        "transparency log entry does not match the bundle's materials",
    ),
    (
        "bundle_invalid_version.txt",
        "bundle_invalid_version.txt.sigstore",
        True,
        "william@yossarian.net",
        OAUTH,
        "unknown bundle media type 'this is completely wrong' (supported: Sigstore bundle v0.1, v0.2, v0.3)",
    ),
    (
        "bundle_no_log_entry.txt",
        "bundle_no_log_entry.txt.sigstore",
        True,
        "alex.cameron@trailofbits.com",
        "https://accounts.google.com",
        "bundle has no transparency log entry (a keyless signature needs one)",
    ),
]
IDS = [row[0] for row in TABLE]


def _args(artifact: Path, bundle: Path, staging: bool, identity: str, issuer: str) -> list[str | Path]:
    args: list[str | Path] = [
        "verify",
        artifact,
        "--bundle",
        bundle,
        "--cert-identity",
        identity,
        "--cert-oidc-issuer",
        issuer,
    ]
    return [*args, "--staging"] if staging else args


@pytest.mark.parametrize(("artifact", "bundle", "staging", "identity", "issuer", "error"), TABLE, ids=IDS)
def test_documented_result(cli, artifact, bundle, staging, identity, issuer, error) -> None:
    run = cli(*_args(ASSETS / artifact, ASSETS / bundle, staging, identity, issuer))
    if error is None:
        assert run.code == 0, run.out + run.err
        assert f"OK    sigstore-bundle  {ASSETS / bundle}: signed by {identity} ({issuer})" in run.out
        assert run.out.rstrip().endswith(": verified")
    else:
        assert run.code == 1, run.out + run.err
        assert f"FAIL  sigstore-bundle  {ASSETS / bundle}: {error}" in run.out
        assert "Traceback" not in run.err


CHANGED = {
    "bundle_v3_github.whl": "artifact digest does not match the bundle (artifact changed)",
    "bundle_v3.txt": "artifact digest does not match the bundle (artifact changed)",
    "staging-rekor-v2.txt": "artifact digest does not match the bundle (artifact changed)",
    "bundle_cve_2022_36056.txt": "artifact digest does not match the bundle (artifact changed)",
}


@pytest.mark.parametrize(("artifact", "bundle", "staging", "identity", "issuer", "error"), TABLE, ids=IDS)
def test_one_byte_change_fails(cli, tmp_path, artifact, bundle, staging, identity, issuer, error) -> None:
    a, b = copy_asset(tmp_path, artifact, bundle)
    flip_byte(a, offset=len(a.read_bytes()) // 2)
    run = cli(*_args(a, b, staging, identity, issuer))
    assert run.code == 1
    assert (CHANGED.get(artifact) or error) in run.out


def test_dsse_bundle_verifies_as_dsse_but_its_subject_is_another_file(tmp_path: Path) -> None:
    """The README's "verifies as DSSE": signature, certificate chain, log entry and signer all
    verify; but the statement's only subject is a.txt (sha256 a0cfc712…), which the shipped
    artifact file is not, so the artifact itself is refused, before and after a byte changes."""
    a, b = copy_asset(tmp_path, "a.dsse.staging-rekor-v2.txt", "a.dsse.staging-rekor-v2.txt.sigstore.json")
    opts = Options(rules=(IdentityRule(identity=BEACON, issuer=GITHUB),), staging=True)
    [result] = verify_artifact(a, b, opts)
    assert result.signature_ok and not result.verified
    assert result.identity == BEACON and result.issuer == GITHUB
    assert result.predicate_type == "https://slsa.dev/provenance/v1"
    assert result.statement is not None and result.statement["subject"][0]["name"] == "a.txt"
    assert result.error is not None and result.error.startswith("the artifact (sha256:e248a5db4933…) is not a subject")
    assert "a.txt sha256:a0cfc71271d6…" in result.error
    flip_byte(a)
    assert verify_artifact(a, b, opts)[0].error.startswith("the artifact (sha256:")  # type: ignore[union-attr]


def test_dsse_payload_tampered(tmp_path: Path) -> None:
    import base64
    import json

    a, b = copy_asset(tmp_path, "a.dsse.staging-rekor-v2.txt", "a.dsse.staging-rekor-v2.txt.sigstore.json")
    doc = json.loads(b.read_text())
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"]).replace(b"a.txt", b"b.txt")
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    b.write_text(json.dumps(doc))
    [result] = verify_artifact(a, b, Options(rules=(IdentityRule(identity=BEACON, issuer=GITHUB),), staging=True))
    assert not result.signature_ok
    assert result.error == "DSSE signature does not verify (envelope tampered)"


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (
            ["--cert-identity", "someone@example.com", "--cert-oidc-issuer", OAUTH],
            "signer not allowed: identity 'william@yossarian.net' is not 'someone@example.com'",
        ),
        (
            ["--cert-identity", "william@yossarian.net", "--cert-oidc-issuer", "https://accounts.google.com"],
            "signer not allowed: issuer 'https://github.com/login/oauth' is not 'https://accounts.google.com'",
        ),
        (
            ["--cert-identity-regexp", r".*@example\.com", "--cert-oidc-issuer", OAUTH],
            r"signer not allowed: identity 'william@yossarian.net' does not match '.*@example\.com'",
        ),
    ],
    ids=["identity", "issuer", "regexp"],
)
def test_wrong_signer(cli, flags: list[str], error: str) -> None:
    run = cli("verify", ASSETS / "bundle_v3.txt", "--staging", *flags)
    assert run.code == 1
    assert error in run.out


def test_identity_regexp_and_discovery(cli, tmp_path: Path) -> None:
    a, _ = copy_asset(tmp_path, "bundle_v3.txt", "bundle_v3.txt.sigstore")
    run = cli(
        "verify", a, "--cert-identity-regexp", r"william@yossarian\.(net|org)", "--cert-oidc-issuer", OAUTH, "--staging"
    )
    assert run.code == 0, run.out
    assert f"{tmp_path / 'bundle_v3.txt.sigstore'}: signed by william@yossarian.net" in run.out


def test_github_shortcuts(cli) -> None:
    whl = ASSETS / "bundle_v3_github.whl"
    ok = cli(
        "verify",
        whl,
        "--github-repository",
        "trailofbits/rfc8785.py",
        "--github-ref",
        "refs/tags/v0.1.2",
        "--github-trigger",
        "release",
    )
    assert ok.code == 0, ok.out
    bad = cli("verify", whl, "--github-repository", "trailofbits/rfc8785.py", "--github-ref", "refs/tags/v0.1.3")
    assert bad.code == 1
    assert "signer not allowed: GitHub ref 'refs/tags/v0.1.2' is not 'refs/tags/v0.1.3'" in bad.out
    other = cli("verify", whl, "--github-repository", "evil/rfc8785.py")
    assert "signer not allowed: GitHub repository 'trailofbits/rfc8785.py' is not 'evil/rfc8785.py'" in other.out


@pytest.mark.parametrize(
    ("artifact", "identity", "error"),
    [
        ("bundle_v3.txt", "william@yossarian.net", "signing certificate does not chain to the trusted root"),
        ("staging-rekor-v2.txt", "jku@goto.fi", "no trusted signing time: this trusted root does not know the"),
    ],
)
def test_wrong_trusted_root(cli, artifact: str, identity: str, error: str) -> None:
    # staging bundles against the (default) production root
    run = cli("verify", ASSETS / artifact, "--cert-identity", identity, "--cert-oidc-issuer", OAUTH)
    assert run.code == 1
    assert error in run.out


def test_trusted_root_override(cli, tmp_path: Path) -> None:
    from scanner.verify.roots import trusted_root_path

    root = tmp_path / "root.json"
    root.write_bytes(trusted_root_path(staging=True).read_bytes())
    run = cli(
        "verify",
        ASSETS / "bundle_v3.txt",
        "--trusted-root",
        root,
        "--cert-identity",
        "william@yossarian.net",
        "--cert-oidc-issuer",
        OAUTH,
    )
    assert run.code == 0, run.out
    root.write_text("{not json")
    broken = cli(
        "verify",
        ASSETS / "bundle_v3.txt",
        "--trusted-root",
        root,
        "--cert-identity",
        "x@y",
        "--cert-oidc-issuer",
        OAUTH,
    )
    assert broken.code == 2
    assert f"scanner: error: {root}: not a usable Sigstore trusted root" in broken.err


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"{not json", "not valid JSON (line 1 column 2: Expecting property name enclosed in double quotes)"),
        (b"[1, 2]", "expected a JSON object, found a JSON list"),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.9+json"}',
            "unknown bundle media type 'application/vnd.dev.sigstore.bundle.v0.9+json'",
        ),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "subject": []}',
            "an unsigned in-toto statement: there is no signature to verify",
        ),
        (b"\xff\xfe", "not valid JSON (line 1 column 1: Expecting value)"),
        (b"[" * 100_000, "JSON nested too deeply"),
    ],
    ids=["malformed", "list", "media-type", "unsigned", "binary", "deep"],
)
def test_bad_bundle_files(cli, tmp_path: Path, content: bytes, error: str) -> None:
    bundle = tmp_path / "x.sigstore.json"
    bundle.write_bytes(content)
    run = cli(
        "verify", ASSETS / "bundle_v3.txt", "--bundle", bundle, "--cert-identity", "a@b", "--cert-oidc-issuer", OAUTH
    )
    assert run.code == 1, run.err
    assert error in run.out
    assert "Traceback" not in run.err


def test_bundle_without_certificate_or_with_broken_certificate(tmp_path: Path) -> None:
    import json

    a, b = copy_asset(tmp_path, "bundle_v3.txt", "bundle_v3.txt.sigstore")
    doc = json.loads(b.read_text())
    rules = (IdentityRule(identity="william@yossarian.net", issuer=OAUTH),)
    cert = doc["verificationMaterial"].pop("certificate")
    b.write_text(json.dumps(doc))
    [r] = verify_artifact(a, b, Options(rules=rules, staging=True))
    assert r.error == "bundle has no certificate (signed with a key? verify it with --key)"
    doc["verificationMaterial"]["certificate"] = {"rawBytes": cert["rawBytes"][:40] + "AAAA"}
    b.write_text(json.dumps(doc))
    [r] = verify_artifact(a, b, Options(rules=rules, staging=True))
    assert not r.verified and r.error is not None and r.error.startswith("invalid bundle:")


def test_no_identity_policy_fails_closed(cli) -> None:
    run = cli("verify", ASSETS / "bundle_v3.txt", "--staging")
    assert run.code == 1
    assert "no identity policy: give --cert-identity or --cert-identity-regexp with --cert-oidc-issuer" in run.out


def test_usage_errors(cli, tmp_path: Path) -> None:
    missing = cli("verify", tmp_path / "nope.txt", "--cert-identity", "a", "--cert-oidc-issuer", OAUTH)
    assert missing.code == 2 and "no such file or directory" in missing.err
    (tmp_path / "lonely.txt").write_text("x")
    none = cli("verify", tmp_path / "lonely.txt", "--cert-identity", "a", "--cert-oidc-issuer", OAUTH)
    assert none.code == 2 and "no signature found" in none.err
    issuer = cli("verify", ASSETS / "bundle_v3.txt", "--cert-identity", "a")
    assert issuer.code == 2 and "--cert-oidc-issuer is required" in issuer.err
    regexp = cli("verify", ASSETS / "bundle_v3.txt", "--cert-identity-regexp", "(", "--cert-oidc-issuer", OAUTH)
    assert regexp.code == 2 and "invalid identity regexp '('" in regexp.err


def test_json_output(cli) -> None:
    import json

    run = cli(
        "verify",
        ASSETS / "bundle_v3.txt",
        "--staging",
        "--cert-identity",
        "william@yossarian.net",
        "--cert-oidc-issuer",
        OAUTH,
        "-f",
        "json",
    )
    doc = json.loads(run.out)
    assert doc["verified"] is True
    assert doc["signatures"][0] == {
        "type": "sigstore-bundle",
        "subject": str(ASSETS / "bundle_v3.txt"),
        "bundle": str(ASSETS / "bundle_v3.txt.sigstore"),
        "verified": True,
        "identity": "william@yossarian.net",
        "issuer": OAUTH,
        "error": None,
        "predicate_type": None,
        "details": [],
    }
