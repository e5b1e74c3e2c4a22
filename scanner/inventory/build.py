"""Choose the inventory sources of an artifact (the gate's inventory stage).

Application kinds: an installed environment, a requirements file, a pyproject.toml, a lock file
(pylock.toml, uv.lock, poetry.lock), an existing CycloneDX BOM, or a project directory. A project
directory is read from EVERY dependency manifest at its top level, as Syft and Trivy catalogue
every manifest they find — a first-match choice would let a benign lock file hide a vulnerable
``requirements.txt`` — in this order (the first gives the root component):

1. lock files: ``pylock.toml``, ``pylock.*.toml``, ``uv.lock``, ``poetry.lock`` (each reads the
   ``pyproject.toml`` beside it for the root and the direct dependencies), ``Pipfile.lock``;
2. requirements files: ``requirements.txt``, then every other ``requirements*.txt``;
3. ``pyproject.toml``: on its own without a lock or requirements file; beside them, its
   declarations are checked against what they resolve (``scanner.inventory.manifests``);
4. CycloneDX BOMs: ``bom.json``, ``*.cdx.json``, ``bom.xml``, ``*.cdx.xml``;
5. virtual environments in ``.venv`` or ``venv``.

Every component says which of them list it (property ``scanner:manifest``). A model directory or
an environment reads the manifests beside its own inventory the same way (a marker never hides
them). ``input_type`` (``scanner sbom --input-type``) picks one input explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scanner.core import Artifact, ArtifactKind, ScanError
from scanner.inventory.components import Inventory

if TYPE_CHECKING:
    from collections.abc import Callable

    from scanner.files import FileSet
    from scanner.options import InventoryOptions

INPUT_TYPES = ("auto", "environment", "requirements", "pyproject", "lockfile", "sbom")
ORDER = ("lockfile", "requirements", "pyproject", "sbom", "environment")
# At most this many top-level manifests are read (each is bounded; their number is not): the
# rest are SBOM-MANIFEST-NOT-READ findings.
MANIFEST_LIMIT = 64


def _candidates(directory: Path) -> dict[str, list[Path]]:
    def files(*names: str) -> list[Path]:
        return [directory / n for n in names if (directory / n).is_file()]

    def matching(pattern: str, *first: str) -> list[Path]:
        return sorted(p for p in directory.glob(pattern) if p.is_file() and p.name not in first)

    return {
        "lockfile": files("pylock.toml") + matching("pylock.*.toml") + files("uv.lock", "poetry.lock", "Pipfile.lock"),
        "requirements": files("requirements.txt") + matching("requirements*.txt", "requirements.txt"),
        "pyproject": files("pyproject.toml"),
        "sbom": files("bom.json") + matching("*.cdx.json") + files("bom.xml") + matching("*.cdx.xml"),
        "environment": [directory / n for n in (".venv", "venv") if (directory / n / "pyvenv.cfg").is_file()],
    }


def app_inputs(directory: Path) -> list[tuple[str, Path]]:
    """Every application input at the top of a directory, (input type, path), in the module
    doc's order."""
    found = _candidates(directory)
    return [(kind, path) for kind in ORDER for path in found[kind]]


def choose_app_input(directory: Path, input_type: str | None = None) -> tuple[str, Path]:
    """The first input of a directory (``input_type``: the first of that type, the user's explicit
    choice). The inventory of a directory reads them all (``app_inputs``)."""
    found = _candidates(directory)
    if input_type and input_type != "auto":
        if input_type not in found:
            raise ScanError(f"unknown input type {input_type!r} (choose from {', '.join(INPUT_TYPES)})", directory)
        if not found[input_type]:
            raise ScanError(f"no {input_type} input in this directory", directory)
        return input_type, found[input_type][0]
    inputs = app_inputs(directory)
    if not inputs:
        raise ScanError("no application input here (lock file, requirements, pyproject.toml, BOM or venv)", directory)
    return inputs[0]


_KIND_OF = {
    ArtifactKind.ENVIRONMENT: "environment",
    ArtifactKind.REQUIREMENTS: "requirements",
    ArtifactKind.PYPROJECT: "pyproject",
    ArtifactKind.LOCKFILE: "lockfile",
    ArtifactKind.SBOM: "sbom",
}


def choose_reader(artifact: Artifact, input_type: str | None = None) -> tuple[str, Path] | None:
    """The reader of an explicit ``input_type``, or of the artifact's kind: (input type, path), or
    ``None`` for the model inventory. For a directory the manifests beside it are added by
    ``build_inventory`` (``app_inputs``)."""
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
    explicit = input_type not in (None, "auto")
    directory = artifact.path.is_dir()
    manifests = app_inputs(artifact.path) if directory and not explicit else []
    manifests, over = manifests[:MANIFEST_LIMIT], manifests[MANIFEST_LIMIT:]
    if artifact.kind == ArtifactKind.APP_DIR and manifests:
        if len(manifests) == 1 and manifests[0][0] == "sbom":  # a lone BOM keeps its author and timestamp
            return _with_unread(_read_choice(artifact, manifests[0], verify_files, files), artifact, manifests, files)
        from scanner.inventory.manifests import read_manifests

        inv = read_manifests(artifact, manifests, lambda choice: _read_choice(artifact, choice, verify_files, files))
        return _authored(_with_unread(inv, artifact, manifests, files, over), author)
    choice = choose_reader(artifact, input_type)
    if choice is None:
        from scanner.inventory.modeldir import inventory_model

        inv = inventory_model(artifact, files=files)
    else:
        inv = _read_choice(artifact, choice, verify_files, files)
        if choice[0] == "sbom":  # an ingested BOM keeps its own author and timestamp (NTIA judges it as it is)
            return inv
    # A marker (a *.dist-info folder, a model config) chose this reader; it must not hide the
    # application manifests beside it: they are read too and merged in.
    manifests = [m for m in manifests if m != choice]
    if manifests:
        from scanner.inventory.manifests import read_manifests

        inv = read_manifests(artifact, manifests, lambda c: _read_choice(artifact, c, verify_files, files), base=inv)
    if directory and not explicit and artifact.kind != ArtifactKind.ENVIRONMENT:
        inv = _with_unread(inv, artifact, manifests, files, over)
    return _authored(inv, author)


def _with_unread(
    inv: Inventory,
    artifact: Artifact,
    read: list[tuple[str, Path]],
    files: FileSet | None,
    over: list[tuple[str, Path]] | None = None,
) -> Inventory:
    """``inv`` with a finding for each manifest not read: in a sub-folder, or past
    ``MANIFEST_LIMIT`` (``manifests.unread_manifests``)."""
    from scanner.inventory.manifests import rel, unread_declarations, unread_manifests

    inv.findings.extend(
        unread_manifests(
            files if files is not None and files.is_dir else None,
            [rel(path, artifact.path) for _, path in read],
            [rel(path, artifact.path) for _, path in over or []],
        )
    )
    inv.findings.extend(unread_declarations(artifact.path, [kind for kind, _ in read + (over or [])]))
    return inv


def _read_choice(artifact: Artifact, choice: tuple[str, Path], verify_files: bool, files: FileSet | None) -> Inventory:
    kind, path = choice
    if files is not None and files.is_dir and files.declared is not None:
        from scanner.files import leaves

        if leaves(path, files.declared.resolve()):
            raise ScanError(
                f"the {kind} input is a link leaving the artifact: not read (its content is not part of the digest)",
                path,
            )
    inv = read_input(
        kind, path, verify_files=verify_files, files=files, beside=artifact.path.is_dir(), show=artifact.show
    )
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
    kind: str,
    path: Path,
    *,
    verify_files: bool = True,
    files: FileSet | None = None,
    beside: bool = True,
    show: Callable[[Path], str] = str,
) -> Inventory:
    """Read one input. ``beside`` false: the file alone is the artifact, so nothing beside it
    (a lock file's ``pyproject.toml``, a pyproject's licence file) is read — it is not in the
    digest and must not change the verdict. ``show`` names the file in outputs
    (``Artifact.show``: piped content is read from a private file and named ``stdin``)."""
    if kind == "environment":
        from scanner.inventory.environment import inventory_environment

        return inventory_environment(path, verify_files=verify_files, files=files)
    if kind == "requirements":
        from scanner.inventory.requirements import inventory_requirements

        # a file judged alone is read through the run's FileSet, which holds it and its includes
        alone = files is not None and files.reads_members and files.root == path
        return inventory_requirements(path, files=files if alone else None, show=show)
    if kind == "pyproject":
        from scanner.inventory.pyproject import inventory_pyproject

        return inventory_pyproject(path, read_beside=beside, show=show)
    if kind == "lockfile":
        from scanner.inventory.lockfiles import inventory_lockfile

        pyproject = path.parent / "pyproject.toml"
        return inventory_lockfile(path, pyproject=pyproject if beside and pyproject.is_file() else None, show=show)
    if kind == "sbom":
        from scanner.inventory.ingest import inventory_sbom

        return inventory_sbom(path, show=show)
    raise ScanError(f"inventory of a {kind} is not supported", path)
