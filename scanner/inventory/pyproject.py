"""pyproject.toml (PEP 621 ``[project]``, PEP 735 ``[dependency-groups]``): the project is the root
component and points at exactly its direct dependencies. Optional dependencies (extras) and
dependency groups are components with ``scope: optional`` and the extra/group as a property."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from scanner.core import Finding, ScanError, Severity
from scanner.inventory import licenses
from scanner.inventory.components import Component, Inventory
from scanner.inventory.markers import TargetEnv
from scanner.inventory.metadata import URL_TYPES, is_url

TOML_LIMIT = 16 << 20


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; unreadable or malformed → ScanError naming the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        if path.stat().st_size > TOML_LIMIT:
            raise ScanError("TOML file larger than 16 MiB", path)
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScanError(f"malformed TOML: {exc}", path) from None
    except UnicodeDecodeError:
        raise ScanError("not UTF-8 TOML", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read: {exc.strerror or exc}", path) from None


def project_root(
    path: Path, doc: dict[str, Any], *, read_beside: bool = True, show: Callable[[Path], str] = str
) -> Component | None:
    """The project itself as a component, from ``[project]`` (or ``[tool.poetry]``).
    ``read_beside`` false (a lone ``pyproject.toml`` is the artifact): a ``license = {file = ...}``
    is not read, since that file is not part of the artifact's digest; the root says which file
    declares the licence instead. ``show`` names the file in outputs (``Artifact.show``)."""
    project = doc.get("project")
    if not isinstance(project, dict):
        poetry = (doc.get("tool") or {}).get("poetry")
        if isinstance(poetry, dict) and poetry.get("name"):
            project = {
                "name": poetry.get("name"),
                "version": poetry.get("version"),
                "description": poetry.get("description"),
                "license": poetry.get("license"),
            }
        else:
            return None
    name = project.get("name")
    if not isinstance(name, str) or not name:
        return None
    cname = canonicalize_name(name)
    version = project.get("version") if isinstance(project.get("version"), str) else None
    purl = f"pkg:pypi/{cname}@{version}" if version else f"pkg:pypi/{cname}"
    root = Component(bom_ref=purl, name=cname, version=version, type="application", purl=purl, source=show(path))
    if isinstance(project.get("description"), str):
        root.description = project["description"][:500]
    lic = project.get("license")
    if isinstance(lic, str):
        norm = licenses.normalize_spdx(lic) or licenses.from_field(lic)
        root.licenses = [norm or licenses.short_name(lic)]
    elif isinstance(lic, dict):
        text = lic.get("text")
        if isinstance(text, str):
            spdx = licenses.from_field(text)
            found = licenses.from_files([("license", text)]) if spdx is None else None
            root.licenses = [spdx or (found.value if found else licenses.short_name(text))]
        elif isinstance(lic.get("file"), str):
            if read_beside:
                _license_file(path, lic["file"], root)
            else:
                root.properties["scanner:license-file"] = (
                    f"{lic['file'][:200]} (not read: outside the artifact, a single pyproject.toml; "
                    "judge the project directory to read it)"
                )
    people = []
    for key in ("authors", "maintainers"):
        for person in project.get(key) or []:
            if isinstance(person, dict) and (person.get("name") or person.get("email")):
                people.append({k: str(v) for k, v in person.items() if k in ("name", "email")})
    root.contacts = people
    if people:
        root.author = ", ".join(p.get("name") or p.get("email", "") for p in people)
        root.supplier = people[0].get("name") or people[0].get("email")
    for label, url in (project.get("urls") or {}).items():
        kind = URL_TYPES.get(re.sub(r"[^a-z]", "", str(label).lower()))
        if kind and isinstance(url, str) and is_url(url):
            root.external_references.setdefault(kind, url)
    return root


LICENSE_FILE_LIMIT = 1 << 20


def _license_file(path: Path, name: str, root: Component) -> None:
    """The licence from ``license = {file = name}``: a regular file inside the project folder,
    read bounded (a link leaving the folder, a FIFO or a huge file is not read)."""
    from scanner.safeio import read_bounded

    folder = path.parent.resolve()
    try:
        lic_path = (path.parent / name).resolve(strict=True)
        if not lic_path.is_relative_to(folder):
            raise ScanError("it lies outside the project folder", lic_path)
        text = read_bounded(lic_path, LICENSE_FILE_LIMIT, what="licence file").decode("utf-8", errors="replace")
    except ScanError as exc:
        reason = exc.message.removesuffix(": not read")
        root.properties["scanner:license-file"] = f"{name[:200]} (not read: {reason})"
        return
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "cannot be resolved"
        root.properties["scanner:license-file"] = f"{name[:200]} (not read: {reason})"
        return
    root.properties["scanner:license-file"] = name[:200]
    result = licenses.from_files([(name, text)])
    if result:
        root.licenses = [result.value]


def declared_requirements(doc: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(requirement string, extra, group) for every declared dependency."""
    out: list[tuple[str, str | None, str | None]] = []
    project: dict[str, Any] = doc["project"] if isinstance(doc.get("project"), dict) else {}
    for line in project.get("dependencies") or []:
        out.append((str(line), None, None))
    for extra, lines in (project.get("optional-dependencies") or {}).items():
        for line in lines or []:
            out.append((str(line), str(extra), None))
    groups = doc.get("dependency-groups") or {}
    if isinstance(groups, dict):
        for group in groups:
            for line in _group_lines(groups, group, set()):
                out.append((line, None, str(group)))
    return out


def _group_lines(groups: dict[str, Any], group: str, seen: set[str]) -> list[str]:
    if group in seen or len(seen) > 100:
        return []
    seen.add(group)
    out: list[str] = []
    for item in groups.get(group) or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            out.extend(_group_lines(groups, item["include-group"], seen))
    return out


def unnamed_root(path: Path, show: Callable[[Path], str], folder: str) -> str:
    """What the project of ``path`` is called when nothing in it names it: ``folder`` (the name of
    the folder holding it), or — for a file shown under another name (piped content, read from a
    private folder that must not be named) — that name."""
    shown = show(path)
    return shown if shown != str(path) else folder


def inventory_pyproject(
    path: Path, env: TargetEnv | None = None, *, read_beside: bool = True, show: Callable[[Path], str] = str
) -> Inventory:
    """``read_beside`` false: the file alone is the artifact (see ``project_root``). ``show``
    names the file in outputs (``Artifact.show``: piped content is ``stdin``)."""
    env = env or TargetEnv.host()
    doc = load_toml(path)
    root = project_root(path, doc, read_beside=read_beside, show=show)
    if root is None:
        folder = unnamed_root(path, show, path.parent.name)
        root = Component(bom_ref=f"pyproject:{folder}", name=folder or "project", type="application")
    inv = Inventory(root=root)
    by_name: dict[str, Component] = {}
    for line, extra, group in declared_requirements(doc):
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            inv.findings.append(
                Finding(
                    id="SBOM-UNPARSEABLE-REQUIREMENT",
                    check="sbom",
                    severity=Severity.MEDIUM,
                    subject=show(path),
                    message=f"cannot parse {line!r}: {exc}",
                    evidence={"file": show(path), "requirement": line[:200]},
                    fix="fix the dependency declaration",
                )
            )
            continue
        if not env.evaluate(req.marker, extra or "", [group] if group else ()):
            continue
        name = canonicalize_name(req.name)
        pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        version = pins[0] if len(pins) == 1 else None
        purl = f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"
        c = by_name.get(name)
        if c is None:
            c = Component(bom_ref=purl, name=name, version=version, purl=purl, scope="optional", source=show(path))
            if version is None:
                c.properties["scanner:specifier"] = str(req.specifier) or "any"
            by_name[name] = c
        if extra is None and group is None:
            c.scope = "required"
        elif extra is not None:
            _add_prop(c, "scanner:extra", extra)
        else:
            _add_prop(c, "scanner:dependency-group", str(group))
    inv.components = sorted(by_name.values(), key=lambda c: c.bom_ref)
    inv.dependencies = {c.bom_ref: [] for c in inv.components}
    inv.dependencies[root.bom_ref] = [c.bom_ref for c in inv.components]
    return inv


def _add_prop(c: Component, key: str, value: str) -> None:
    values = set(filter(None, c.properties.get(key, "").split(",")))
    values.add(value)
    c.properties[key] = ",".join(sorted(values))
