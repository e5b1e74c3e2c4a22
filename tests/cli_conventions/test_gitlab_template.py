"""The GitLab template run as GitLab would run the jobs of its own usage example: installed from a
pinned wheel into a private venv, the gate over `.`, and the audit report given the gate's ledger."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli_conventions.ci import load_gitlab, run_gitlab_job
from tests.cli_conventions.conftest import write
from tests.conftest import REPO

TEMPLATE = REPO / "ci" / "gitlab" / "scanner.gitlab-ci.yml"
pytestmark = pytest.mark.slow


def usage_example() -> str:
    """The jobs of the template's header comment (everything but the `include:`)."""
    lines, on = [], False
    for line in TEMPLATE.read_text().splitlines():
        if not line.startswith("#"):
            break
        body = line[4:] if line.startswith("#   ") else None
        if body is not None and body.startswith("include:"):
            on = True
        if on and body is None:
            break
        if on and body is not None:
            lines.append(body)
    doc = yaml.safe_load("\n".join(lines).replace("<", "'<").replace(">", ">'"))
    doc.pop("include")
    return yaml.safe_dump(doc)


@pytest.fixture(scope="module")
def gitlab_env(ci_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The image's `python` is this interpreter; TMPDIR private to the test."""
    bin_dir = tmp_path_factory.mktemp("image-bin")
    (bin_dir / "python").symlink_to(sys.executable)
    tmp = tmp_path_factory.mktemp("tmp")
    return {
        **ci_env,
        "PATH": f"{bin_dir}{os.pathsep}{ci_env['PATH']}",
        "TMPDIR": str(tmp),
        "CI_COMMIT_REF_SLUG": "main",
    }


def _jobs(wheel: Path, venv: Path) -> dict[str, dict]:
    jobs = load_gitlab(TEMPLATE, usage_example())
    for job in jobs.values():
        job["variables"].update(
            SCANNER_WHEEL=str(wheel),
            SCANNER_WHEEL_SHA256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
            SCANNER_VENV=str(venv),
        )
    return jobs


def test_gate_job_then_audit_report_job_receives_the_ledger(
    tmp_path: Path, wheel: Path, gitlab_env: dict[str, str]
) -> None:
    jobs = _jobs(wheel, tmp_path / "venv")
    gate, report = jobs["scanner-gate"], jobs["scanner-audit-report"]
    gate["variables"]["SCANNER_PATH"] = "."  # the whole checkout, the template's default
    project = tmp_path / "gate-job"
    write(project / "requirements.txt", "idna==3.7\n")
    # a venv another pin left behind (shell executors keep /tmp) is not reused
    write(tmp_path / "venv" / "bin" / "scanner", "#!/bin/sh\necho stale scanner; exit 0\n").chmod(0o755)
    write(tmp_path / "venv" / ".scanner-pin", "0" * 40 + "\n")
    done = run_gitlab_job(gate, project_dir=project, env=gitlab_env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert "stale scanner" not in done.stdout
    assert "promotion to staging" in done.stdout  # the Markdown summary in the job log
    junit = project / gate["artifacts"]["reports"]["junit"]
    assert junit.is_file()

    # GitLab hands the gate job's artifacts to the jobs that need it, in a fresh checkout
    needs = [n["job"] for n in report["needs"] if n.get("artifacts", True)]
    assert needs == ["scanner-gate"]
    audit_dir = tmp_path / "audit-job"
    audit_dir.mkdir()
    for rel in gate["artifacts"]["paths"]:
        src = project / rel
        assert src.exists(), rel
        dst = audit_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    # a new job: on a shell executor the venv of the same pin is reused, in a container built anew
    done = run_gitlab_job(report, project_dir=audit_dir, env=gitlab_env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert "OK, 1 record(s)" in done.stdout
    html = (audit_dir / "scanner-reports" / "audit.html").read_text()
    assert "requirements.txt" in html or "gate-job" in html


def test_audit_report_without_the_ledger_stops(tmp_path: Path, wheel: Path, gitlab_env: dict[str, str]) -> None:
    report = _jobs(wheel, tmp_path / "venv")["scanner-audit-report"]
    done = run_gitlab_job(report, project_dir=tmp_path, env=gitlab_env)
    assert done.returncode == 2 and "no ledger at .scanner/ledger.db" in done.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SCANNER_COMMIT": ""}, "full commit SHA"),
        ({"SCANNER_COMMIT": "v0.1.0"}, "full commit SHA"),
        ({"SCANNER_COMMIT": "3ccb6125"}, "40-digit"),
        ({"SCANNER_WHEEL": "dist/scanner_gate-0.1.0-py3-none-any.whl"}, "needs SCANNER_WHEEL_SHA256"),
    ],
)
def test_only_a_pinned_source_is_installed(
    tmp_path: Path, gitlab_env: dict[str, str], variables: dict[str, str], message: str
) -> None:
    job = load_gitlab(TEMPLATE, usage_example())["scanner-gate"]
    job["variables"].update(variables, SCANNER_VENV=str(tmp_path / "venv"))
    done = run_gitlab_job(job, project_dir=tmp_path, env=gitlab_env)
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "venv").exists()  # refused before anything was installed


def test_a_wheel_with_another_hash_is_not_installed(tmp_path: Path, wheel: Path, gitlab_env: dict[str, str]) -> None:
    job = _jobs(wheel, tmp_path / "venv")["scanner-gate"]
    job["variables"]["SCANNER_WHEEL_SHA256"] = hashlib.sha256(b"another build").hexdigest()
    done = run_gitlab_job(job, project_dir=tmp_path, env=gitlab_env)
    assert done.returncode != 0 and "FAILED" in done.stderr + done.stdout
    assert not (tmp_path / "venv").exists()
