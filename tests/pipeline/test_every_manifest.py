"""Every dependency manifest of an application directory is read: a lock file, a BOM or a
virtualenv beside a ``requirements.txt`` (or the other way round) must not leave the other
unaudited. Each component names the manifest(s) it was found in; a pyproject that the lock file
beside it does not satisfy is a finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.core import ScanError
from scanner.pipeline import AUDIT, GATE, SBOM, GateOptions, run

VULNERABLE = "pkg:pypi/jinja2@2.11.2"

POETRY_LOCK = """[[package]]
name = "six"
version = "1.16.0"
optional = false
python-versions = "*"

[metadata]
lock-version = "2.0"
python-versions = "*"
content-hash = "x"
"""
UV_LOCK = """version = 1
requires-python = ">=3.9"

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "https://pypi.org/simple" }
"""
PYLOCK = """lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "six"
version = "1.16.0"
"""
BOM = json.dumps(
    {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {"type": "library", "bom-ref": "six", "name": "six", "version": "1.16.0", "purl": "pkg:pypi/six@1.16.0"}
        ],
    }
)
PIPFILE_LOCK = json.dumps(
    {
        "_meta": {"pipfile-spec": 6},
        "default": {"six": {"hashes": ["sha256:" + "a" * 64], "version": "==1.16.0"}},
        "develop": {},
    }
)
BENIGN = {
    "poetry.lock": {"poetry.lock": POETRY_LOCK},
    "Pipfile.lock": {"Pipfile.lock": PIPFILE_LOCK},
    "uv.lock": {"uv.lock": UV_LOCK},
    "pylock.toml": {"pylock.toml": PYLOCK},
    "pylock.dev.toml": {"pylock.dev.toml": PYLOCK},
    "pyproject.toml": {"pyproject.toml": '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six==1.16.0"]\n'},
    "bom.json": {"bom.json": BOM},
    ".venv": {
        ".venv/pyvenv.cfg": "home = /usr/bin\n",
        ".venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"
        ),
    },
    "requirements.txt": {"requirements.txt": "six==1.16.0\n"},
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _vulnerable(outcome) -> set[str]:
    return {f["subject"] for f in outcome.record["findings"] if f["id"] == "VULN-KNOWN"}


@pytest.mark.parametrize("beside", sorted(set(BENIGN) - {"requirements.txt"}))
def test_a_benign_manifest_does_not_hide_a_vulnerable_requirements_file(tmp_path: Path, beside: str) -> None:
    app = tmp_path / "app"
    _write(app, {"requirements.txt": "jinja2==2.11.2\n", **BENIGN[beside]})
    for stages in (AUDIT, GATE):
        assert VULNERABLE in _vulnerable(run(app, stages, GateOptions())), (beside, stages.command)


@pytest.mark.parametrize(
    "vulnerable_in",
    ["requirements-dev.txt", "poetry.lock", "bom.json", "Pipfile.lock"],
)
def test_a_vulnerable_pin_in_any_manifest_is_found(tmp_path: Path, vulnerable_in: str) -> None:
    """The vulnerable pin sits in the manifest a first-match precedence would have skipped."""
    app = tmp_path / "app"
    _write(app, {"requirements.txt": "six==1.16.0\n", **BENIGN["pylock.toml"]})
    text = {
        "requirements-dev.txt": "jinja2==2.11.2\n",
        "poetry.lock": POETRY_LOCK.replace('name = "six"\nversion = "1.16.0"', 'name = "jinja2"\nversion = "2.11.2"'),
        "bom.json": BOM.replace('"six"', '"jinja2"').replace("1.16.0", "2.11.2").replace("six@", "jinja2@"),
        "Pipfile.lock": PIPFILE_LOCK.replace('"six"', '"jinja2"').replace("1.16.0", "2.11.2"),
    }[vulnerable_in]
    _write(app, {vulnerable_in: text})
    assert VULNERABLE in _vulnerable(run(app, AUDIT, GateOptions()))


def test_each_component_names_the_manifests_it_was_found_in(tmp_path: Path) -> None:
    app = tmp_path / "app"
    _write(app, {"requirements.txt": "jinja2==2.11.2\nsix==1.16.0\n", **BENIGN["poetry.lock"]})
    outcome = run(app, SBOM, GateOptions())
    found = {c.purl: c.properties.get("scanner:manifest") for c in outcome.inventory.components}
    assert found[VULNERABLE] == "requirements.txt"
    assert found["pkg:pypi/six@1.16.0"] == "poetry.lock,requirements.txt"
    root = outcome.inventory.root
    assert root is not None
    assert root.properties["scanner:input"] == "lockfile:poetry.lock,requirements:requirements.txt"


def test_a_pyproject_dependency_missing_from_the_lock_file_is_still_audited(tmp_path: Path) -> None:
    """A stale lock file: the pyproject pins jinja2, the lock knows only six."""
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six", "jinja2==2.11.2"]\n'
    _write(app, {"pyproject.toml": pyproject, **BENIGN["uv.lock"]})
    outcome = run(app, AUDIT, GateOptions())
    assert VULNERABLE in _vulnerable(outcome)
    # six: declared unpinned in the pyproject and resolved by the lock: one component
    assert [c.purl for c in outcome.inventory.components if c.name == "six"] == ["pkg:pypi/six@1.16.0"]


def test_a_lock_file_that_does_not_satisfy_the_pyproject_is_a_finding(tmp_path: Path) -> None:
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six>=1.17", "idna"]\n'
    _write(app, {"pyproject.toml": pyproject, **BENIGN["uv.lock"]})
    outcome = run(app, SBOM, GateOptions())
    found = {f.subject: f for f in outcome.inventory.findings if f.id == "SBOM-MANIFEST-MISMATCH"}
    assert set(found) == {"pkg:pypi/six", "pkg:pypi/idna"}
    assert "six>=1.17" in found["pkg:pypi/six"].message and "1.16.0" in found["pkg:pypi/six"].message
    assert "uv.lock" in found["pkg:pypi/idna"].message


def test_a_pin_the_lock_file_resolves_differently_is_audited_as_well(tmp_path: Path) -> None:
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six==1.17.0"]\n'
    _write(app, {"pyproject.toml": pyproject, **BENIGN["poetry.lock"]})
    inv = run(app, SBOM, GateOptions()).inventory
    assert sorted(c.purl for c in inv.components if c.name == "six") == ["pkg:pypi/six@1.16.0", "pkg:pypi/six@1.17.0"]
    [finding] = [f for f in inv.findings if f.id == "SBOM-MANIFEST-MISMATCH"]
    assert finding.message == "pyproject.toml pins six==1.17.0; poetry.lock resolve(s) 1.16.0: both are audited"


def test_a_range_the_lock_file_resolves_points_at_the_locked_component(tmp_path: Path) -> None:
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six>=1.10"]\n'
    _write(app, {"pyproject.toml": pyproject, **BENIGN["poetry.lock"]})
    inv = run(app, SBOM, GateOptions()).inventory
    assert [c.purl for c in inv.components] == ["pkg:pypi/six@1.16.0"]
    assert inv.components[0].properties["scanner:manifest"] == "poetry.lock,pyproject.toml"
    assert inv.root is not None and inv.dependencies[inv.root.bom_ref] == ["pkg:pypi/six@1.16.0"]
    assert not [f for f in inv.findings if f.id == "SBOM-MANIFEST-MISMATCH"]


def test_pipfile_lock_sections_markers_and_unpinned_entries(tmp_path: Path) -> None:
    from scanner.inventory.markers import TargetEnv
    from scanner.inventory.pipfile import inventory_pipfile_lock

    lock = tmp_path / "Pipfile.lock"
    lock.write_text(
        json.dumps(
            {
                "default": {
                    "Jinja2": {"version": "==2.11.2", "hashes": ["sha256:" + "b" * 64]},
                    "pywin32": {"version": "==306", "markers": "sys_platform == 'win32'"},
                    "mylib": {"git": "https://example.com/mylib.git", "ref": "abc"},
                },
                "develop": {"pytest": {"version": "==8.0.0"}, "jinja2": {"version": "==2.11.2"}},
            }
        )
    )
    inv = inventory_pipfile_lock(lock, TargetEnv.host(python_full_version="3.11.7"))
    by = {c.bom_ref: c for c in inv.components}
    assert sorted(by) == ["pkg:pypi/jinja2@2.11.2", "pkg:pypi/mylib", "pkg:pypi/pytest@8.0.0"]
    assert by["pkg:pypi/jinja2@2.11.2"].scope == "required"
    assert by["pkg:pypi/pytest@8.0.0"].properties["scanner:dependency-group"] == "develop"
    assert by["pkg:pypi/mylib"].properties["scanner:specifier"].startswith("git: https://example.com/")
    assert inv.root is not None and "pkg:pypi/pytest@8.0.0" not in inv.dependencies[inv.root.bom_ref]
    lock.write_text('{"default": [}')
    with pytest.raises(ScanError, match="invalid JSON"):
        inventory_pipfile_lock(lock)


def test_a_lone_pipfile_lock_is_an_application_input(tmp_path: Path) -> None:
    lock = tmp_path / "Pipfile.lock"
    lock.write_text(PIPFILE_LOCK.replace('"six"', '"jinja2"').replace("1.16.0", "2.11.2"))
    assert VULNERABLE in _vulnerable(run(lock, AUDIT, GateOptions()))


@pytest.mark.parametrize("top", ["requirements.txt", "config.json"])
def test_manifests_in_sub_folders_are_findings_not_silence(tmp_path: Path, top: str) -> None:
    """A monorepo's sub-project (or a model directory's) is not read: each of its manifests is a
    finding; installed packages' own files and the top-level venv's are not."""
    app = tmp_path / "app"
    _write(
        app,
        {
            top: "six==1.16.0\n" if top == "requirements.txt" else "{}",
            "services/api/requirements.txt": "jinja2==2.11.2\n",
            "services/web/uv.lock": UV_LOCK,
            **BENIGN[".venv"],
            ".venv/lib/python3.11/site-packages/six/tests/requirements.txt": "x==1\n",
            "vendor/lib/python3.11/site-packages/pkg/requirements.txt": "x==1\n",
        },
    )
    outcome = run(app, GATE, GateOptions())
    unread = {f["subject"] for f in outcome.record["findings"] if f["id"] == "SBOM-MANIFEST-NOT-READ"}
    assert unread == {"services/api/requirements.txt", "services/web/uv.lock"}


def test_past_the_reading_limit_manifests_are_findings(tmp_path: Path) -> None:
    """Each manifest is bounded, their number is not: past the limit they are named, not read."""
    from scanner.inventory.build import MANIFEST_LIMIT

    app = tmp_path / "app"
    _write(app, {f"requirements-{i:03d}.txt": "six==1.16.0\n" for i in range(MANIFEST_LIMIT + 2)})
    inv = run(app, SBOM, GateOptions()).inventory
    unread = sorted(f.subject for f in inv.findings if f.id == "SBOM-MANIFEST-NOT-READ")
    assert unread == [f"requirements-{MANIFEST_LIMIT:03d}.txt", f"requirements-{MANIFEST_LIMIT + 1:03d}.txt"]


def test_declarations_no_reader_takes_are_named_unless_resolved(tmp_path: Path) -> None:
    """A project with only setup.py / Pipfile / environment.yml: its dependencies cannot be
    audited, which a finding says; beside a lock or requirements file that resolves them, nothing."""
    app = tmp_path / "app"
    _write(app, {"setup.py": "from setuptools import setup\nsetup()\n", "Pipfile": "", "environment.yml": ""})
    inv = run(app, SBOM, GateOptions()).inventory
    unread = {f.subject: f.severity.value for f in inv.findings if f.id == "SBOM-MANIFEST-NOT-READ"}
    assert unread == {"setup.py": "low", "Pipfile": "low", "environment.yml": "low"}
    _write(app, {"requirements.txt": "six==1.16.0\n", **BENIGN["Pipfile.lock"]})
    inv = run(app, SBOM, GateOptions()).inventory
    assert {f.subject for f in inv.findings if f.id == "SBOM-MANIFEST-NOT-READ"} == {"environment.yml"}


def test_an_extra_the_lock_file_does_not_install_is_no_component(tmp_path: Path) -> None:
    """pylock.toml locks the default install: the pyproject's extra is not installed, so it is
    neither a component nor a mismatch (nor an unaudited dependency)."""
    app = tmp_path / "app"
    pyproject = (
        '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six"]\n'
        '[project.optional-dependencies]\nyaml = ["pyyaml>=6"]\n'
    )
    _write(app, {"pyproject.toml": pyproject, **BENIGN["pylock.toml"]})
    outcome = run(app, AUDIT, GateOptions())
    assert [c.purl for c in outcome.inventory.components] == ["pkg:pypi/six@1.16.0"]
    assert not [f for f in outcome.inventory.findings if f.id == "SBOM-MANIFEST-MISMATCH"]
    assert not [f for f in outcome.record["findings"] if f["id"] == "VULN-UNAUDITED"]


def test_a_pinned_requirements_file_resolves_the_pyproject_beside_it(tmp_path: Path) -> None:
    """``uv export`` / pip-compile output beside the pyproject: its pins resolve the declared
    ranges (no unaudited duplicate); a declared dependency it does not pin is a mismatch."""
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six>=1.10", "jinja2", "idna"]\n'
    _write(app, {"pyproject.toml": pyproject, "requirements.txt": "six==1.16.0\njinja2==2.11.2\n"})
    outcome = run(app, AUDIT, GateOptions())
    assert sorted(c.bom_ref for c in outcome.inventory.components) == [
        "pkg:pypi/idna",
        VULNERABLE,
        "pkg:pypi/six@1.16.0",
    ]
    assert VULNERABLE in _vulnerable(outcome)
    [mismatch] = [f for f in outcome.inventory.findings if f.id == "SBOM-MANIFEST-MISMATCH"]
    assert mismatch.message == (
        "pyproject.toml requires idna; requirements.txt resolve(s) no version of it: it is audited as declared"
    )


def test_a_partial_requirements_file_is_no_resolution_of_the_pyproject(tmp_path: Path) -> None:
    """``requirements-dev.txt`` beside a pyproject pins tools, not the project: both are read,
    and the project's dependencies are not called missing from it."""
    app = tmp_path / "app"
    pyproject = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six==1.16.0"]\n'
    _write(app, {"pyproject.toml": pyproject, "requirements-dev.txt": "jinja2==2.11.2\n"})
    outcome = run(app, AUDIT, GateOptions())
    assert sorted(c.bom_ref for c in outcome.inventory.components) == [VULNERABLE, "pkg:pypi/six@1.16.0"]
    assert not [f for f in outcome.inventory.findings if f.id == "SBOM-MANIFEST-MISMATCH"]
