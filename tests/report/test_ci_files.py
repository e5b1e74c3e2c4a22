"""The CI integration files: well-formed, wired to real commands, and free of script injection."""

from __future__ import annotations

import re
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


def test_gitlab_template_reports_junit_and_keeps_the_rest() -> None:
    ci = load_gitlab(REPO / "ci/gitlab/scanner.gitlab-ci.yml")
    job = ci[".scanner-gate"]
    script = "\n".join(job["script"])
    assert '/bin/scanner" gate' in script
    junit = job["artifacts"]["reports"]["junit"]
    assert f"junit={junit}" in script
    assert job["artifacts"]["when"] == "always"
    assert {"scanner-reports/", ".scanner/ledger.db"} <= set(job["artifacts"]["paths"])
    for fmt in ("json", "sarif", "html", "markdown"):
        assert f"{fmt}=scanner-reports/gate." in script
    assert ci[".scanner-audit-report"]["variables"]["SCANNER_LEDGER"] in job["artifacts"]["paths"]
    audit = "\n".join(ci[".scanner-audit-report"]["script"])
    assert '/bin/scanner" report verify-ledger' in audit and '/bin/scanner" report --ledger' in audit


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
