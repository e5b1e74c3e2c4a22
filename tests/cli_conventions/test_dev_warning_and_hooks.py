"""The default stage warns visibly about a critical vulnerability with a fix; pre-commit hooks
match only the files they accept."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CRITICAL_WITH_FIX = "langchain==0.0.200\n"  # PYSEC-2023-138, CVSS 9.8, fixed in 0.0.236


def test_dev_allows_but_warns_on_stderr_when_reports_go_to_files(cli: Any, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(CRITICAL_WITH_FIX)
    run = cli("gate", req, "--no-ledger", "-f", f"json={tmp_path / 'gate.json'}")  # default stage: dev
    assert run.code == 0
    assert "scanner: warning: promotion to dev allowed with" in run.err
    assert re.search(
        r"scanner: warning: \[vuln-fixable\] .*PYSEC-2023-138 in langchain 0\.0\.200 \(critical, fixed in", run.err
    )


def test_dev_warning_in_the_table_is_yellow_on_a_colour_terminal(cli: Any, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(CRITICAL_WITH_FIX)
    run = cli("--color", "always", "gate", req, "--no-ledger")
    assert run.code == 0
    warn = next(line for line in run.out.splitlines() if "[vuln-fixable]" in line)
    assert "\x1b[33m" in warn  # yellow
    assert "scanner: warning: [vuln-fixable]" not in run.err  # said once, in the table


def _hooks() -> dict[str, dict[str, Any]]:
    return {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}


ACCEPTED = {
    "scanner-requirements": ["requirements.txt", "app/requirements-dev.txt", "pylock.toml", "pylock.web.toml",
                             "uv.lock", "sub/poetry.lock"],
    "scanner-models": ["m/model.pt", "model.safetensors", "w.bin", "clf.pkl", "clf.joblib", "m.onnx", "m.gguf",
                       "k.keras", "k.h5", "a.npy", "a.npz", "m.tflite"],
}  # fmt: skip
REFUSED = {
    "scanner-requirements": ["requirements.in", "pyproject.toml", "docs/requirements.md", "requirements/README",
                             "setup.cfg"],
    "scanner-models": ["config.json", "README.md", "tokenizer.json", "vocab.txt", "model.py", "train.yaml",
                       "requirements.txt"],
}  # fmt: skip


@pytest.mark.parametrize("hook", sorted(ACCEPTED))
def test_hook_patterns_match_only_what_the_hook_accepts(hook: str) -> None:
    pattern = re.compile(_hooks()[hook]["files"])
    for name in ACCEPTED[hook]:
        assert pattern.search(name), (hook, name)
    for name in REFUSED[hook]:
        assert not pattern.search(name), (hook, name)


def test_each_hook_accepts_what_its_pattern_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the hooks on real files of the kinds their patterns match: a decision (0 or 1), never
    exit 2 (an input the command refuses)."""
    from scanner.precommit import main

    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, ("true",))

    monkeypatch.chdir(tmp_path)
    Path("requirements-dev.txt").write_text("idna==3.7\n")
    Path("uv.lock").write_text(
        'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "idna"\nversion = "3.7"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
    )
    Path("clf.pkl").write_bytes(pickle.dumps(Evil(), protocol=2))
    Path("w.bin").write_bytes(os.urandom(4096))
    assert main(["requirements", "requirements-dev.txt"]) in (0, 1)
    assert main(["requirements", "uv.lock"]) in (0, 1)
    assert main(["models", "clf.pkl"]) == 1  # the pickle calls os.system
    assert main(["models", "w.bin"]) in (0, 1)
