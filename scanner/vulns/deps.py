"""What to audit: dependencies collected from an installed environment, pinned requirements,
``pyproject.toml``, ``pylock.toml``, a CycloneDX SBOM, or the gate's inventory.

Nothing is resolved, installed or executed, and nothing touches the network: requirements are
read as pinned (``--no-deps`` style), environments through their ``*.dist-info`` metadata. A
dependency that cannot be audited (not pinned, no version, a URL, an unparseable line) is kept with
a ``reason``; the audit turns it into a ``VULN-UNAUDITED`` finding instead of dropping it.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.core import ArtifactKind
from scanner.errors import ScanError
from scanner.vulns.osv import normalize_name

if TYPE_CHECKING:
    from scanner.inventory.model import Inventory

MAX_MANIFEST_BYTES = 64 << 20
MAX_SBOM_BYTES = 512 << 20
MAX_INCLUDE_DEPTH = 10
MAX_NESTING = 64  # nested CycloneDX components
# The common case, `name==version` and nothing else, read without the full PEP 508 parser
# (which costs ~0.3 ms a line); anything else goes through packaging.
_SIMPLE_PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*([A-Za-z0-9.!+_-]+)")
_HASH_OPT = re.compile(r"\s--hash[= ]\S+")


@dataclass(frozen=True)
class Dependency:
    """``name`` is PEP 503-normalised; ``version`` is the text as pinned or installed;
    ``reason`` says why it cannot be audited (then ``version`` may be None)."""

    name: str
    version: str | None
    source: str
    reason: str | None = None

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{self.version}" if self.version else f"pkg:pypi/{self.name}"


def collect(path: Path | None, kind: ArtifactKind | None = None) -> list[Dependency]:
    """Dependencies of ``path`` (the running interpreter's environment when ``None``)."""
    if path is None:
        return from_environment(None)
    if kind is None:
        from scanner.artifact import detect

        kind = detect_kind(path) if path.is_dir() else detect(path).kind
    if kind == ArtifactKind.REQUIREMENTS:
        return from_requirements(path)
    if kind == ArtifactKind.PYPROJECT:
        return from_pyproject(path)
    if kind == ArtifactKind.LOCKFILE:
        if not (path.name.startswith("pylock.") and path.name.endswith(".toml")):
            raise ScanError("only pylock.toml lockfiles (PEP 751) are supported for audit", path)
        from scanner.vulns.pip_audit_adapter import collect_pylock

        return collect_pylock(path)
    if kind == ArtifactKind.SBOM:
        return from_sbom(path)
    if kind == ArtifactKind.ENVIRONMENT:
        return from_environment(path)
    if kind == ArtifactKind.APP_DIR:
        return from_app_dir(path)
    raise ScanError(f"cannot audit a {kind.value}: give an environment, requirements, pyproject, pylock or SBOM", path)


def detect_kind(path: Path) -> ArtifactKind:
    """Kind of a directory, without hashing it (``scanner.artifact.detect`` digests everything)."""
    names = {p.name for p in path.iterdir()}
    if "pyvenv.cfg" in names or any(n.endswith(".dist-info") for n in names):
        return ArtifactKind.ENVIRONMENT
    if any(_is_manifest(n) for n in names):
        return ArtifactKind.APP_DIR
    raise ScanError("no environment, requirements, pyproject.toml or pylock.toml here to audit", path)


def _is_manifest(name: str) -> bool:
    return (
        name == "pyproject.toml"
        or (name.startswith("pylock.") and name.endswith(".toml"))
        or (name.startswith("requirements") and name.endswith(".txt"))
    )


def from_app_dir(path: Path) -> list[Dependency]:
    """A project directory: its lockfile if it has one, else its requirements files, else
    ``pyproject.toml`` (the most exact description first)."""
    locks = sorted(p for p in path.glob("pylock*.toml") if p.is_file())
    if locks:
        from scanner.vulns.pip_audit_adapter import collect_pylock

        return [d for lock in locks for d in collect_pylock(lock)]
    reqs = sorted(p for p in path.glob("requirements*.txt") if p.is_file())
    if reqs:
        return [d for req in reqs for d in from_requirements(req)]
    if (path / "pyproject.toml").is_file():
        return from_pyproject(path / "pyproject.toml")
    raise ScanError("no pylock.toml, requirements*.txt or pyproject.toml here to audit", path)


# ---------------------------------------------------------------- requirements


def from_requirements(path: Path, _depth: int = 0, _seen: set[Path] | None = None) -> list[Dependency]:
    """Pinned requirements, ``-r`` includes followed (bounded, no cycles); options that change
    where packages come from are ignored, ``-e`` and URL requirements cannot be audited."""
    seen = _seen if _seen is not None else set()
    real = path.resolve()
    if real in seen:
        return []
    seen.add(real)
    text = _read_text(path, MAX_MANIFEST_BYTES)
    deps: list[Dependency] = []
    for lineno, line in _logical_lines(text):
        where = f"{path}:{lineno}"
        if line.startswith("-"):
            opt, arg = re.split(r"[\s=]", line, maxsplit=1)[0], _option_arg(line)
            if opt in ("-r", "--requirement") and arg:
                if _depth >= MAX_INCLUDE_DEPTH:
                    raise ScanError(f"requirements includes nested deeper than {MAX_INCLUDE_DEPTH}", where)
                deps.extend(from_requirements(path.parent / arg, _depth + 1, seen))
            elif opt in ("-e", "--editable"):
                deps.append(Dependency(arg or line, None, where, "editable requirement: no pinned version"))
            continue
        deps.extend(requirement(line, where))
    return deps


def _option_arg(line: str) -> str:
    parts = re.split(r"[\s=]+", line, maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def requirement(spec: str, where: str) -> list[Dependency]:
    """One PEP 508 requirement: pinned with ``==``/``===`` to one version → auditable."""
    spec = _HASH_OPT.sub("", spec).strip()
    simple = _SIMPLE_PIN.fullmatch(spec)
    if simple:
        return [Dependency(normalize_name(simple[1]), simple[2], where)]
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        return [Dependency(spec, None, where, f"unparseable requirement: {exc}")]
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return []
    name = normalize_name(req.name)
    if req.url:
        return [Dependency(name, None, where, f"URL requirement ({req.url}): no pinned version")]
    pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if len(pins) != 1:
        shown = str(req.specifier) or "no version"
        return [Dependency(name, None, where, f"not pinned to one version ({shown})")]
    return [Dependency(name, pins[0], where)]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = "" if raw.lstrip().startswith("#") else re.split(r"\s#", raw, maxsplit=1)[0]
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            yield start, buf.strip()
        buf = ""
    if buf.strip():
        yield start, buf.strip()


# ---------------------------------------------------------------- pyproject


def from_pyproject(path: Path) -> list[Dependency]:
    """``[project] dependencies``, every optional-dependencies extra and PEP 735 dependency
    groups. Not resolved: only ``==``-pinned entries can be audited."""
    import tomllib

    try:
        doc = tomllib.loads(_read_text(path, MAX_MANIFEST_BYTES))
    except tomllib.TOMLDecodeError as exc:
        raise ScanError(f"invalid TOML: {exc}", path) from None
    project: dict[str, Any] = doc["project"] if isinstance(doc.get("project"), dict) else {}
    lists: list[tuple[str, Any]] = [("project.dependencies", project.get("dependencies"))]
    for extra, items in (project.get("optional-dependencies") or {}).items():
        lists.append((f"project.optional-dependencies.{extra}", items))
    for group, items in (doc.get("dependency-groups") or {}).items():
        lists.append((f"dependency-groups.{group}", items))
    deps: list[Dependency] = []
    for where, items in lists:
        if items is None:
            continue
        if not isinstance(items, list):
            raise ScanError(f"{where} must be a list", path)
        for i, item in enumerate(items):
            if isinstance(item, str):
                deps.extend(requirement(item, f"{path}:{where}[{i}]"))
    return deps


# ---------------------------------------------------------------- environments


def site_dirs(path: Path) -> list[Path]:
    """The site-packages of a virtual environment root, or ``path`` itself."""
    if (path / "pyvenv.cfg").is_file():
        found = sorted(path.glob("lib/python3*/site-packages")) + sorted(path.glob("Lib/site-packages"))
        if not found:
            raise ScanError("virtual environment without a site-packages directory", path)
        return found
    return [path]


def from_environment(path: Path | None) -> list[Dependency]:
    """Installed distributions, read from their metadata (nothing is imported or run)."""
    import importlib.metadata as md

    dirs = [str(p) for p in site_dirs(path)] if path is not None else [p for p in sys.path if p]
    deps: dict[str, Dependency] = {}
    for dist in md.distributions(path=dirs):
        try:
            raw_name = dist.metadata["Name"]
            version = dist.metadata["Version"]
        except (OSError, UnicodeDecodeError, ValueError):
            raw_name, version = None, None
        where = str(getattr(dist, "_path", "") or "")
        if not raw_name:
            deps.setdefault(where, Dependency(Path(where).name or "?", None, where, "unreadable metadata (no Name)"))
            continue
        name = normalize_name(raw_name)
        if name in deps:
            continue  # shadowed by an earlier entry on the path, as at import time
        deps[name] = Dependency(name, version or None, where, None if version else "installed without a version")
    return sorted(deps.values(), key=lambda d: d.name)


# ---------------------------------------------------------------- SBOMs and inventories


def parse_purl(purl: str) -> tuple[str, str, str | None] | None:
    """``(type, name, version)`` of a package URL; names keep their namespace for non-PyPI types."""
    if not purl.startswith("pkg:"):
        return None
    body = purl[4:].split("#", 1)[0].split("?", 1)[0].lstrip("/")
    ptype, _, rest = body.partition("/")
    if not rest:
        return None
    name_part, at, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
    name = urllib.parse.unquote(name_part)
    return ptype.lower(), name, urllib.parse.unquote(version) if at and version else None


def from_sbom(path: Path) -> list[Dependency]:
    """PyPI components of a CycloneDX JSON SBOM (ours or another tool's), nested ones too."""
    text = _read_text(path, MAX_SBOM_BYTES)
    if text.lstrip().startswith("<"):
        raise ScanError("CycloneDX XML is not supported for audit; give the JSON form", path)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ScanError(f"invalid JSON: {exc}", path) from None
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise ScanError("not a CycloneDX SBOM (no bomFormat: CycloneDX)", path)
    return list(_components(doc.get("components"), str(path), 0))


def _components(items: Any, label: str, depth: int) -> Iterator[Dependency]:
    if depth > MAX_NESTING:
        raise ScanError(f"components nested deeper than {MAX_NESTING}", label)
    for comp in items if isinstance(items, list) else []:
        if not isinstance(comp, dict):
            continue
        dep = component_dependency(comp.get("purl"), comp.get("name"), comp.get("type"), comp.get("bom-ref"), label)
        if dep is not None:
            yield dep
        yield from _components(comp.get("components"), label, depth + 1)


def component_dependency(purl: Any, name: Any, ctype: Any, ref: Any, label: str) -> Dependency | None:
    """A component as a dependency: PyPI purls are audited (or unaudited without a version);
    other ecosystems are not ours (``None``); a library without any purl cannot be placed."""
    where = f"{label}#{ref}" if ref else label
    if isinstance(purl, str) and purl:
        parsed = parse_purl(purl)
        if parsed is None:
            return Dependency(str(name or purl), None, where, f"unparseable package URL {purl!r}")
        ptype, pname, version = parsed
        if ptype != "pypi":
            return None
        if not version:
            return Dependency(normalize_name(pname), None, where, "no version in the package URL")
        return Dependency(normalize_name(pname), version, where)
    if ctype in ("library", "framework") and isinstance(name, str):
        return Dependency(name, None, where, "no package URL: ecosystem and version unknown")
    return None


def from_inventory(inventory: Inventory) -> list[Dependency]:
    """The gate's inventory is the source of truth there: its PyPI components."""
    deps: list[Dependency] = []
    for comp in inventory.components:
        if comp.scope == "excluded":  # not part of what runs (e.g. the library that wrote a model config)
            continue
        purl = comp.purl or (comp.bom_ref if comp.bom_ref.startswith("pkg:") else None)
        dep = component_dependency(purl, comp.name, comp.type, comp.bom_ref, comp.source or "inventory")
        if dep is not None and dep.version is None and dep.reason == "no version in the package URL":
            dep = Dependency(dep.name, None, dep.source, "no pinned version in the inventory")
        if dep is not None:
            deps.append(dep)
    return deps


def unique(deps: Iterable[Dependency]) -> list[Dependency]:
    """One entry per (name, version, reason); the first source is kept."""
    seen: dict[tuple[str, str | None, str | None], Dependency] = {}
    for d in deps:
        seen.setdefault((d.name, d.version, d.reason), d)
    return list(seen.values())


def _read_text(path: Path, limit: int) -> str:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ScanError(f"file larger than {limit} bytes ({size})", path)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScanError("no such file", path) from None
    except UnicodeDecodeError:
        raise ScanError("not UTF-8 text", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read: {exc.strerror or exc}", path) from None
