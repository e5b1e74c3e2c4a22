"""SLSA provenance: subject, trusted builder, expected source, and what is exposed to the policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.verify.api import Options, verify_artifact
from scanner.verify.identity import IdentityRule
from scanner.verify.provenance import SLSA_V02, SLSA_V1, Expectations, evaluate, summarize
from tests.verify.conftest import ASSETS, GITHUB, copy_asset, flip_byte, sha256, sign_dsse, statement

BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml"
REPO = "https://github.com/acme/app"
COMMIT = "4f1c0e1d2b3a4c5d6e7f8091a2b3c4d5e6f70812"


def slsa_v1(name: str, digest: str, *, builder: str = f"{BUILDER}@refs/tags/v2.1.0", ref: str = "refs/heads/main"):
    return statement(
        [(name, digest)],
        SLSA_V1,
        {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"ref": ref, "repository": REPO, "path": ".github/workflows/r.yml"}},
                "internalParameters": {"github": {"event_name": "push"}},
                "resolvedDependencies": [
                    {"uri": f"git+{REPO}@{ref}", "digest": {"gitCommit": COMMIT}},
                    {"uri": "pkg:pypi/requests@2.32.3", "digest": {"sha256": "ab" * 32}},
                ],
            },
            "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "run/1"}},
        },
    )


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "app-1.0-py3-none-any.whl"
    path.write_bytes(b"PK\x03\x04 wheel bytes" * 100)
    return path


def provenance_file(artifact: Path, key, stmt: dict[str, Any] | None = None) -> Path:
    path = artifact.with_name(artifact.name + ".intoto.jsonl")
    path.write_text(json.dumps(sign_dsse(stmt or slsa_v1(artifact.name, sha256(artifact)), key)) + "\n")
    return path


def test_summary_of_a_github_v1_statement(artifact: Path) -> None:
    s = summarize(slsa_v1(artifact.name, sha256(artifact)))
    assert s == {
        "builder_id": f"{BUILDER}@refs/tags/v2.1.0",
        "build_type": "https://actions.github.io/buildtypes/workflow/v1",
        "source": {"repository": REPO, "ref": "refs/heads/main", "digest": f"gitCommit:{COMMIT}"},
        "materials": [
            {"uri": f"git+{REPO}@refs/heads/main", "name": None, "digest": {"gitCommit": COMMIT}},
            {"uri": "pkg:pypi/requests@2.32.3", "name": None, "digest": {"sha256": "ab" * 32}},
        ],
    }


def test_summary_of_a_v02_statement() -> None:
    stmt = statement(
        [("x", "00" * 32)],
        SLSA_V02,
        {
            "builder": {"id": "https://cloudbuild.googleapis.com/GoogleHostedWorker"},
            "buildType": "https://cloudbuild.googleapis.com/CloudBuildYaml@v0.1",
            "invocation": {"configSource": {"uri": f"git+{REPO}@refs/tags/v1", "digest": {"sha1": COMMIT}}},
            "materials": [{"uri": f"git+{REPO}", "digest": {"sha1": COMMIT}}],
        },
    )
    s = summarize(stmt)
    assert s["builder_id"] == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
    assert s["source"] == {"repository": REPO, "ref": "refs/tags/v1", "digest": f"sha1:{COMMIT}"}
    assert s["materials"] == [{"uri": f"git+{REPO}", "name": None, "digest": {"sha1": COMMIT}}]


def test_cli_provenance_verified(cli, artifact: Path, keys) -> None:
    prov = provenance_file(artifact, keys["signer"])
    run = cli(
        "verify",
        artifact,
        "--bundle",
        prov,
        "--key",
        keys["signer"].public,
        "--builder-id",
        BUILDER,
        "--source-repo",
        "acme/app",
        "--source-ref",
        "main",
    )
    assert run.code == 0, run.out
    assert (
        f"OK    provenance       builder {BUILDER}@refs/tags/v2.1.0, build type "
        f"https://actions.github.io/buildtypes/workflow/v1, source {REPO}@refs/heads/main"
    ) in run.out


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--builder-id", "https://example.com/evil-builder"], f"builder '{BUILDER}@refs/tags/v2.1.0' is not trusted"),
        (
            ["--builder-id", BUILDER, "--source-repo", "https://github.com/acme/other"],
            f"source repository '{REPO}' is not 'https://github.com/acme/other'",
        ),
        (
            ["--builder-id", BUILDER, "--source-ref", "refs/heads/release"],
            "source ref 'refs/heads/main' is not 'refs/heads/release'",
        ),
        (["--source-ref", "main"], "no trusted builders configured (provenance.trusted_builders or --builder-id)"),
    ],
    ids=["builder", "repository", "ref", "no-builders"],
)
def test_cli_provenance_refused(cli, artifact: Path, keys, flags: list[str], error: str) -> None:
    prov = provenance_file(artifact, keys["signer"])
    run = cli("verify", artifact, "--bundle", prov, "--key", keys["signer"].public, *flags)
    assert run.code == 1
    assert f"FAIL  provenance       {error}" in run.out


def test_provenance_of_another_artifact(artifact: Path, keys) -> None:
    prov = provenance_file(artifact, keys["signer"])
    flip_byte(artifact)
    [r] = verify_artifact(artifact, prov, Options(key=keys["signer"].public))
    entry = evaluate(r, artifact, Expectations((BUILDER,)))
    assert entry["subject_matches"] is False and entry["verified"] is False
    assert entry["trusted_builder"] is True
    assert entry["error"] == "the artifact is not a subject of the provenance"


def test_provenance_signed_by_another_key(artifact: Path, keys) -> None:
    prov = provenance_file(artifact, keys["other"])
    [r] = verify_artifact(artifact, prov, Options(key=keys["signer"].public))
    entry = evaluate(r, artifact, Expectations((BUILDER,)))
    assert entry["verified"] is False
    assert entry["error"] == (
        "provenance signature not verified: DSSE signature does not verify with the given key "
        "(wrong key or tampered envelope)"
    )


def test_builder_levels_from_policy_entries(artifact: Path, keys) -> None:
    prov = provenance_file(artifact, keys["signer"])
    [r] = verify_artifact(artifact, prov, Options(key=keys["signer"].public))
    entry = evaluate(r, artifact, Expectations(({"id": BUILDER, "level": 3},)))
    assert entry["verified"] and entry["slsa_build_level"] == 3
    exact = evaluate(r, artifact, Expectations((f"{BUILDER}@refs/tags/v2.1.0",)))
    assert exact["verified"] and exact["slsa_build_level"] == 2
    prefix_only = evaluate(r, artifact, Expectations((BUILDER[:-4],)))
    assert not prefix_only["trusted_builder"]


def test_real_conformance_provenance_bundle(tmp_path: Path) -> None:
    """The real Rekor v2 DSSE bundle carries SLSA v1 provenance: signature and signer verify, the
    builder is read, and its subject (a.txt) is not the shipped file."""
    a, b = copy_asset(tmp_path, "a.dsse.staging-rekor-v2.txt", "a.dsse.staging-rekor-v2.txt.sigstore.json")
    beacon = (
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
        "extremely-dangerous-oidc-beacon.yml@refs/heads/main"
    )
    [r] = verify_artifact(a, b, Options(rules=(IdentityRule(identity=beacon, issuer=GITHUB),), staging=True))
    builder = "https://github.com/sigstore-conformance/rekor2-dsse-hashedrekord-regen"
    entry = evaluate(r, a, Expectations((builder,)))
    assert entry["builder_id"] == builder and entry["build_type"] == builder
    assert entry["trusted_builder"] is True and entry["subject_matches"] is False
    assert entry["signer"] == beacon
    assert entry["error"] == "the artifact is not a subject of the provenance"
    assert ASSETS.is_dir()
