"""The CI integration files: well-formed, wired to real commands, and free of script injection."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from scanner.precommit import command_for
from tests.cli_conventions.ci import load_gitlab
from tests.conftest import REPO


def _load(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text())


def test_github_action_runs_the_gate_uploads_sarif_and_writes_the_summary() -> None:
    action = _load("action.yml")
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    gate = next(s for s in steps if s.get("id") == "gate")
    assert '/scanner" gate' in gate["run"] and "$GITHUB_STEP_SUMMARY" in gate["run"]
    for fmt in ("json", "sarif", "markdown", "html", "junit"):
        assert f'--format "{fmt}=$OUT/' in gate["run"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "${{ steps.gate.outputs.sarif }}"
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in steps)
    assert set(action["outputs"]) >= {"decision", "exit-code", "sarif"}
    # inputs reach shell scripts only through env, never spliced into the script text
    for step in steps:
        assert "${{ inputs." not in step.get("run", ""), step.get("name")
        assert "${{ steps." not in step.get("run", ""), step.get("name")


GITLAB = REPO / "ci/gitlab/scanner.gitlab-ci.yml"
KEPT = ".scanner-ledger/.git/ledger.db"  # the ledger the GitLab cache and artifacts carry


def test_gitlab_template_reports_junit_and_keeps_the_rest() -> None:
    ci = load_gitlab(GITLAB)
    job = ci[".scanner-gate"]
    script = "\n".join(job["script"])
    assert '/bin/scanner" gate' in script
    junit = job["artifacts"]["reports"]["junit"]
    assert junit == "scanner-reports/gate.junit.xml" and '--format "junit=$scanner_out/gate.junit.xml"' in script
    assert job["artifacts"]["when"] == "always"
    assert {"scanner-reports/", KEPT} <= set(job["artifacts"]["paths"])
    for fmt in ("json", "sarif", "html", "markdown"):
        assert f'--format "{fmt}=$scanner_out/gate.' in script
    # written outside the tree, then copied into a fresh folder: never a committed report shown as the gate's
    assert 'rm -rf scanner-reports && mkdir scanner-reports && cp -R "$scanner_out/." scanner-reports/' in script
    audit = "\n".join(ci[".scanner-audit-report"]["script"])
    assert f"scanner_kept={KEPT}" in audit
    assert '/bin/scanner" report verify-ledger' in audit and '/bin/scanner" report --ledger' in audit


def _ledger_paths(text: str) -> list[str]:
    return re.findall(r"[^\s\"'()=]*ledger\.db", text)


def test_no_ci_file_keeps_the_ledger_where_the_commit_could_put_it() -> None:
    """A ledger in the checkout could be the commit's own (a forged chain that becomes the
    baseline when the cache is empty), and one inside the judged tree changes its digest. GitLab
    caches and artifacts must lie in the project directory: the template keeps the ledger under a
    `.git` path component, which git never checks out (tests/cli_conventions/test_gitlab_template.py
    shows it with git), and the gate reads and writes it in a private temporary folder."""
    ci = load_gitlab(GITLAB)
    gate, audit = ci[".scanner-gate"], ci[".scanner-audit-report"]
    for job in (gate, audit):
        assert job["variables"]["SCANNER_LEDGER"] == ""  # none in the checkout by default
    kept_paths = [*gate["cache"]["paths"], *(p for p in gate["artifacts"]["paths"] if "ledger" in p)]
    assert kept_paths
    for path in kept_paths:
        parts = Path(path).parts
        assert ".git" in parts[1:], path  # a .git component, not the checkout's own .git (the runner warns on that)
    assert gate["cache"]["when"] == "always"  # a denied gate's entry is kept too
    # not the key earlier versions cached `.scanner/` under: that archive would be restored into the tree
    assert gate["cache"]["key"] != "scanner-ledger-$CI_COMMIT_REF_SLUG-$SCANNER_STAGE"
    script = "\n".join(gate["script"])
    moved_out = script.index('mv "$scanner_kept" "$SCANNER_LEDGER"')
    assert (
        script.index('SCANNER_LEDGER="$(mktemp -d')
        < moved_out
        < script.index('/bin/scanner" gate')
        < script.index('mv "$SCANNER_LEDGER" "$scanner_kept"')
    )
    # every ledger path the shipped CI files name: the kept one, a private temporary folder, $RUNNER_TEMP
    text = GITLAB.read_text() + (REPO / "action.yml").read_text()
    assert ".scanner/" not in text
    for path in _ledger_paths(text):
        assert path in (KEPT, "/ledger.db", "${SCANNER_LEDGER%/ledger.db") or path.startswith("$RUNNER_TEMP/"), path
    action = _load("action.yml")
    gate_step = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")
    assert 'SCANNER_LEDGER="$RUNNER_TEMP/scanner/ledger.db"' in gate_step["run"]


def test_pre_commit_hooks_point_at_real_modes() -> None:
    hooks = {h["id"]: h for h in _load(".pre-commit-hooks.yaml")}
    assert set(hooks) == {"scanner-models", "scanner-requirements"}
    for hook in hooks.values():
        module, mode = re.fullmatch(r"python -m (\S+) (\S+)", hook["entry"]).groups()  # type: ignore[union-attr]
        assert module == "scanner.precommit"
        assert command_for(mode)[0] in ("scan", "audit", "gate")
        re.compile(hook["files"])
    assert re.search(hooks["scanner-models"]["files"], "models/evil.pkl")
    assert re.search(hooks["scanner-requirements"]["files"], "app/requirements-dev.txt")
    assert not re.search(hooks["scanner-requirements"]["files"], "docs/requirements.md")


def test_no_template_installs_a_name_from_an_index() -> None:
    """`pip install scanner` would fetch an unrelated PyPI project: every install names a pinned
    local wheel (checked against its hash) or this repository at a commit, into a private venv."""
    texts = {
        "action.yml": (REPO / "action.yml").read_text(),
        "gitlab": (REPO / "ci/gitlab/scanner.gitlab-ci.yml").read_text(),
        "README.md": (REPO / "README.md").read_text(),
    }
    texts.update({str(p): p.read_text() for p in (REPO / "docs").rglob("*.md")})
    for name, text in texts.items():
        for line in re.findall(r"pip install[^\n]*", text):
            assert not re.search(r"pip install (-\S+ )*['\"]?scanner(['\"]|\s|$)", line), (name, line)
    for name in ("action.yml", "gitlab"):
        installs = re.findall(r"(\S*python\S*) -m pip install[^\n]*", texts[name])
        assert installs and all("venv" in py.lower() for py in installs), (name, installs)
        assert "sha256sum" in texts[name]
    action = _load("action.yml")
    setup = next(s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["update-environment"] is False
