"""Contract tests for the one module that uses pip-audit's private API. If a pip-audit release
changes what we rely on, these fail first, with the reason in their name."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from packaging.version import Version

from scanner.errors import ScanError
from scanner.vulns.dependency import Dependency
from scanner.vulns.pip_audit_adapter import SUPPORTED, collect_pylock, pip_audit_version, to_dependency


def test_pinned_pip_audit_version() -> None:
    assert pip_audit_version().startswith(SUPPORTED + ".")


def test_private_api_shape() -> None:
    from pip_audit._dependency_source.pylock import PyLockSource, PyLockSourceError
    from pip_audit._service.interface import ResolvedDependency, SkippedDependency

    assert list(inspect.signature(PyLockSource.__init__).parameters) == ["self", "filenames"]
    assert list(inspect.signature(PyLockSource._collect_from_packages).parameters) == ["self", "packages"]
    assert issubclass(PyLockSourceError, Exception)
    assert ResolvedDependency("X", Version("1")).version == Version("1")
    assert SkippedDependency("X", "why").skip_reason == "why"


def test_translation() -> None:
    from pip_audit._service.interface import ResolvedDependency, SkippedDependency

    assert to_dependency(ResolvedDependency("Py_YAML", Version("5.3.1")), "here") == Dependency(
        "py-yaml", "5.3.1", "here"
    )
    assert to_dependency(SkippedDependency("Foo.Bar", "no version specified"), "here") == Dependency(
        "foo-bar", None, "here", "no version specified"
    )
    with pytest.raises(TypeError):
        to_dependency(object(), "here")


PYLOCK = """lock-version = "1.0"
created-by = "test"

[[packages]]
name = "requests"
version = "2.28.1"

[[packages]]
name = "local-src"
directory = {path = "./src"}

[[packages]]
name = "Jinja2"
version = "2.11.2"
"""


def test_pylock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(PYLOCK)
    assert collect_pylock(path) == [
        Dependency("requests", "2.28.1", str(path)),
        Dependency("local-src", None, str(path), "no version specified"),
        Dependency("jinja2", "2.11.2", str(path)),
    ]


def test_pylock_bad_version_only_loses_that_package(tmp_path: Path) -> None:
    """pip-audit aborts the whole file on one bad version; the adapter keeps the others."""
    path = tmp_path / "pylock.toml"
    path.write_text(PYLOCK.replace('version = "2.28.1"', 'version = "two point eight"'))
    deps = collect_pylock(path)
    assert [(d.name, d.version) for d in deps] == [("requests", None), ("local-src", None), ("jinja2", "2.11.2")]
    assert deps[0].reason is not None and deps[0].reason.startswith("unparseable version:")
    assert deps[0].source == f"{path}:packages[0]"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lock-version = [\n", "invalid TOML in lockfile"),
        ('lock-version = "2.0"\n[[packages]]\nname = "x"\n', "lockfile version 2.0 is not supported"),
        ('created-by = "x"\n', "missing lock-version"),
    ],
)
def test_pylock_errors_are_scan_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    with pytest.raises(ScanError, match=message):
        collect_pylock(path)
