"""The evidence record: what, by what, where, when, findings, waivers, decision; and its schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema

from scanner.evidence.ci import ci_context
from scanner.resources import policies_dir
from tests.conftest import REPO
from tests.report.conftest import EVIL_NAME, make_record

SCHEMA = json.loads((REPO / "docs" / "evidence-schema.json").read_text())


def test_record_validates_against_the_documented_schema(sample_record: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(sample_record)
    assert sample_record["schema"] == "scanner-evidence/2"


def test_what_was_checked_every_file_with_its_sha256(sample_record: dict[str, Any]) -> None:
    art = sample_record["artifact"]
    root = Path(art["path"])
    files = {f["path"]: f for f in art["files"]}
    assert set(files) == {"README.md", "requirements.txt", "models/classifier.pt", f"models/{EVIL_NAME}"}
    for rel, item in files.items():
        data = (root / rel).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["size"] == len(data)
    assert art["kind"] == "app-dir" and art["digest"].startswith("sha256:")
    assert "sbom" in sample_record  # the CycloneDX document slot


def test_by_what_policy_data_waivers_and_database(sample_record: dict[str, Any]) -> None:
    from scanner.files import directory_digest

    inputs = sample_record["inputs"]
    assert inputs["policy"]["digest"] == directory_digest(policies_dir())
    data = (policies_dir() / "data.json").read_bytes()
    assert inputs["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert inputs["waivers"]["sha256"] == hashlib.sha256(b"waivers: []\n").hexdigest()
    assert inputs["vulnerability_db"] == {
        "source": "osv-pypi",
        "snapshot_date": "2026-11-01",
        "age_days": 19,
        "records": 4711,
    }
    assert sample_record["tool"]["name"] == "scanner"


def test_where_and_when(sample_record: dict[str, Any]) -> None:
    assert sample_record["timestamp"] == "2026-11-20T09:30:00Z"
    ci = sample_record["ci"]
    assert ci["system"] == "github-actions"
    assert ci["run_url"] == "https://github.com/acme/models/actions/runs/4242/attempts/2"
    assert ci["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert (ci["ref"], ci["actor"]) == ("refs/heads/main", "alice")
    assert sample_record["promotion"] == {"from": "staging", "to": "prod"}


def test_findings_waivers_and_decision(sample_record: dict[str, Any]) -> None:
    waived = [f for f in sample_record["findings"] if f["waived"]]
    assert [(f["id"], f["evidence"]["vuln_id"], f["waived"]["id"]) for f in waived] == [
        ("VULN-KNOWN", "PYSEC-2020-96", "W-7")
    ]
    by_id = {w["id"]: w for w in sample_record["waivers"]}
    assert by_id["W-7"]["owner"] == "platform-team" and by_id["W-7"]["approved_by"] == "security-lead"
    assert by_id["W-OLD"]["expired"] is True
    decision = sample_record["decision"]
    assert decision["allow"] is False
    assert [r["rule"] for r in decision["deny"]] == ["model-unsafe", "waiver-expired"]
    assert [r["rule"] for r in decision["warn"]] == ["db-age"]
    assert sample_record["sections"]["signatures"][0]["verified"] is False
    assert {c["check"]: c["complete"] for c in sample_record["checks"]}["model"] is False
    assert sample_record["counts"] == {"critical": 1, "high": 3, "medium": 2, "low": 1}


def test_gitlab_and_local_ci_context() -> None:
    gl = ci_context(
        {
            "GITLAB_CI": "true",
            "CI_JOB_URL": "https://gitlab.example/acme/m/-/jobs/9",
            "CI_PIPELINE_URL": "https://gitlab.example/acme/m/-/pipelines/3",
            "CI_COMMIT_SHA": "abc",
            "CI_COMMIT_REF_NAME": "main",
            "GITLAB_USER_LOGIN": "bob",
            "CI_PROJECT_URL": "https://gitlab.example/acme/m",
        }
    )
    assert gl["system"] == "gitlab-ci"
    assert gl["run_url"] == "https://gitlab.example/acme/m/-/jobs/9"
    assert (gl["commit"], gl["ref"], gl["actor"]) == ("abc", "main", "bob")
    local = ci_context({"USER": "carol"})
    assert local == {**dict.fromkeys(local, None), "system": "local", "actor": "carol"}
    assert ci_context({"CI": "true"})["system"] == "ci"
    gh = ci_context(
        {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "1"}
    )
    assert gh["run_url"] == "https://github.com/a/b/actions/runs/1"


def test_symlink_out_of_the_tree_is_listed_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("do not hash me")
    record = make_record(tmp_path / "r", env={})
    app = Path(record["artifact"]["path"])
    (app / "link.bin").symlink_to(outside)
    from scanner.evidence.record import artifact_files

    files = {f["path"]: f for f in artifact_files(app)}
    assert files["link.bin"] == {"path": "link.bin", "sha256": None, "size": None, "symlink": True, "escapes": True}
