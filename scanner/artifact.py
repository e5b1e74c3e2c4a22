"""Identify an artifact: its path (normalised), its kind and its digest.

The kind only picks the inventory reader (``scanner.inventory.build``); which checks run never
depends on it. ``artifact_digest`` is the one digest function every command and report uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from scanner.core import Artifact, ArtifactKind, ScanError
from scanner.files import FileEntry, FileSet
from scanner.safeio import open_regular

LOCKFILES = {"pylock.toml", "uv.lock", "poetry.lock", "Pipfile.lock"}
APP_MANIFESTS = {"pyproject.toml", "requirements.txt", *LOCKFILES}


def lock_format(name: str) -> str | None:
    """The lock file format a file name says (``pylock.*.toml`` is a pylock.toml), or None: the
    one place a lock file is told by its name (detection, manifests of a directory, the reader)."""
    if name in LOCKFILES:
        return name
    if name.startswith("pylock.") and name.endswith(".toml"):
        return "pylock.toml"
    return None


MODEL_HINTS = {
    "config.json",
    "model_index.json",
    "saved_model.pb",
    "adapter_config.json",
    "generation_config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "MLmodel",  # MLflow: whatever else the directory holds (requirements, a skops file)
}
HEAD_BYTES = 4096  # what detection reads of a file
MODEL_SUFFIXES = {
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".joblib",
    ".gguf",
    ".onnx",
    ".h5",
    ".keras",
    ".npy",
    ".npz",
    ".pb",
    ".tflite",
    ".msgpack",
    ".mlmodel",
    ".skops",
}


def normalise(path: Path) -> Path:
    """``.``, ``./sub/..`` and other paths without a final name become absolute (a name is
    needed for the artifact); other paths are kept as given, so reports show what the user typed."""
    clean = Path(os.path.normpath(path))
    if clean.name in ("", ".", "..") or ".." in clean.parts:
        return Path(os.path.abspath(clean))
    return clean


def local_path(source: str | Path) -> Path:
    """The path a local source names, refusing what ``Path`` would silently turn into something
    else: an empty string (``Path("")`` is the working directory: an unset ``$ARTIFACT`` in CI
    would gate the checkout) and a trailing slash after a file (``weights.bin/`` names a
    directory; ``Path`` drops the slash)."""
    text = os.fspath(source)
    if text == "":
        raise ScanError("empty path: name the artifact to judge (use . for the working directory)")
    named = text.rstrip("/" + os.sep) or "/"
    if text.endswith(("/", os.sep)) and os.path.lexists(named) and not os.path.isdir(text):
        raise ScanError("not a directory (the path ends with a slash)", text)
    return Path(text)


def _short(path: Path, limit: int = 200) -> str:
    """A path for a one-line error: the start and the end of a very long one."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def file_set(
    path: Path,
    kind: ArtifactKind | None,
    *,
    input_type: str | None = None,
    after_open: Callable[[FileEntry], None] | None = None,
    show: Callable[[Path], str] = str,
) -> FileSet:
    """The FileSet of an artifact: a single file read as a requirements file (its kind, or
    ``--input-type requirements``) is that file and every file it includes (``-r``), read and
    hashed with it, so its digest covers the dependencies it names. ``show`` names its files in
    outputs (``Artifact.show``)."""
    members = None
    if kind == ArtifactKind.REQUIREMENTS or input_type == "requirements":
        from scanner.inventory.requirements import included_members

        members = included_members
    return FileSet(path, after_open=after_open, members=members, show=show)


def artifact_digest(path: Path, files: FileSet | None = None, kind: ArtifactKind | None = None) -> str:
    """``sha256:<hex>`` of a file, or of the sorted (relative path, file digest) list of a
    directory or of a requirements file and its includes (``FileSet.artifact_digest``). The
    same in every command and report; pass the run's ``files`` so each file is hashed once,
    from the descriptor its scanners read."""
    return (files if files is not None else file_set(path, kind)).artifact_digest()


def detect(
    path: Path,
    kind: ArtifactKind | None = None,
    source_ref: str | None = None,
    *,
    files: FileSet | None = None,
    digest: bool = True,
    named: bool = True,
) -> Artifact:
    """Build the Artifact for ``path``; ``kind`` overrides detection. ``digest=False`` leaves the
    digest empty (the pipeline fills it from its one pass over the files). ``named=False``: the
    file's name is not the user's (standard input saved to a private file), so the kind is
    detected from the content alone (``unnamed_kind``)."""
    path = normalise(path)
    try:
        os.lstat(path)
    except FileNotFoundError:
        raise ScanError("no such file or directory", path) from None
    except OSError as exc:  # a name longer than PATH_MAX, a file where a folder should be, ...
        raise ScanError(exc.strerror or str(exc), _short(path)) from None
    _regular_or_directory(path)
    real = None
    try:
        if kind is None:
            kind = _detect_kind(path) if named else unnamed_kind(path)
        digest_text = ""
        if digest:
            files = files if files is not None else file_set(path, kind)
            digest_text = files.artifact_digest()
            real = files.real_root if files.root == path else None  # a directory resolved already
    except PermissionError as exc:
        raise ScanError("permission denied", exc.filename or path) from None
    except OSError as exc:
        raise ScanError(exc.strerror or str(exc), exc.filename or path) from None
    name = (real or path.resolve()).name or str(path)
    return Artifact(path=path, kind=kind, name=name, digest=digest_text, source_ref=source_ref or str(path))


def _regular_or_directory(path: Path) -> None:
    """A FIFO named on the command line would block every reader forever, a device stream
    without end: only a regular file or a directory (a link to one is followed) is an artifact."""
    import stat

    from scanner.safeio import describe_mode

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ScanError(exc.strerror or str(exc), path) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ScanError(f"is a {describe_mode(mode)}, not a regular file or directory: not read", path)


def _detect_kind(path: Path) -> ArtifactKind:
    if path.is_dir():
        names = set(os.listdir(path))
        if "pyvenv.cfg" in names or any(n.endswith(".dist-info") for n in names):
            return ArtifactKind.ENVIRONMENT
        if names & MODEL_HINTS or any(Path(n).suffix in MODEL_SUFFIXES for n in names):
            return ArtifactKind.MODEL_DIR
        if names & APP_MANIFESTS or any(n.startswith("requirements") and n.endswith(".txt") for n in names):
            return ArtifactKind.APP_DIR
        return ArtifactKind.MODEL_DIR
    name = path.name
    if name == "pyproject.toml":
        return ArtifactKind.PYPROJECT
    if lock_format(name) is not None:
        return ArtifactKind.LOCKFILE
    head = _head(path)
    if _looks_like_cyclonedx(head):
        return ArtifactKind.SBOM
    if name.endswith((".txt", ".in")) and _looks_like_requirements(head):
        return ArtifactKind.REQUIREMENTS
    return ArtifactKind.MODEL_FILE


def unnamed_kind(path: Path) -> ArtifactKind:
    """The kind of a file whose name says nothing (standard input): a CycloneDX BOM, a requirements
    file when every line of its head is a requirement, a pip option or a comment
    (``looks_like_requirements``), else a model file. As for any artifact, the kind only picks the
    inventory reader: the model checks still read the bytes whatever it is (a pickle whose lines
    look like requirements is still a pickle), and text that is neither is judged as a model file,
    which has nothing to judge and is denied. ``--kind`` says what the bytes are."""
    head = _head(path)
    if _looks_like_cyclonedx(head):
        return ArtifactKind.SBOM
    if len(head) == HEAD_BYTES:  # only whole lines: the last one may go on past the head
        head = head[: head.rfind(b"\n") + 1]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ArtifactKind.MODEL_FILE
    from scanner.inventory.requirements import looks_like_requirements

    return ArtifactKind.REQUIREMENTS if "\0" not in text and looks_like_requirements(text) else ArtifactKind.MODEL_FILE


def _head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with open_regular(path, follow=True) as fh:  # never a FIFO: reading one blocks forever
        return fh.read(size)


def _looks_like_cyclonedx(head: bytes) -> bool:
    text = head.lstrip()
    if text.startswith(b"{"):
        if b'"bomFormat"' in head and b"CycloneDX" in head:
            return True
        try:
            return json.loads(head).get("bomFormat") == "CycloneDX"
        except (ValueError, AttributeError):
            return False
    return text.startswith(b"<") and b"cyclonedx.org/schema/bom" in head


def _looks_like_requirements(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\0" not in text
