"""Requirements files: ``name==version`` lines with their ``--hash`` values, ``-r`` includes, and the
``# via`` annotations pip-compile / uv write (they give the dependency graph).

A requirements file judged alone is the file and the files it includes (``included_members``
finds them for its FileSet: each is hashed, listed in the record, and the artifact digest covers
them); the reader then reads every one of them through that FileSet, so the bytes parsed are
the bytes hashed. Includes stay inside the named file's folder, regular files only, never a link.
``-c`` constraint files are confined the same way but not read: they only narrow versions, and a
requirement they would pin is reported unaudited as unpinned.

Lines whose environment marker is false for the target environment are dropped. A requirement
that is not pinned to one version is still a component, without a version (the vulnerability
check reports it as unaudited)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from scanner.core import Finding, ScanError, Severity
from scanner.inventory.components import Component, Inventory
from scanner.inventory.markers import TargetEnv

if TYPE_CHECKING:
    from collections.abc import Callable

    from scanner.files import FileSet

FILE_LIMIT = 16 << 20
INCLUDE_DEPTH = 10
_HASH = re.compile(r"--hash[= ]+(\w+):([0-9a-fA-F]+)")
_OPTION = re.compile(r"^(-[rc]|--requirement|--constraint)[= ]\s*(\S+)")
_VIA = re.compile(r"^\s*#\s+via(?:\s+(.*))?$")
_VIA_MORE = re.compile(r"^\s*#\s{2,}(\S.*)$")


def inventory_requirements(
    path: Path, env: TargetEnv | None = None, *, files: FileSet | None = None, show: Callable[[Path], str] = str
) -> Inventory:
    """The inventory of a requirements file and its includes. ``files``: the run's FileSet of the
    file judged alone (``included_members``), through which every file is read; the root then
    lists them all (``scanner:input``). ``show`` names a file read in the inventory
    (``Artifact.show``: piped content is read from a private file and named ``stdin``)."""
    env = env or TargetEnv.host()
    inv = Inventory()
    root = Component(bom_ref=f"requirements:{path.name}", name=path.name, type="application")
    inv.root = root
    by_name: dict[str, Component] = {}
    via: dict[str, set[str]] = {}
    read: list[Path] = []
    _read(path, env, inv, by_name, via, depth=0, seen=set(), files=files, read=read, show=show)
    if files is not None and len(read) > 1:
        root.properties["scanner:input"] = ",".join(
            "requirements:" + (path.name if p == path else os.path.relpath(p, path.parent).replace(os.sep, "/"))
            for p in read
        )
    names = set(by_name)
    has_via = bool(via)
    direct: set[str] = set()
    for name, c in by_name.items():
        inv.components.append(c)
        inv.dependencies.setdefault(c.bom_ref, [])
        parents = via.get(name, set())
        pkg_parents = {p for p in parents if p in names}
        if not has_via or not pkg_parents or any(p.startswith("-") for p in parents):
            direct.add(c.bom_ref)
        for parent in pkg_parents:
            inv.dependencies.setdefault(by_name[parent].bom_ref, []).append(c.bom_ref)
    inv.components.sort(key=lambda c: c.bom_ref)
    inv.dependencies = {k: sorted(set(v)) for k, v in sorted(inv.dependencies.items())}
    inv.dependencies[root.bom_ref] = sorted(direct)
    return inv


def read_requirements_text(
    path: Path, what: str = "requirements file", *, follow: bool = False, files: FileSet | None = None
) -> str:
    """A requirements file's text: a regular file (never a link, FIFO or device), at most
    ``FILE_LIMIT`` bytes, UTF-8. With ``files``, read through the artifact's FileSet
    (``FileSet.read_bytes``: hashed, the named file followed if a link, a member never)."""
    from scanner.files import FileChanged
    from scanner.safeio import read_bounded

    try:
        if files is not None:
            data = files.read_bytes(path, FILE_LIMIT, what=what)
        else:
            data = read_bounded(path, FILE_LIMIT, what=what, follow=follow)
    except FileChanged:
        raise
    except ScanError:
        if not path.exists() and not path.is_symlink():
            raise ScanError("cannot read requirements file: no such file", path) from None
        raise
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScanError(f"not a UTF-8 text {what}", path) from None


def include_path(including: Path, lineno: int, target: str, project: Path) -> Path:
    """Where a ``-r``/``-c`` line of ``including`` points, refused unless it stays inside
    ``project`` (the directory of the requirements file named on the command line): an include
    must not pull ``/proc/self/environ``, a secrets file or a device into the inventory.
    Links are refused when the file is opened (``read_requirements_text``)."""
    where = f"{including}:{lineno}"
    if not target or "\0" in target:
        raise ScanError("include without a file name", where)
    candidate = Path(os.path.normpath(including.parent / target))
    root = Path(os.path.realpath(project))
    real_dir = Path(os.path.realpath(candidate.parent))
    lexical_root = Path(os.path.normpath(project.absolute()))
    inside = candidate.absolute().is_relative_to(lexical_root)
    if not inside or not real_dir.is_relative_to(root):
        raise ScanError(
            f"include {target!r} is outside the project directory (the judged file's folder): not read",
            where,
            hint="requirements includes must name files inside the requirements file's own directory tree",
        )
    return candidate


def included_members(files: FileSet) -> None:
    """Read (through ``files.read_bytes``, which adds each as a member of the FileSet) every file
    the requirements file ``files.root`` includes with ``-r``, recursively, in the reader's order
    and confined as the reader confines them (``include_path``)."""
    _members(files, files.root, 0, set())


def _first_visit(path: Path, depth: int, seen: set[Path]) -> bool:
    """Whether ``path`` is read now: not when an include cycle led back to it; too deep an
    include chain stops the run."""
    real = path.resolve()
    if real in seen:
        return False
    seen.add(real)
    if depth > INCLUDE_DEPTH:
        raise ScanError("requirements includes nested too deeply", path)
    return True


def _members(files: FileSet, path: Path, depth: int, seen: set[Path]) -> None:
    if not _first_visit(path, depth, seen):
        return
    text = read_requirements_text(path, _what(depth), files=files)
    for target in _includes(path, text, files.root.parent):
        _members(files, target, depth + 1, seen)


def _includes(path: Path, text: str, project: Path) -> list[Path]:
    """The files ``path`` includes with ``-r`` (each confined to ``project``; a ``-c`` is
    confined too, and not read)."""
    found = []
    for lineno, line, _ in _logical_lines(text):
        opt = _OPTION.match(_HASH.sub("", line).strip()) if line is not None else None
        if opt:
            target = include_path(path, lineno, opt.group(2), project)
            if opt.group(1) in ("-r", "--requirement"):
                found.append(target)
    return found


def _what(depth: int) -> str:
    return "requirements file" if depth == 0 else "included requirements file"


def _read(
    path: Path,
    env: TargetEnv,
    inv: Inventory,
    by_name: dict[str, Component],
    via: dict[str, set[str]],
    *,
    depth: int,
    seen: set[Path],
    project: Path | None = None,
    files: FileSet | None = None,
    read: list[Path],
    show: Callable[[Path], str] = str,
) -> None:
    if not _first_visit(path, depth, seen):
        return
    project = project or path.parent
    read.append(path)
    # the file named on the command line may be a link (it was asked for); an include may not
    text = read_requirements_text(path, _what(depth), follow=depth == 0, files=files)
    current: str | None = None
    for lineno, line, comments in _logical_lines(text):
        if line is None:
            if current:
                via.setdefault(current, set()).update(_via_names(comments))
            continue
        sha256 = [digest.lower() for alg, digest in _HASH.findall(line) if alg.lower() == "sha256"]
        spec = _HASH.sub("", line).strip()
        opt = _OPTION.match(spec)
        if opt:
            # constraints (-c) only narrow versions; both are confined to the project tree
            target = include_path(path, lineno, opt.group(2), project)
            if opt.group(1) in ("-r", "--requirement"):
                _read(
                    target,
                    env,
                    inv,
                    by_name,
                    via,
                    depth=depth + 1,
                    seen=seen,
                    project=project,
                    files=files,
                    read=read,
                    show=show,
                )
            current = None
            continue
        if spec.startswith(("-e ", "--editable")):
            inv.findings.append(
                _finding(
                    show(path),
                    lineno,
                    "SBOM-UNRESOLVED-REQUIREMENT",
                    f"editable requirement {spec!r} is not inventoried"
                    if depth == 0
                    else "editable requirement is not inventoried",
                    spec.split(None, 1)[-1].removeprefix("--editable=").strip() if depth == 0 else "(included file)",
                )
            )
            current = None
            continue
        if spec.startswith("-"):
            current = None
            continue
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            # the text of an included file is never echoed: an include may name a secrets file
            shown = (
                f"cannot parse {spec!r}: {exc}"
                if depth == 0
                else "cannot parse this line (an included file's text is not shown)"
            )
            inv.findings.append(
                _finding(
                    show(path), lineno, "SBOM-UNPARSEABLE-REQUIREMENT", shown, spec if depth == 0 else "(included file)"
                )
            )
            current = None
            continue
        current = None
        if not env.evaluate(req.marker):
            continue
        name = canonicalize_name(req.name)
        pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        version = pins[0] if len(pins) == 1 else None
        purl = f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"
        c = Component(bom_ref=purl, name=name, version=version, purl=purl, hashes={}, source=f"{show(path)}:{lineno}")
        if sha256:
            # One hash per allowed artifact (wheels, sdist): the first is the component's,
            # all of them are kept.
            c.hashes["SHA-256"] = sha256[0]
            if len(sha256) > 1:
                c.properties["scanner:artifact-sha256"] = ",".join(sha256)
        if req.url:
            c.properties["scanner:direct-url"] = req.url
        if req.extras:
            c.properties["scanner:extras"] = ",".join(sorted(canonicalize_name(e) for e in req.extras))
        if version is None:
            c.properties["scanner:specifier"] = str(req.specifier) or "any"
        previous = by_name.get(name)
        if previous is not None:
            if previous.version != c.version:
                inv.findings.append(
                    _finding(
                        show(path),
                        lineno,
                        "SBOM-CONFLICTING-REQUIREMENT",
                        f"{name} is required as {previous.version or 'unpinned'} and {version or 'unpinned'}",
                        spec,
                    )
                )
            current = name
            continue
        by_name[name] = c
        current = name


def looks_like_requirements(text: str) -> bool:
    """Whether ``text`` reads as a requirements file by its content alone (standard input has no
    name to go by): at least one requirement or pip option line, and every line a requirement
    (PEP 508), a pip option or a comment, by the rules this reader applies."""
    seen = False
    for _lineno, line, _comments in _logical_lines(text):
        if line is None:
            continue
        spec = _HASH.sub("", line).strip()
        if not spec.startswith("-"):
            try:
                Requirement(spec)
            except InvalidRequirement:
                return False
        seen = True
    return seen


def _via_names(comments: list[str]) -> set[str]:
    """``# via flask`` / ``#   -r requirements.in`` lines → canonical package names, or the raw
    ``-r …`` text for an input file (a direct requirement)."""
    out: set[str] = set()
    for comment in comments:
        m = _VIA.match(comment) or _VIA_MORE.match(comment)
        if not m or not m.group(1):
            continue
        for part in m.group(1).split(","):
            item = part.strip()
            if not item:
                continue
            if item.startswith("-"):
                out.add(item)
            else:
                token = item.split()[0]
                if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", token):
                    out.add(canonicalize_name(token))
    return out


def _logical_lines(text: str) -> list[tuple[int, str | None, list[str]]]:
    """(line number, requirement text, []) for requirement lines and (n, None, [comment]) for
    comment lines, with backslash continuations joined."""
    out: list[tuple[int, str | None, list[str]]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not buf and raw.lstrip().startswith("#"):
            out.append((n, None, [raw]))
            continue
        line = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0]
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip(), []))
        buf = ""
    return out


def _finding(path: str, lineno: int, rule: str, message: str, requirement: str) -> Finding:
    """``requirement`` (the line's text) lets the audit name what it could not audit; ``path``
    is the file as shown."""
    return Finding(
        id=rule,
        check="sbom",
        severity=Severity.MEDIUM,
        subject=f"{path}:{lineno}",
        message=message,
        evidence={"file": path, "line": lineno, "requirement": requirement},
        fix="fix the requirements file (pip-compile or uv pip compile write a complete pinned one)",
    )
