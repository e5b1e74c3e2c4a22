"""The stage board after dev → staging → prod."""

from __future__ import annotations

import json

from scanner.registry.client import Client
from tests.registry.helpers import PLAIN, data_relaxed_prod, model_dir


def test_stage_board_after_dev_staging_prod(cli, registry, repo, tmp_path, sign_key, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "release-bot")
    data = data_relaxed_prod(tmp_path)
    assert cli("push", model_dir(tmp_path), registry.ref(repo, "build-7"), "--plain-http").code == 0
    for src, dst, stage in (("build-7", "dev", "dev"), ("dev", "staging", "staging"), ("staging", "prod", "prod")):
        r = cli("promote", registry.ref(repo, src), registry.ref(repo, dst), "--stage", stage, "--plain-http",
                "--sign-key", sign_key[0], "--data", data)  # fmt: skip
        assert r.code == 0, r.err

    r = cli("status", registry.ref(repo), "--plain-http", "-f", "json")
    assert r.code == 0, r.err
    board = json.loads(r.out)
    assert board["repository"] == f"{registry.host}/{repo}"
    rows = {row["tag"]: row for row in board["tags"]}
    assert [row["tag"] for row in board["tags"]] == ["dev", "staging", "prod", "build-7"]
    digest = Client(registry.host, PLAIN).resolve(repo, "build-7")
    for tag in ("dev", "staging", "prod"):
        row = rows[tag]
        assert row["digest"] == digest and row["stage"] == tag and row["decision"] == "PASSED"
        assert row["by"] == "release-bot" and row["signer"].startswith("key ")
        assert row["promoted_at"].endswith("Z")
        assert row["source"] == f"oci://{registry.host}/{repo}@{digest}"
        assert row["attached"] == {"vsa": 3, "sbom": 3, "record": 3}
    assert rows["build-7"]["stage"] is None and rows["build-7"]["decision"] is None
    assert rows["prod"]["signature_verified"] is None  # not checked without --key

    checked = json.loads(cli("status", registry.ref(repo), "--plain-http", "-f", "json", "--key", sign_key[1]).out)
    assert {row["tag"]: row["signature_verified"] for row in checked["tags"]} == {
        "dev": True, "staging": True, "prod": True, "build-7": None,
    }  # fmt: skip
    other = _other_public_key(tmp_path)
    wrong = json.loads(cli("status", registry.ref(repo), "--plain-http", "-f", "json", "--key", other).out)
    assert wrong["tags"][0]["signature_verified"] is False
    assert "(NOT VERIFIED)" in cli("status", registry.ref(repo), "--plain-http", "--key", other).out

    table = cli("status", registry.ref(repo), "--plain-http").out
    lines = table.splitlines()
    assert lines[0] == f"{registry.host}/{repo}"
    assert lines[1].split() == ["TAG", "DIGEST", "STAGE", "DECISION", "PROMOTED", "BY", "SIGNER", "ATTACHED"]
    assert lines[2].split()[:4] == ["dev", digest[:19], "dev", "PASSED"]
    assert "release-bot" in lines[4] and "3 record, 3 sbom, 3 vsa" in lines[4]


def test_status_of_an_unknown_repository_is_empty(cli, registry, repo) -> None:
    r = cli("status", registry.ref(repo), "--plain-http")
    assert r.code == 0 and r.out.strip() == f"{registry.host}/{repo}: no tags"


def _other_public_key(tmp_path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "other.pub"
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)
