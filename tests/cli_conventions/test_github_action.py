"""The GitHub Action run step by step as the runner does: an isolated install from the pinned
checkout, exit 2 never hidden, two uses in one job apart, SARIF upload failures not fatal, `.`."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from tests.cli_conventions.ci import JobResult, run_action
from tests.cli_conventions.conftest import write
from tests.conftest import REPO

CLEAN = "idna==3.7\n"
VULNERABLE = "idna==3.4\nurllib3==1.26.12\n"
pytestmark = pytest.mark.slow


class Job:
    """One job: a workspace, a runner temp directory shared by every use of the action in it,
    and the hosted actions stood in for (upload-artifact refuses a name used twice in a run)."""

    def __init__(self, root: Path, env: dict[str, str], *, code_scanning: bool = True) -> None:
        self.workspace = root / "workspace"
        self.temp = root / "runner-temp"
        self.workspace.mkdir(parents=True)
        self.temp.mkdir(exist_ok=True)
        self.env = env
        self.code_scanning = code_scanning
        self.artifacts: dict[str, list[str]] = {}
        self.sarif_uploads: list[dict[str, str]] = []

    def _setup_python(self, with_: dict[str, str]) -> tuple[bool, dict[str, str]]:
        assert with_["update-environment"] == "false"  # the job's own Python stays as it was
        return True, {"python-path": sys.executable}

    def _upload_sarif(self, with_: dict[str, str]) -> tuple[bool, dict[str, str]]:
        assert Path(with_["sarif_file"]).is_file()
        self.sarif_uploads.append(with_)
        return self.code_scanning, {}  # "Code scanning is not enabled for this repository"

    def _upload_artifact(self, with_: dict[str, str]) -> tuple[bool, dict[str, str]]:
        if with_["name"] in self.artifacts:
            return False, {}  # "an artifact with this name already exists on the workflow run"
        self.artifacts[with_["name"]] = [p for p in with_["path"].splitlines() if p.strip()]
        return True, {}

    def use(self, **inputs: str) -> JobResult:
        return run_action(
            REPO / "action.yml",
            inputs,
            workspace=self.workspace,
            runner_temp=self.temp,
            uses={
                "actions/setup-python": self._setup_python,
                "github/codeql-action/upload-sarif": self._upload_sarif,
                "actions/upload-artifact": self._upload_artifact,
            },
            github={"action_path": str(REPO), "job": "promote", "run_attempt": "1"},
            env=self.env,
            summary_file=self.temp / "summary.md",
        )


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runner temp directory for the module, so the private venv is built once."""
    return tmp_path_factory.mktemp("runner-temp")


def _job(tmp_path: Path, runner_temp: Path, env: dict[str, str], **kw: bool) -> Job:
    job = Job(tmp_path, env, **kw)
    job.temp = runner_temp
    return job


def test_dot_in_a_repository_without_code_scanning_is_allowed_and_leaves_the_workspace_alone(
    tmp_path: Path, runner_temp: Path, ci_env: dict[str, str]
) -> None:
    job = _job(tmp_path, runner_temp, ci_env, code_scanning=False)
    write(job.workspace / "requirements.txt", CLEAN)
    result = job.use(path=".")
    assert not result.failed, result.step("Run the gate").stderr[-800:]
    assert result.outputs["decision"] == "allowed" and result.outputs["exit-code"] == "0"
    assert job.sarif_uploads, "the upload was tried"  # and failed, as a warning only
    # the reports and the ledger live outside the gated tree: gating `.` again sees the same files
    assert sorted(p.name for p in job.workspace.iterdir()) == ["requirements.txt"]
    reports = Path(result.outputs["report-dir"])
    assert {"gate.json", "gate.sarif", "gate.md", "gate.html", "gate.junit.xml"} <= {p.name for p in reports.iterdir()}
    assert "promotion to dev" in result.summary
    # scanner ran from its private venv, installed from this checkout, not the test environment's
    assert any(job.temp.glob("scanner-venv-*/lib/python*/site-packages/scanner/__init__.py"))


def test_fail_on_deny_false_lets_a_denial_pass_but_never_exit_2(
    tmp_path: Path, runner_temp: Path, ci_env: dict[str, str]
) -> None:
    job = _job(tmp_path, runner_temp, ci_env)
    write(job.workspace / "app" / "requirements.txt", VULNERABLE)
    denied = job.use(path="app", stage="prod", **{"fail-on-deny": "false"})
    assert denied.outputs["decision"] == "denied" and not denied.failed
    assert denied.step("Enforce").outcome == "skipped"
    broken = job.use(path="no/such/path", stage="prod", name="broken", **{"fail-on-deny": "false"})
    assert broken.outputs["decision"] == "error" and broken.outputs["exit-code"] == "2"
    assert broken.failed and broken.step("Enforce").outcome == "failure"
    assert not any(u["sarif_file"].endswith("broken/gate.sarif") for u in job.sarif_uploads)
    enforced = job.use(path="app", stage="prod", name="enforced")
    assert enforced.failed and enforced.step("Enforce").outcome == "failure"


def test_two_uses_in_one_job_keep_their_reports_artifacts_and_categories_apart(
    tmp_path: Path, runner_temp: Path, ci_env: dict[str, str]
) -> None:
    job = _job(tmp_path, runner_temp, ci_env)
    write(job.workspace / "svc-a" / "requirements.txt", CLEAN)
    write(job.workspace / "svc-b" / "requirements.txt", CLEAN)
    first, second = job.use(path="svc-a", stage="staging"), job.use(path="svc-b", stage="staging")
    assert not first.failed and not second.failed, second.steps
    assert first.outputs["report-dir"] != second.outputs["report-dir"]
    assert len(job.artifacts) == 2
    categories = [u["category"] for u in job.sarif_uploads]
    assert len(set(categories)) == 2, categories
    for result, svc in ((first, "svc-a"), (second, "svc-b")):
        assert svc in Path(result.outputs["report-dir"], "gate.json").read_text()
    # both decisions went to the one ledger of the job, in order
    ledgers = {p for paths in job.artifacts.values() for p in paths if p.endswith(".db")}
    assert len(ledgers) == 1


def test_a_wheel_is_installed_only_with_its_hash(tmp_path: Path, runner_temp: Path, ci_env: dict[str, str]) -> None:
    job = _job(tmp_path, runner_temp, ci_env)
    wheel = write(tmp_path / "dist" / "scanner_gate-0.1.0-py3-none-any.whl", "not really a wheel")
    no_hash = job.use(path=".", package=str(wheel))
    assert no_hash.step("Install").outcome == "failure" and "package-sha256" in no_hash.step("Install").stdout
    wrong = job.use(path=".", package=str(wheel), **{"package-sha256": hashlib.sha256(b"other").hexdigest()})
    assert wrong.step("Install").outcome == "failure"
    assert wrong.step("Run the gate").outcome == "skipped" and wrong.failed
