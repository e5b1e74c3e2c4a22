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


PYPROJECT_LICENSE_FILE = '[project]\nname = "demo"\nversion = "1"\nlicense = {file = "LICENSE"}\n'
MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
GPL = "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"


def _sbom_root(cli, path: Path) -> tuple[str, dict]:
    r = cli("sbom", path, "-f", "cyclonedx-json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    props = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    return props["scanner:artifact-digest"], doc["metadata"]["component"]


def test_licence_file_beside_a_lone_pyproject_is_not_read(cli, tmp_path: Path) -> None:
    """``license = {file = "LICENSE"}`` in a single ``pyproject.toml`` artifact: the LICENSE file
    is not part of its digest, so it must not decide the licence. Swapping it changes nothing;
    the SBOM says the licence is declared by a file that was not read."""
    project = tmp_path / "pyproject.toml"
    project.write_text(PYPROJECT_LICENSE_FILE)
    (tmp_path / "LICENSE").write_text(MIT)
    first = _sbom_root(cli, project)
    (tmp_path / "LICENSE").write_text(GPL)
    assert _sbom_root(cli, project) == first
    root = first[1]
    assert "licenses" not in root
    props = {p["name"]: p["value"] for p in root.get("properties", [])}
    assert props["scanner:license-file"].startswith("LICENSE (not read")


def test_licence_file_of_a_project_directory_is_read(cli, tmp_path: Path) -> None:
    """As a directory the LICENSE is part of the artifact (and its digest): it is read."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT_LICENSE_FILE)
    (tmp_path / "LICENSE").write_text(MIT)
    digest, root = _sbom_root(cli, tmp_path)
    assert [lic["license"].get("id") for lic in root["licenses"]] == ["MIT"]
    (tmp_path / "LICENSE").write_text(GPL)
    other, root = _sbom_root(cli, tmp_path)
    assert other != digest
    assert "MIT" not in json.dumps(root.get("licenses"))
