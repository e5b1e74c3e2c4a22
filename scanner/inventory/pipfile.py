"""Pipfile.lock (pipenv): JSON with a ``default`` and a ``develop`` section, each mapping a package
name to ``{"version": "==X", "hashes": [...], "markers": ...}``. Packages of ``default`` are
required, those of ``develop`` optional (``scanner:dependency-group=develop``); a marker false for
the target environment drops the package; a package without a ``==`` version (a VCS or path
dependency) is still a component, without a version (the vulnerability check reports it
unaudited). Pipfile.lock records no dependency graph: every package hangs from the root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from scanner.core import ScanError
from scanner.inventory.components import Component, Inventory
from scanner.inventory.markers import TargetEnv, parse_marker

FILE_LIMIT = 16 << 20
SECTIONS = (("default", "required"), ("develop", "optional"))


def inventory_pipfile_lock(path: Path, env: TargetEnv | None = None, *, show: Callable[[Path], str] = str) -> Inventory:
    """``show`` names the file in outputs (``Artifact.show``)."""
    from scanner import jsonfile
    from scanner.safeio import read_bounded

    env = env or TargetEnv.host()
    doc = jsonfile.parse(read_bounded(path, FILE_LIMIT, what="Pipfile.lock"), path, "Pipfile.lock")
    if not isinstance(doc, dict) or not any(isinstance(doc.get(s), dict) for s, _ in SECTIONS):
        raise ScanError("not a Pipfile.lock (no default or develop section)", path)
    from scanner.inventory.lockfiles import root_name

    root = Component(bom_ref=f"lockfile:{path.name}", name=root_name(path, show), type="application")
    root.properties["scanner:lockfile"] = path.name
    inv = Inventory(root=root)
    by_ref: dict[str, Component] = {}
    for section, scope in SECTIONS:
        packages = doc.get(section)
        for name, spec in (packages if isinstance(packages, dict) else {}).items():
            c = _component(str(name), spec, scope, section, show(path), env)
            if c is None:
                continue
            existing = by_ref.get(c.bom_ref)
            if existing is None:
                by_ref[c.bom_ref] = c
            elif scope == "required":
                existing.scope = "required"
    inv.components = sorted(by_ref.values(), key=lambda c: c.bom_ref)
    inv.dependencies = {c.bom_ref: [] for c in inv.components}
    inv.dependencies[root.bom_ref] = [c.bom_ref for c in inv.components if c.scope == "required"]
    return inv


def _component(name: str, spec: Any, scope: str, section: str, shown: str, env: TargetEnv) -> Component | None:
    if not isinstance(spec, dict):
        return None
    markers = spec.get("markers")
    if isinstance(markers, str) and not env.evaluate(parse_marker(markers)):
        return None
    key = canonicalize_name(name)
    version_text = spec.get("version")
    version = version_text[2:].strip() if isinstance(version_text, str) and version_text.startswith("==") else None
    purl = f"pkg:pypi/{key}@{version}" if version else f"pkg:pypi/{key}"
    c = Component(bom_ref=purl, name=key, version=version, purl=purl, scope=scope, source=shown)
    if section == "develop":
        c.properties["scanner:dependency-group"] = "develop"
    hashes = [h[7:].lower() for h in spec.get("hashes") or [] if isinstance(h, str) and h.startswith("sha256:")]
    if hashes:
        c.properties["scanner:artifact-sha256"] = ",".join(sorted(hashes))[:2000]
    if version is None:
        where = next((k for k in ("git", "path", "file", "editable") if k in spec), None)
        c.properties["scanner:specifier"] = f"{where}: {str(spec[where])[:200]}" if where else "any"
    return c
