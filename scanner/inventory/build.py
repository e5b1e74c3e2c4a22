"""Choose the inventory source for an artifact (the gate's inventory stage).

Application kinds: an installed environment, a requirements file, a pyproject.toml, a lock file
(pylock.toml, uv.lock, poetry.lock), an existing CycloneDX BOM, or a project directory. For a
project directory the input is chosen by what it holds, first match wins:

1. a lock file: ``pylock.toml``, then ``pylock.*.toml``, ``uv.lock``, ``poetry.lock`` (the
   exact resolution; a ``pyproject.toml`` beside it names the root and the direct deps);
2. ``requirements.txt``;
3. ``pyproject.toml``;
4. a CycloneDX BOM: ``bom.json``, ``*.cdx.json``, ``bom.xml``, ``*.cdx.xml``;
5. a virtual environment in ``.venv`` or ``venv``.

``input_type`` (``scanner sbom --input-type``) picks one of these explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scanner.core import Artifact, ArtifactKind, ScanError
from scanner.inventory.components import Inventory

if TYPE_CHECKING:
    from scanner.files import FileSet
    from scanner.options import InventoryOptions

INPUT_TYPES = ("auto", "environment", "requirements", "pyproject", "lockfile", "sbom")


def _candidates(directory: Path) -> dict[str, list[Path]]:
    def files(*names: str) -> list[Path]:
        return [directory / n for n in names if (directory / n).is_file()]

    return {
        "lockfile": files("pylock.toml")
        + sorted(p for p in directory.glob("pylock.*.toml") if p.is_file())
        + files("uv.lock", "poetry.lock"),
        "requirements": files("requirements.txt"),
        "pyproject": files("pyproject.toml"),
        "sbom": files("bom.json")
        + sorted(p for p in directory.glob("*.cdx.json") if p.is_file())
        + files("bom.xml")
        + sorted(p for p in directory.glob("*.cdx.xml") if p.is_file()),
        "environment": [directory / n for n in (".venv", "venv") if (directory / n / "pyvenv.cfg").is_file()],
    }


def choose_app_input(directory: Path, input_type: str | None = None) -> tuple[str, Path]:
    """(input type, path) for a project directory, by the precedence in the module doc."""
    found = _candidates(directory)
    order = ("lockfile", "requirements", "pyproject", "sbom", "environment")
    if input_type and input_type != "auto":
        if input_type not in found:
            raise ScanError(f"unknown input type {input_type!r} (choose from {', '.join(INPUT_TYPES)})", directory)
        if input_type == "requirements" and not found["requirements"]:
            found["requirements"] = sorted(directory.glob("requirements*.txt"))
        if not found[input_type]:
            raise ScanError(f"no {input_type} input in this directory", directory)
        return input_type, found[input_type][0]
    for kind in order:
        if found[kind]:
            return kind, found[kind][0]
    others = sorted(directory.glob("requirements*.txt"))
    if len(others) == 1:
        return "requirements", others[0]
    if others:
        names = ", ".join(p.name for p in others)
        raise ScanError(f"several requirements files ({names}): give the one you mean as the path", directory)
    raise ScanError("no application input here (lock file, requirements, pyproject.toml, BOM or venv)", directory)


_KIND_OF = {
    ArtifactKind.ENVIRONMENT: "environment",
    ArtifactKind.REQUIREMENTS: "requirements",
    ArtifactKind.PYPROJECT: "pyproject",
    ArtifactKind.LOCKFILE: "lockfile",
    ArtifactKind.SBOM: "sbom",
}


def choose_reader(artifact: Artifact, input_type: str | None = None) -> tuple[str, Path] | None:
    """The one place that decides the inventory reader: (input type, path), or ``None`` for the
    model inventory. ``input_type`` (``auto`` or ``None`` to detect) overrides the kind."""
    path = artifact.path
    if input_type in (None, "auto"):
        if artifact.kind.is_model:
            return None
        if artifact.kind == ArtifactKind.APP_DIR:
            return choose_app_input(path)
        return _KIND_OF[artifact.kind], path
    assert input_type is not None
    if not path.is_dir():
        return input_type, path
    if input_type == "environment" and looks_like_env(path):
        return "environment", path
    return choose_app_input(path, input_type)


def build_inventory(
    artifact: Artifact,
    input_type: str | None = None,
    *,
    verify_files: bool = True,
    author: str | None = None,
    files: FileSet | None = None,
) -> Inventory:
    """The inventory of any artifact kind. ``input_type`` overrides what a directory is read as.
    ``verify_files`` (on for the gate) reads every installed file and compares it with RECORD;
    ``author`` authors the SBOM data generated here (default: ``sbom_author``); ``files`` is the
    run's FileSet, whose digests are reused (each file hashed once per run)."""
    choice = choose_reader(artifact, input_type)
    if choice is None:
        from scanner.inventory.modeldir import inventory_model

        inv = inventory_model(artifact, files=files)
    else:
        inv = _read_choice(artifact, choice, verify_files, files)
        if choice[0] == "sbom":  # an ingested BOM keeps its own author and timestamp (NTIA judges it as it is)
            return inv
    if artifact.kind in (ArtifactKind.MODEL_DIR, ArtifactKind.ENVIRONMENT) and input_type in (None, "auto"):
        # A marker (a *.dist-info folder, a model config) chose this reader; it must not hide the
        # application manifest beside it: that is read too and merged in.
        manifest = app_manifest(artifact.path)
        if manifest is not None:
            from scanner.inventory.ingest import merge

            inv = merge(inv, _read_choice(artifact, manifest, verify_files, files))
    return _authored(inv, author)


def app_manifest(directory: Path) -> tuple[str, Path] | None:
    """The application input of a directory by the module doc's precedence (lock file,
    requirements, pyproject, BOM; a single ``requirements*.txt``), or ``None`` when it holds none
    or several requirements files and no other input."""
    found = _candidates(directory)
    for kind in ("lockfile", "requirements", "pyproject", "sbom"):
        if found[kind]:
            return kind, found[kind][0]
    others = sorted(p for p in directory.glob("requirements*.txt") if p.is_file())
    return ("requirements", others[0]) if len(others) == 1 else None


def _read_choice(artifact: Artifact, choice: tuple[str, Path], verify_files: bool, files: FileSet | None) -> Inventory:
    kind, path = choice
    if files is not None and files.is_dir and files.declared is not None:
        from scanner.files import leaves

        if leaves(path, files.declared.resolve()):
            raise ScanError(
                f"the {kind} input is a link leaving the artifact: not read (its content is not part of the digest)",
                path,
            )
    inv = read_input(kind, path, verify_files=verify_files, files=files, beside=artifact.path.is_dir())
    if inv.root is not None:
        inv.root.properties.setdefault("scanner:input", f"{kind}:{path.name}")
    return inv


def inventory_running_environment(options: InventoryOptions) -> Inventory:
    """The environment of the running interpreter (``scanner sbom``/``audit`` without a path)."""
    from scanner.inventory.environment import inventory_environment

    return _authored(inventory_environment(None, verify_files=options.verify_files), options.author)


def sbom_author() -> str:
    """Who authors the SBOM data we generate when no ``author`` option is given: ``SCANNER_AUTHOR``,
    else the CI project's owner, else this tool. NTIA's minimum elements accept a tool as the
    author of SBOM data."""
    import os

    from scanner import __version__

    for var in ("SCANNER_AUTHOR", "GITHUB_REPOSITORY_OWNER", "CI_PROJECT_NAMESPACE"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return f"scanner {__version__} (automated)"


def _authored(inv: Inventory, author: str | None = None) -> Inventory:
    import datetime as dt

    if not inv.authors:
        inv.authors = [author or sbom_author()]
    if not inv.timestamp:
        inv.timestamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return inv


def looks_like_env(path: Path) -> bool:
    """A venv (pyvenv.cfg) or a site-packages directory (holds .dist-info directories)."""
    return (path / "pyvenv.cfg").is_file() or any(p.suffix == ".dist-info" for p in path.iterdir())


def read_input(
    kind: str, path: Path, *, verify_files: bool = True, files: FileSet | None = None, beside: bool = True
) -> Inventory:
    """Read one input. ``beside`` false: the file alone is the artifact, so nothing beside it
    (a lock file's ``pyproject.toml``, a pyproject's licence file) is read — it is not in the
    digest and must not change the verdict."""
    if kind == "environment":
        from scanner.inventory.environment import inventory_environment

        return inventory_environment(path, verify_files=verify_files, files=files)
    if kind == "requirements":
        from scanner.inventory.requirements import inventory_requirements

        return inventory_requirements(path)
    if kind == "pyproject":
        from scanner.inventory.pyproject import inventory_pyproject

        return inventory_pyproject(path, read_beside=beside)
    if kind == "lockfile":
        from scanner.inventory.lockfiles import inventory_lockfile

        pyproject = path.parent / "pyproject.toml"
        return inventory_lockfile(path, pyproject=pyproject if beside and pyproject.is_file() else None)
    if kind == "sbom":
        from scanner.inventory.ingest import inventory_sbom

        return inventory_sbom(path)
    raise ScanError(f"inventory of a {kind} is not supported", path)
