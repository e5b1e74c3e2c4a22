"""A single file given as the artifact is judged on its own bytes: nothing beside it (not part of
its digest) may change the verdict."""

from __future__ import annotations

import json
from pathlib import Path

POETRY_LOCK = """[[package]]
name = "jinja2"
version = "2.11.2"
optional = false
python-versions = "*"

[[package]]
name = "six"
version = "1.16.0"
optional = false
python-versions = "*"

[metadata]
lock-version = "2.0"
python-versions = "*"
content-hash = "x"
"""


def _audit(cli, path: Path) -> tuple[str, set[str]]:
    r = cli("audit", path, "-f", "json")
    assert r.code in (0, 1), r.err
    record = json.loads(r.out)
    return record["artifact"]["digest"], {f["subject"] for f in record["findings"] if f["id"] == "VULN-KNOWN"}


def test_pyproject_beside_a_lock_file_artifact_changes_nothing(cli, tmp_path: Path) -> None:
    """A ``pyproject.toml`` beside ``poetry.lock`` named only ``six``: the lock file's vulnerable
    jinja2 vanished from the audit while the digest (of the lock file alone) stayed the same."""
    lock = tmp_path / "poetry.lock"
    lock.write_text(POETRY_LOCK)
    alone = _audit(cli, lock)
    assert "pkg:pypi/jinja2@2.11.2" in alone[1]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\ndependencies = ["six"]\n')
    assert _audit(cli, lock) == alone


def test_the_project_directory_still_reads_its_pyproject(cli, tmp_path: Path) -> None:
    """As a directory, both files are the artifact (both in its digest): the pyproject counts."""
    (tmp_path / "poetry.lock").write_text(POETRY_LOCK)
    before = _audit(cli, tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\ndependencies = ["six"]\n')
    after = _audit(cli, tmp_path)
    assert after[0] != before[0]
