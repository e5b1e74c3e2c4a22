"""The target environment that environment markers are evaluated against, and the dependency
graph of installed distributions (Requires-Dist with markers and only the requested extras)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.markers import default_environment as _host_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class TargetEnv:
    """Marker variables of the environment being inventoried. Defaults to the host; a venv or
    site-packages of another Python version overrides ``python_version``/``python_full_version``."""

    values: Mapping[str, str]

    @classmethod
    def host(cls, python_version: str | None = None, python_full_version: str | None = None) -> TargetEnv:
        env: dict[str, str] = {k: str(v) for k, v in _host_environment().items()}
        if python_full_version:
            env["python_full_version"] = python_full_version
            env["python_version"] = ".".join(python_full_version.split(".")[:2])
        elif python_version and python_version != env["python_version"]:
            env["python_version"] = python_version
            env["python_full_version"] = python_version + ".0"
        return cls(env)

    @classmethod
    def for_site_packages(cls, site: Path) -> TargetEnv:
        """From ``pyvenv.cfg`` (``version_info``/``version``) above the directory, else from the
        ``lib/pythonX.Y`` path, else the host."""
        for parent in list(site.resolve().parents)[:4]:
            cfg = parent / "pyvenv.cfg"
            if cfg.is_file():
                full = _cfg_version(cfg)
                if full:
                    return cls.host(python_full_version=full)
        m = re.search(r"python(\d+\.\d+)", site.as_posix())
        return cls.host(python_version=m.group(1) if m else None)

    def evaluate(self, marker: Marker | None, extra: str = "", groups: Iterable[str] = ()) -> bool:
        """Whether ``marker`` holds here; an unknown variable or bad comparison counts as false."""
        if marker is None:
            return True
        env: dict[str, Any] = dict(self.values)
        env["extra"] = extra
        env["extras"] = frozenset([extra] if extra else [])
        env["dependency_groups"] = frozenset(groups)
        try:
            return bool(marker.evaluate(env))
        except (UndefinedEnvironmentName, UndefinedComparison, InvalidMarker, TypeError, ValueError):
            return False


def _cfg_version(cfg: Path) -> str | None:
    try:
        text = cfg.read_text(encoding="utf-8", errors="replace")[:10_000]
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version") and re.fullmatch(r"\d+\.\d+(\.\d+)?", value.strip()):
            return value.strip()
    return None


def parse_marker(text: str | None) -> Marker | None:
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker:
        return None


@dataclass
class Node:
    """One installed distribution for graph resolution: its canonical name and requirements."""

    name: str
    requires: list[Requirement] = field(default_factory=list)


def parse_requirements(lines: Iterable[str]) -> tuple[list[Requirement], list[str]]:
    """Parsed requirements and the lines that did not parse."""
    good: list[Requirement] = []
    bad: list[str] = []
    for line in lines:
        try:
            good.append(Requirement(line))
        except InvalidRequirement:
            bad.append(line)
    return good, bad


def resolve_edges(
    nodes: Mapping[str, Node], env: TargetEnv, requested: Mapping[str, Iterable[str]] | None = None
) -> tuple[dict[str, list[str]], dict[str, set[str]], dict[str, list[str]]]:
    """Edges between installed distributions.

    A requirement is an edge when its marker holds for the target environment with no extra,
    or with an extra that something installed actually asked for (``pkg[extra]``), propagated to
    a fixed point. Returns (edges name → sorted names, active extras per name, missing
    requirements per name: required but not installed)."""
    active: dict[str, set[str]] = {name: set() for name in nodes}
    for name, extras in (requested or {}).items():
        if name in active:
            active[name].update(canonicalize_name(e) for e in extras)
    edges: dict[str, set[str]] = {name: set() for name in nodes}
    missing: dict[str, set[str]] = {}
    pending = list(nodes)
    done_with: dict[str, frozenset[str]] = {}
    while pending:
        name = pending.pop()
        extras = frozenset(active[name])
        if done_with.get(name) == extras:
            continue
        done_with[name] = extras
        for req in nodes[name].requires:
            if not any(env.evaluate(req.marker, e) for e in ("", *sorted(extras))):
                continue
            target = canonicalize_name(req.name)
            if target == name:
                # ``pkg[extra]`` requiring ``pkg[other]``: the extra of itself becomes active.
                new = {canonicalize_name(e) for e in req.extras} - active[name]
                if new:
                    active[name].update(new)
                    pending.append(name)
                continue
            if target not in nodes:
                missing.setdefault(name, set()).add(str(req))
                continue
            edges[name].add(target)
            new = {canonicalize_name(e) for e in req.extras} - active[target]
            if new:
                active[target].update(new)
                pending.append(target)
    return (
        {n: sorted(t) for n, t in edges.items()},
        active,
        {n: sorted(m) for n, m in missing.items()},
    )
