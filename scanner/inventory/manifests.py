"""Every dependency manifest of a directory read into one inventory.

Each manifest is a source of components (property ``scanner:manifest`` lists the files, relative
to the directory, that name a component); components found in several are merged by purl. A
``pyproject.toml`` beside lock files or a ``requirements.txt`` (pip-compile, uv export) describes
the same project, and they resolve it: its version ranges fold into the pinned components, and
where they do not satisfy it (a range no pinned version meets, a pin resolved differently, a
required dependency not pinned at all) that is an ``SBOM-MANIFEST-MISMATCH`` finding — and the
pyproject's own pin, or its unpinned declaration, stays a component, so it is still audited. An
optional dependency (extra, group) they do not pin is not installed by them and is left out.
Manifests that are not read (in sub-folders, past the limit, in a format no reader takes) are
``SBOM-MANIFEST-NOT-READ`` findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from scanner.core import Artifact, Finding, Severity
from scanner.inventory.components import Component, Inventory

if TYPE_CHECKING:
    from scanner.files import FileSet

MANIFEST = "scanner:manifest"
Choice = tuple[str, Path]


def read_manifests(
    artifact: Artifact,
    manifests: Sequence[Choice],
    read: Callable[[Choice], Inventory],
    *,
    base: Inventory | None = None,
) -> Inventory:
    """The inventories of ``manifests`` (read with ``read``) merged into ``base`` (or into the
    first of them, whose root is the project's); the root of a directory read only from its
    manifests lists them all (``scanner:input``)."""
    from scanner.inventory.ingest import merge

    directory = artifact.path
    # what resolves a pyproject: lock files, and requirements.txt (pip-compile, uv export); other
    # requirements-*.txt (dev, docs, test) are partial by name and convention
    locks = [
        rel(path, directory)
        for kind, path in manifests
        if kind == "lockfile" or (kind == "requirements" and path.name == "requirements.txt")
    ]
    inv = base
    inputs: list[str] = []
    deferred: list[Choice] = []
    for kind, path in manifests:
        if kind == "pyproject" and locks:
            deferred.append((kind, path))
            continue
        part = read((kind, path))
        tag(part, rel(path, directory))
        inputs.append(f"{kind}:{rel(path, directory)}")
        inv = part if inv is None else merge(inv, part)
    assert inv is not None or deferred
    for kind, path in deferred:
        part = read((kind, path))
        name = rel(path, directory)
        tag(part, name)
        inputs.append(f"{kind}:{name}")
        if inv is None:
            inv = part
            continue
        inv.findings.extend(against_locks(part, inv, name, locks))
        inv = merge(inv, part)
    assert inv is not None
    if base is None and inv.root is not None:
        inv.root.properties["scanner:input"] = ",".join(inputs)
    return inv


def rel(path: Path, directory: Path) -> str:
    try:
        return path.relative_to(directory).as_posix()
    except ValueError:
        return path.name


def tag(inv: Inventory, name: str) -> None:
    """Note ``name`` as a manifest listing each top-level component of ``inv``."""
    for c in inv.components:
        add_manifest(c, name)


def add_manifest(c: Component, names: str) -> None:
    values = {v for v in c.properties.get(MANIFEST, "").split(",") if v}
    values.update(v for v in names.split(",") if v)
    c.properties[MANIFEST] = ",".join(sorted(values))


def against_locks(project: Inventory, inv: Inventory, name: str, locks: Sequence[str]) -> list[Finding]:
    """Fold the pyproject's version ranges into the components the lock files resolve (removing
    them from ``project``) and report where the lock files do not satisfy it."""
    lock_set = set(locks)
    locked: dict[str, list[Component]] = {}
    for c in inv.components:
        if lock_set & set(c.properties.get(MANIFEST, "").split(",")):
            locked.setdefault(canonicalize_name(c.name), []).append(c)
    lock_text = ", ".join(locks)
    findings: list[Finding] = []
    rename: dict[str, list[str]] = {}
    kept: list[Component] = []
    for c in project.components:
        key = canonicalize_name(c.name)
        resolved = locked.get(key, [])
        versions = sorted({r.version for r in resolved if r.version})
        declared = f"{key}=={c.version}" if c.version else f"{key}{_spec(c)}"
        says = f"{name} {'pins' if c.version else 'requires'} {declared}; {lock_text} resolve(s) "
        if not resolved:
            if c.scope == "required":
                kept.append(c)
                findings.append(_mismatch(key, name, lock_text, says + "no version of it: it is audited as declared"))
            else:  # an extra or group the lock files do not install (pylock.toml: its default groups)
                rename[c.bom_ref] = []
        elif c.version is None:
            for r in resolved:
                add_manifest(r, name)
            rename[c.bom_ref] = [r.bom_ref for r in resolved]
            if versions and not _satisfied(_spec(c), versions):
                findings.append(_mismatch(key, name, lock_text, says + ", ".join(versions)))
        else:
            kept.append(c)
            if c.version not in versions:
                locked_text = ", ".join(versions) or "no version"
                findings.append(_mismatch(key, name, lock_text, says + f"{locked_text}: both are audited"))
    project.components = kept
    project.dependencies = {
        ref: sorted({t for d in deps for t in rename.get(d, [d])})
        for ref, deps in project.dependencies.items()
        if ref not in rename
    }
    return findings


def _spec(c: Component) -> str:
    spec = c.properties.get("scanner:specifier", "")
    return "" if spec == "any" else spec


def _satisfied(spec: str, versions: Sequence[str]) -> bool:
    if not spec:
        return True
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return True  # the pyproject reader reports what it cannot parse
    for v in versions:
        try:
            if specifier.contains(Version(v), prereleases=True):
                return True
        except InvalidVersion:
            return True  # a version we cannot compare is not called a mismatch
    return False


def _mismatch(key: str, name: str, locks: str, message: str) -> Finding:
    return Finding(
        id="SBOM-MANIFEST-MISMATCH",
        check="sbom",
        severity=Severity.MEDIUM,
        subject=f"pkg:pypi/{key}",
        message=message[:500],
        evidence={"manifest": name, "lock_files": locks},
        fix=f"lock (or compile) the project again so {locks} resolve(s) what {name} declares",
    )


UNREAD_LIMIT = 100


def is_manifest_name(name: str) -> bool:
    """A file name ``scanner.inventory.build`` reads as a dependency manifest at the top of a
    directory (``pyvenv.cfg`` marks a virtual environment)."""
    from scanner.artifact import lock_format

    return (
        name in ("pyproject.toml", "bom.json", "bom.xml", "pyvenv.cfg")
        or lock_format(name) is not None
        or (name.startswith("requirements") and name.endswith(".txt"))
        or name.endswith((".cdx.json", ".cdx.xml"))
    )


def unread_manifests(files: FileSet | None, read: Sequence[str], over: Sequence[str] = ()) -> list[Finding]:
    """A finding for each dependency manifest not read, never skipped silently: ``over`` (top-level
    manifests past the reading limit) and those below the top of the directory (a monorepo's
    sub-project, a vendored requirements file), found in ``files``. ``read`` are the top-level
    inputs read (``.venv``: its files belong to that environment); installed packages
    (``site-packages``, ``*.dist-info``) are the environment reader's."""
    inside_read = tuple(r.rstrip("/") + "/" for r in read)
    found = list(over)
    for entry in files.entries if files is not None else []:
        rel_path = entry.rel
        if "/" not in rel_path or rel_path.startswith(inside_read):
            continue
        folders = rel_path.split("/")[:-1]
        if any(f == "site-packages" or f.endswith((".dist-info", ".egg-info")) for f in folders):
            continue
        if is_manifest_name(rel_path.rsplit("/", 1)[-1]):
            found.append(rel_path)
    findings = [
        Finding(
            id="SBOM-MANIFEST-NOT-READ",
            check="sbom",
            severity=Severity.MEDIUM,
            subject=path,
            message=(
                "dependency manifest in a sub-folder: not read (only the top of the directory is), "
                "so its dependencies are not in the inventory nor audited"
                if "/" in path
                else f"dependency manifest past the first {len(read)} read at the top of the directory: not read, "
                "so its dependencies are not in the inventory nor audited"
            ),
            evidence={"file": path},
            fix="judge that folder on its own as well (scanner audit / gate on it), or keep it out of the artifact",
        )
        for path in found[:UNREAD_LIMIT]
    ]
    if len(found) > UNREAD_LIMIT:
        findings.append(
            Finding(
                id="SBOM-MANIFEST-NOT-READ",
                check="sbom",
                severity=Severity.MEDIUM,
                subject=found[UNREAD_LIMIT],
                message=f"{len(found) - UNREAD_LIMIT} more dependency manifest(s) not read",
                evidence={"count": len(found) - UNREAD_LIMIT},
                fix="judge those folders on their own as well, or keep them out of the artifact",
            )
        )
    return findings


# Declarations no reader takes, each with the inputs whose presence resolves it (then it is not
# reported): pip-compile's input beside its output, a Pipfile beside its lock, setup.py/setup.cfg
# (reading their dependencies would mean executing setup.py) beside a lock or requirements.
UNREAD_DECLARATIONS: dict[str, tuple[str, ...]] = {
    "Pipfile": ("lockfile",),
    "requirements.in": ("requirements", "lockfile"),
    "setup.py": ("lockfile", "requirements", "pyproject"),
    "setup.cfg": ("lockfile", "requirements", "pyproject"),
    "environment.yml": (),
    "environment.yaml": (),
}


def unread_declarations(directory: Path, read_kinds: Sequence[str]) -> list[Finding]:
    """A low finding for each dependency declaration at the top of ``directory`` in a format no
    reader takes, unless an input that resolves it was read: never skipped silently."""
    out = []
    for name, resolved_by in UNREAD_DECLARATIONS.items():
        if any(kind in resolved_by for kind in read_kinds) or not (directory / name).is_file():
            continue
        out.append(
            Finding(
                id="SBOM-MANIFEST-NOT-READ",
                check="sbom",
                severity=Severity.LOW,
                subject=name,
                message=f"{name} declares dependencies in a form scanner does not read (nor execute): "
                "they are not in the inventory nor audited",
                evidence={"file": name},
                fix="add a lock file or a pinned requirements file (pip-compile, uv export, pipenv lock) "
                "so the dependencies can be audited",
            )
        )
    return out
