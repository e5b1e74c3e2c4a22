"""The GitLab template run as GitLab would run the jobs of its own usage example: installed from a
pinned wheel into a private venv, the gate over `.`, and the audit report given the gate's ledger."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanner.evidence.ledger import Ledger
from tests.cli_conventions.ci import load_gitlab, run_gitlab_job
from tests.cli_conventions.conftest import write
from tests.conftest import REPO

TEMPLATE = REPO / "ci" / "gitlab" / "scanner.gitlab-ci.yml"
KEPT = ".scanner-ledger/.git/ledger.db"  # where the cache and the artifacts carry the ledger
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
    assert done.returncode == 2 and f"no ledger at {KEPT}" in done.stderr


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


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One venv for the tests below: the same pin is installed once and reused, as on a shell executor."""
    return tmp_path_factory.mktemp("shared-venv") / "venv"


def _entries(path: Path) -> list[str]:
    with Ledger(path, create=False) as ledger:
        assert ledger.verify().ok
        return [e.artifact_digest for e in ledger.entries()]


def _commit(project: Path) -> None:
    """What a commit ships: the dependencies, a ledger at the old default and reports that say
    the promotion was allowed."""
    write(project / "requirements.txt", "idna==3.7\n")
    with Ledger(project / ".scanner" / "ledger.db"):
        pass
    write(project / "scanner-reports" / "gate.md", "FORGED: promotion ALLOWED\n")
    write(project / "scanner-reports" / "gate.junit.xml", "<testsuites><testsuite name='forged'/></testsuites>\n")


def test_the_ledger_is_never_a_file_of_the_checkout(
    tmp_path: Path, venv: Path, wheel: Path, gitlab_env: dict[str, str]
) -> None:
    """Two pipelines of one branch: the first starts with an empty cache, and the ledger the
    checkout ships at the old default neither gives the baseline nor receives the entry; the
    second continues the chain the cache carried, and judges the same digest (no ledger, no report
    of the template's in the tree). A committed report is never shown or uploaded as the gate's."""
    gate = _jobs(wheel, venv)["scanner-gate"]
    gate["variables"]["SCANNER_PATH"] = "."
    planted_before = None
    digests = []
    cache: Path | None = None
    for pipeline in (1, 2):
        project = tmp_path / f"pipeline-{pipeline}"
        _commit(project)
        planted_before = planted_before or (project / ".scanner" / "ledger.db").read_bytes()
        if cache is not None:  # GitLab restores the cache over the checkout
            shutil.copytree(cache, project / ".scanner-ledger" / ".git")
        done = run_gitlab_job(gate, project_dir=project, env=gitlab_env)
        assert done.returncode == 0, done.stderr[-1500:]
        assert ("a new chain starts" in done.stdout) is (pipeline == 1)
        assert "FORGED" not in done.stdout and "promotion to staging" in done.stdout
        assert "forged" not in (project / gate["artifacts"]["reports"]["junit"]).read_text()
        record = json.loads((project / "scanner-reports" / "gate.json").read_text())
        ledger_path = Path(record["ledger"]["path"])
        assert ledger_path.is_absolute() and not ledger_path.is_relative_to(project)  # a private folder
        assert not ledger_path.parent.exists()  # removed once the ledger was kept
        assert (project / ".scanner" / "ledger.db").read_bytes() == planted_before
        digests.append(record["artifact"]["digest"])
        assert _entries(project / KEPT) == digests
        cache = project / ".scanner-ledger" / ".git"
    assert digests[0] == digests[1]


@pytest.mark.parametrize("planted", ["link", "file", "ledger-link"])
def test_what_the_checkout_has_under_the_kept_ledgers_name_is_refused(
    tmp_path: Path, wheel: Path, gitlab_env: dict[str, str], planted: str
) -> None:
    """git checks out no `.git` path component, but it does check out a link or a file named
    `.scanner-ledger`, which would lead the kept ledger's path elsewhere: both jobs stop (exit 2),
    before anything is installed."""
    jobs = _jobs(wheel, tmp_path / "venv")
    project = tmp_path / "checkout"
    write(project / "requirements.txt", "idna==3.7\n")
    elsewhere = tmp_path / "elsewhere"
    with Ledger(elsewhere / ".git" / "ledger.db"):
        pass
    before = (elsewhere / ".git" / "ledger.db").read_bytes()
    if planted == "link":
        (project / ".scanner-ledger").symlink_to(elsewhere, target_is_directory=True)
    elif planted == "file":
        write(project / ".scanner-ledger", "not a folder\n")
    else:
        (project / ".scanner-ledger" / ".git").mkdir(parents=True)
        (project / KEPT).symlink_to(elsewhere / ".git" / "ledger.db")
    for name in ("scanner-gate", "scanner-audit-report"):
        done = run_gitlab_job(jobs[name], project_dir=project, env=gitlab_env)
        assert done.returncode == 2, (name, done.stdout[-800:], done.stderr[-800:])
        assert "the ledger is not read from it" in done.stderr, done.stderr[-800:]
    assert (elsewhere / ".git" / "ledger.db").read_bytes() == before
    assert not (project / "scanner-reports").exists() and not (tmp_path / "venv").exists()


def test_a_named_ledger_inside_the_project_directory_is_refused(
    tmp_path: Path, venv: Path, wheel: Path, gitlab_env: dict[str, str]
) -> None:
    jobs = _jobs(wheel, venv)
    project = tmp_path / "checkout"
    write(project / "requirements.txt", "idna==3.7\n")
    outside = tmp_path / "shared" / "ledger.db"
    for name in ("scanner-gate", "scanner-audit-report"):
        for inside in ("ledger.db", "sub/../ledger.db", str(project / ".scanner" / "ledger.db")):
            jobs[name]["variables"]["SCANNER_LEDGER"] = inside
            done = run_gitlab_job(jobs[name], project_dir=project, env=gitlab_env)
            assert done.returncode == 2 and "lies inside the project directory" in done.stderr, (name, inside)
    gate = jobs["scanner-gate"]
    gate["variables"].update(SCANNER_LEDGER=str(outside), SCANNER_PATH=".")  # shared storage: used as named
    done = run_gitlab_job(gate, project_dir=project, env=gitlab_env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert len(_entries(outside)) == 1 and not (project / ".scanner-ledger").exists()


def test_git_never_checks_out_a_file_where_the_ledger_is_kept(tmp_path: Path) -> None:
    """The property the template rests on, shown with git itself: a commit whose tree holds
    `.scanner-ledger/.git/ledger.db` (built by hand, as no `git add` makes it) cannot be checked
    out, so that file in a GitLab job comes from the cache or an earlier job's artifacts."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@example.org",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@example.org",
    }

    def git(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=60)

    origin = tmp_path / "origin"
    origin.mkdir()
    git("init", "-q", "-b", "main", cwd=origin)
    blob = git("hash-object", "-w", "--stdin", cwd=origin, stdin="forged chain\n").stdout.strip()
    tree = git("mktree", cwd=origin, stdin=f"100644 blob {blob}\tledger.db\n").stdout.strip()
    for name in (".git", ".scanner-ledger"):
        tree = git("mktree", cwd=origin, stdin=f"040000 tree {tree}\t{name}\n").stdout.strip()
    commit = git("commit-tree", tree, "-m", "ships a ledger", cwd=origin).stdout.strip()
    assert git("update-ref", "refs/heads/main", commit, cwd=origin).returncode == 0
    clone = git("clone", "-q", str(origin), str(tmp_path / "checkout"), cwd=tmp_path)
    assert clone.returncode != 0 and "invalid path '.scanner-ledger/.git/ledger.db'" in clone.stderr
    assert not (tmp_path / "checkout" / ".scanner-ledger" / ".git" / "ledger.db").exists()
    # nor can it be staged
    write(tmp_path / "work" / ".scanner-ledger" / ".git" / "ledger.db", "forged\n")
    git("init", "-q", cwd=tmp_path / "work")
    staged = git("update-index", "--add", "--cacheinfo", f"100644,{blob},{KEPT}", cwd=tmp_path / "work")
    assert staged.returncode != 0 and "invalid path" in staged.stderr.lower()
