"""The one place scanner uses pip-audit's (private, ``_``-prefixed) API; pinned ``~=2.10.1``
and covered by contract tests in ``tests/vulns/test_pip_audit_adapter.py``.

What is used, and why only that: pip-audit's ``PyLockSource`` reads PEP 751 ``pylock.toml``
files (lock-version checks, optional versions as skipped dependencies). Its other sources do
not fit an offline, fail-closed audit: ``RequirementSource`` stops at the first unpinned line
(dropping the rest) and costs ~0.5 s to import, ``PyProjectSource`` installs into a fresh
virtualenv from the network, ``PipSource`` runs ``pip list`` in a subprocess. Those inputs are read
by ``scanner.vulns.dependency`` instead. pip-audit's vulnerability services are never used: no network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.errors import ScanError
from scanner.vulns.dependency import Dependency
from scanner.vulns.osv import normalize_name

SUPPORTED = "2.10"


def pip_audit_version() -> str:
    from importlib.metadata import version

    return version("pip-audit")


def to_dependency(dep: Any, where: str) -> Dependency:
    """Translate a pip-audit ``ResolvedDependency`` / ``SkippedDependency``."""
    from pip_audit._service.interface import ResolvedDependency, SkippedDependency

    if isinstance(dep, ResolvedDependency):
        return Dependency(normalize_name(dep.name), str(dep.version), where)
    if isinstance(dep, SkippedDependency):
        return Dependency(normalize_name(dep.name), None, where, dep.skip_reason)
    raise TypeError(f"unexpected pip-audit dependency type {type(dep).__name__}")


def collect_pylock(path: Path) -> list[Dependency]:
    """Packages of a ``pylock.toml``. pip-audit aborts the whole file on one version PEP 440
    cannot parse; then each package is collected on its own, so only that one is unaudited."""
    from packaging.version import InvalidVersion
    from pip_audit._dependency_source.pylock import PyLockSource, PyLockSourceError

    source = PyLockSource([path])
    try:
        return [to_dependency(d, str(path)) for d in source.collect()]
    except PyLockSourceError as exc:
        raise ScanError(str(exc).removeprefix(f"{path}: "), path) from None
    except OSError as exc:
        raise ScanError(f"cannot read: {exc.strerror or exc}", path) from None
    except InvalidVersion:
        pass
    return _per_package(source, path)


def _per_package(source: Any, path: Path) -> list[Dependency]:
    import tomllib
    from packaging.version import InvalidVersion
    from pip_audit._dependency_source.pylock import PyLockSourceError

    packages = tomllib.loads(path.read_text(encoding="utf-8")).get("packages") or []
    deps: list[Dependency] = []
    for i, package in enumerate(packages):
        where = f"{path}:packages[{i}]"
        try:
            deps.extend(to_dependency(d, where) for d in source._collect_from_packages([package]))
        except (InvalidVersion, PyLockSourceError) as exc:
            name = package.get("name") if isinstance(package, dict) else None
            deps.append(Dependency(normalize_name(str(name or "?")), None, where, f"unparseable version: {exc}"))
    return deps
