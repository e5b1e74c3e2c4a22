"""Lock files: pylock.toml (PEP 751), uv.lock and poetry.lock (and Pipfile.lock, read by ``pipfile``).

A lock file holds every platform's resolution; the components are the packages that would be
installed for the target environment: markers evaluated, extras only where requested, reached
from the project (or, without one, from every package nothing else depends on). Dev groups and
extras of the project are kept with ``scope: optional``. Hashes are the SHA-256 of the artifact
that environment would install (a compatible wheel, else the sdist)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from scanner.artifact import LOCKFILES, lock_format
from scanner.core import ScanError
from scanner.inventory.components import Component, Inventory
from scanner.inventory.markers import TargetEnv, parse_marker
from scanner.inventory.pyproject import load_toml, project_root, unnamed_root


@dataclass
class Dep:
    name: str
    marker: Marker | None = None
    extras: tuple[str, ...] = ()
    version: str | None = None
    optional: bool = False  # poetry: only through an extra


@dataclass
class LockPackage:
    name: str
    version: str | None
    deps: list[Dep] = field(default_factory=list)
    extras: dict[str, list[Dep]] = field(default_factory=dict)
    groups: dict[str, list[Dep]] = field(default_factory=dict)
    marker: Marker | None = None
    artifacts: list[tuple[str, str]] = field(default_factory=list)  # (file name, sha256)
    is_root: bool = False
    description: str | None = None
    source: str | None = None
    in_groups: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


def inventory_lockfile(
    path: Path, env: TargetEnv | None = None, pyproject: Path | None = None, *, show: Callable[[Path], str] = str
) -> Inventory:
    """The packages a lock file installs for ``env``. Its format is told by its name, or — when
    its name says none: content piped on standard input is named ``stdin`` — by what each format
    requires of its content (``_format_of``). ``show`` names the file in outputs
    (``Artifact.show``)."""
    env = env or TargetEnv.host()
    named = lock_format(path.name)
    if named == "Pipfile.lock" or (named is None and _json_object(path)):
        from scanner.inventory.pipfile import inventory_pipfile_lock

        return inventory_pipfile_lock(path, env, show=show)
    doc = load_toml(path)
    fmt = named or _format_of(doc, path)
    if fmt == "uv.lock":
        packages = _uv(doc)
    elif fmt == "poetry.lock":
        packages = _poetry(doc)
    else:
        packages = _pylock(doc, env)
    if not packages and not isinstance(doc.get("package") or doc.get("packages"), list):
        raise ScanError("lock file has no package list", path)
    project_doc = load_toml(pyproject) if pyproject and pyproject.is_file() else None
    # A pylock.toml lists exactly what to install (markers already applied while reading);
    # its packages need not carry dependency lists, so nothing may depend on reachability.
    return _resolve(path, packages, env, project_doc, pyproject, install_all=fmt == "pylock.toml", show=show)


KNOWN = ", ".join(sorted(LOCKFILES))


def _format_of(doc: dict[str, Any], path: Path) -> str:
    """The format of a TOML lock file whose name says none, from what each format requires: a
    pylock.toml its ``lock-version`` and ``packages``, a uv.lock its integer ``version`` and
    ``package`` list, a poetry.lock its ``metadata`` table and ``package`` list. Exactly one must
    match: content that fits two would choose which of its packages count."""
    version = doc.get("version")
    metadata = doc.get("metadata")
    matches = [
        fmt
        for fmt, fits in (
            ("pylock.toml", "lock-version" in doc and "packages" in doc),
            ("uv.lock", isinstance(version, int) and not isinstance(version, bool) and "package" in doc),
            ("poetry.lock", isinstance(metadata, dict) and "package" in doc),
        )
        if fits
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ScanError(f"not a known lock file ({KNOWN}): its name does not say which, nor does its content", path)
    raise ScanError(f"its content fits {' and '.join(matches)} at once: not judged as either lock file", path)


def _json_object(path: Path) -> bool:
    """Whether the file starts (after white space) with ``{`` in an encoding JSON is read in (UTF-8
    with or without a byte order mark, UTF-16, UTF-32: as a Pipfile.lock named so is read): JSON
    (a Pipfile.lock), never TOML."""
    import json

    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.decode(json.detect_encoding(head), errors="ignore").lstrip()[:1] == "{"


def root_name(path: Path, show: Callable[[Path], str]) -> str:
    """What a lock file's project is called without a project to name it: the folder holding the
    file, or — for a file shown under another name (piped content, read from a private folder
    that must not be named) — that name."""
    return unnamed_root(path, show, path.parent.resolve().name or path.name)


# --- readers ----------------------------------------------------------------------------------


def _sha(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[7:].lower()
    return None


def _uv_deps(items: Any) -> list[Dep]:
    out = []
    for d in items or []:
        if isinstance(d, dict) and isinstance(d.get("name"), str):
            out.append(
                Dep(
                    name=canonicalize_name(d["name"]),
                    marker=parse_marker(d.get("marker")),
                    extras=tuple(canonicalize_name(e) for e in d.get("extra") or []),
                    version=d.get("version"),
                )
            )
    return out


def _uv(doc: dict[str, Any]) -> list[LockPackage]:
    out = []
    for p in doc.get("package") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        source = p.get("source") or {}
        pkg = LockPackage(name=canonicalize_name(p["name"]), version=p.get("version"))
        pkg.deps = _uv_deps(p.get("dependencies"))
        pkg.extras = {canonicalize_name(k): _uv_deps(v) for k, v in (p.get("optional-dependencies") or {}).items()}
        pkg.groups = {str(k): _uv_deps(v) for k, v in (p.get("dev-dependencies") or {}).items()}
        pkg.is_root = isinstance(source, dict) and (source.get("editable") == "." or source.get("virtual") == ".")
        if isinstance(source, dict):
            pkg.source = next((f"{k}:{v}" for k, v in source.items()), None)
        for wheel in p.get("wheels") or []:
            if isinstance(wheel, dict) and _sha(wheel.get("hash")):
                pkg.artifacts.append(
                    (str(wheel.get("url") or wheel.get("filename") or "").rsplit("/", 1)[-1], _sha(wheel["hash"]) or "")
                )
        sdist = p.get("sdist")
        if isinstance(sdist, dict) and _sha(sdist.get("hash")):
            pkg.artifacts.append((str(sdist.get("url") or "sdist").rsplit("/", 1)[-1], _sha(sdist["hash"]) or ""))
        out.append(pkg)
    return out


def _poetry_dep(name: str, spec: Any) -> list[Dep]:
    specs = spec if isinstance(spec, list) else [spec]
    out = []
    for s in specs:
        dep = Dep(name=canonicalize_name(name))
        if isinstance(s, dict):
            dep.marker = parse_marker(s.get("markers"))
            dep.extras = tuple(canonicalize_name(e) for e in s.get("extras") or [])
            dep.optional = bool(s.get("optional"))
        out.append(dep)
    return out


def _poetry(doc: dict[str, Any]) -> list[LockPackage]:
    out = []
    for p in doc.get("package") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        pkg = LockPackage(name=canonicalize_name(p["name"]), version=p.get("version"))
        pkg.description = p.get("description") if isinstance(p.get("description"), str) else None
        for name, spec in (p.get("dependencies") or {}).items():
            pkg.deps.extend(_poetry_dep(name, spec))
        for extra, reqs in (p.get("extras") or {}).items():
            names = [canonicalize_name(str(r).split("(")[0].split("[")[0].split(";")[0].strip()) for r in reqs or []]
            pkg.extras[canonicalize_name(extra)] = [d for d in pkg.deps if d.name in names]
        pkg.marker = parse_marker(p.get("markers")) if isinstance(p.get("markers"), str) else None
        pkg.in_groups = tuple(p.get("groups") or ())
        if p.get("optional"):
            pkg.in_groups = (*pkg.in_groups, "__optional__")
        for f in p.get("files") or []:
            if isinstance(f, dict) and _sha(f.get("hash")):
                pkg.artifacts.append((str(f.get("file") or ""), _sha(f["hash"]) or ""))
        out.append(pkg)
    return out


def _pylock(doc: dict[str, Any], env: TargetEnv) -> list[LockPackage]:
    groups = [str(g) for g in doc.get("default-groups") or []]
    out = []
    for p in doc.get("packages") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        marker = parse_marker(p.get("marker"))
        if not env.evaluate(marker, "", groups):
            continue
        pkg = LockPackage(name=canonicalize_name(p["name"]), version=p.get("version"))
        pkg.deps = [
            Dep(name=canonicalize_name(d["name"]), version=d.get("version"))
            for d in p.get("dependencies") or []
            if isinstance(d, dict) and isinstance(d.get("name"), str)
        ]
        for wheel in p.get("wheels") or []:
            sha = ((wheel or {}).get("hashes") or {}).get("sha256") if isinstance(wheel, dict) else None
            if sha:
                pkg.artifacts.append((str(wheel.get("name") or str(wheel.get("url") or "").rsplit("/", 1)[-1]), sha))
        sdist = p.get("sdist")
        if isinstance(sdist, dict) and (sdist.get("hashes") or {}).get("sha256"):
            pkg.artifacts.append((str(sdist.get("name") or "sdist"), sdist["hashes"]["sha256"]))
        directory = p.get("directory")
        if isinstance(directory, dict) and str(directory.get("path", "")).rstrip("/") in (".", ""):
            pkg.is_root = True
        elif directory or p.get("vcs"):
            pkg.source = "directory" if directory else "vcs"
        out.append(pkg)
    return out


# --- resolution -------------------------------------------------------------------------------


def _resolve(
    path: Path,
    packages: list[LockPackage],
    env: TargetEnv,
    project_doc: dict[str, Any] | None,
    pyproject: Path | None,
    *,
    install_all: bool = False,
    show: Callable[[Path], str] = str,
) -> Inventory:
    by_name: dict[str, list[LockPackage]] = {}
    for p in packages:
        by_name.setdefault(p.name, []).append(p)

    def pick(dep: Dep) -> LockPackage | None:
        cands = by_name.get(dep.name) or []
        if dep.version is not None:
            cands = [c for c in cands if c.version == dep.version] or cands
        if len(cands) > 1:
            cands = [c for c in cands if env.evaluate(c.marker)] or cands
        return cands[0] if cands else None

    def active(pkg: LockPackage, extras: Iterable[str]) -> list[Dep]:
        deps = [d for d in pkg.deps if not d.optional]
        for e in extras:
            deps += [d for d in pkg.extras.get(e, []) if d not in deps]
        return [d for d in deps if any(env.evaluate(d.marker, x) for x in ("", *extras))]

    root_pkg = next((p for p in packages if p.is_root), None)
    root = project_root(pyproject, project_doc) if project_doc is not None and pyproject else None
    if root is None and root_pkg is not None:
        purl = f"pkg:pypi/{root_pkg.name}@{root_pkg.version}" if root_pkg.version else f"pkg:pypi/{root_pkg.name}"
        root = Component(bom_ref=purl, name=root_pkg.name, version=root_pkg.version, purl=purl, type="application")
    if root is None:
        root = Component(bom_ref=f"lockfile:{path.name}", name=root_name(path, show), type="application")
    root.properties["scanner:lockfile"] = path.name

    # Direct dependencies: the project's (required, then optional extras and groups).
    required_starts: list[Dep] = []
    optional_starts: list[tuple[Dep, str]] = []
    if root_pkg is not None and (root_pkg.deps or root_pkg.extras or root_pkg.groups):
        required_starts = active(root_pkg, ())
        for extra, deps in root_pkg.extras.items():
            optional_starts += [(d, f"extra:{extra}") for d in deps if env.evaluate(d.marker, extra)]
        for group, deps in root_pkg.groups.items():
            optional_starts += [(d, f"group:{group}") for d in deps if env.evaluate(d.marker, "", [group])]
    elif project_doc is not None:
        from packaging.requirements import InvalidRequirement, Requirement

        from scanner.inventory.pyproject import declared_requirements

        for line, declared_extra, declared_group in declared_requirements(project_doc):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if not env.evaluate(req.marker, declared_extra or "", [declared_group] if declared_group else ()):
                continue
            dep = Dep(canonicalize_name(req.name), extras=tuple(canonicalize_name(e) for e in req.extras))
            if declared_extra is None and declared_group is None:
                required_starts.append(dep)
            else:
                optional_starts.append(
                    (dep, f"extra:{declared_extra}" if declared_extra else f"group:{declared_group}")
                )
    else:
        # No project: every package nothing else depends on is a start; a poetry package in
        # a non-main group or marked optional only through an extra.
        depended = {d.name for p in packages for d in p.deps}
        for p in packages:
            if p.name in depended or p.is_root or not env.evaluate(p.marker):
                continue
            dep = Dep(p.name, version=p.version)
            if p.in_groups and "main" not in p.in_groups:
                optional_starts.append((dep, "group:" + ",".join(g for g in p.in_groups if g != "__optional__")))
            elif "__optional__" not in p.in_groups:
                required_starts.append(dep)

    extras_of: dict[str, set[str]] = {}
    scope: dict[str, str] = {}
    edges: dict[str, set[str]] = {}
    chosen: dict[str, LockPackage] = {}

    def walk(starts: list[Dep], kind: str) -> None:
        queue = list(starts)
        while queue:
            dep = queue.pop()
            pkg = pick(dep)
            if pkg is None or pkg.is_root:
                continue
            key = pkg.key
            new_extras = set(dep.extras) - extras_of.get(key, set())
            seen = key in chosen
            chosen[key] = pkg
            if kind == "required":
                upgraded = scope.get(key) != "required"
                scope[key] = "required"
            else:
                upgraded = False
                scope.setdefault(key, "optional")
            extras_of.setdefault(key, set()).update(dep.extras)
            if seen and not new_extras and not upgraded:
                continue
            targets = edges.setdefault(key, set())
            for child in active(pkg, sorted(extras_of[key])):
                target = pick(child)
                if target is None or target.is_root:
                    continue
                targets.add(target.key)
                queue.append(child)

    walk(required_starts, "required")
    optional_by: dict[str, set[str]] = {}
    for dep, label in optional_starts:
        pkg = pick(dep)
        if pkg is not None:
            optional_by.setdefault(pkg.key, set()).add(label)
        walk([dep], "optional")

    if install_all:
        optional_names = {d.name for d, _ in optional_starts}
        for p in packages:
            if not p.is_root and p.key not in chosen and p.name not in optional_names:
                chosen[p.key] = p
                scope[p.key] = "required"

    inv = Inventory(root=root)
    ref_of: dict[str, str] = {}
    for key, pkg in sorted(chosen.items()):
        purl = f"pkg:pypi/{pkg.name}@{pkg.version}" if pkg.version else f"pkg:pypi/{pkg.name}"
        c = Component(
            bom_ref=purl, name=pkg.name, version=pkg.version, purl=purl, scope=scope.get(key), source=show(path)
        )
        if pkg.description:
            c.description = pkg.description[:500]
        artifact = _choose_artifact(pkg.artifacts, env)
        if artifact:
            c.hashes["SHA-256"] = artifact[1]
            c.properties["scanner:artifact"] = artifact[0]
        if extras_of.get(key):
            c.properties["scanner:extras"] = ",".join(sorted(extras_of[key]))
        if key in optional_by:
            c.properties["scanner:optional-via"] = ",".join(sorted(optional_by[key]))
        if pkg.source and not pkg.source.startswith("registry"):
            c.properties["scanner:source"] = pkg.source[:200]
        ref_of[key] = purl
        inv.components.append(c)
    for key in chosen:
        inv.dependencies[ref_of[key]] = sorted(ref_of[t] for t in edges.get(key, ()) if t in ref_of)
    picked = [pick(d) for d in required_starts] + [pick(d) for d, _ in optional_starts]
    direct = {p.key for p in picked if p is not None and not p.is_root}
    inv.dependencies[root.bom_ref] = sorted(ref_of[k] for k in direct if k in ref_of)
    return inv


def _choose_artifact(artifacts: list[tuple[str, str]], env: TargetEnv) -> tuple[str, str] | None:
    """The wheel the target environment would install (by platform tag), else the sdist."""
    if not artifacts:
        return None
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    host = env.values.get("python_full_version") == TargetEnv.host().values.get("python_full_version")
    rank = {str(t): i for i, t in enumerate(sys_tags())} if host else {}
    best: tuple[int, tuple[str, str]] | None = None
    sdist = None
    for name, sha in artifacts:
        if not name.endswith(".whl"):
            sdist = sdist or (name, sha)
            continue
        try:
            _, _, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        score = min((rank[str(t)] for t in tags if str(t) in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, (name, sha))
    if best:
        return best[1]
    if sdist:
        return sdist
    return artifacts[0] if len(artifacts) == 1 else None
