"""``scanner push``: a local artifact into a registry, one layer per file.

A model (directory or file) becomes a CNCF ModelPack artifact: manifest ``artifactType``
``application/vnd.cncf.model.manifest.v1+json``, config ``application/vnd.cncf.model.config.v1+json``
with the descriptor (name, version, licences) taken from the ML-BOM, and one ``.raw`` layer per file
carrying its path in ``org.cncf.model.filepath``. Anything else is a generic artifact with an
``artifactType`` naming its kind and one layer per file named by ``org.opencontainers.image.title``.

What is pushed is what ``scanner gate PATH`` judges (``local_artifact``): for a requirements file
judged alone, the file and every file it includes with ``-r`` (paths relative to its folder, the
manifest naming the file in ``dev.scanner.named-file``), so the pulled copy has the local gate's
artifact digest and verdict. Each file is uploaded from the descriptor its digest was taken from.

The layer media type (weight, weight config, doc, code) only labels the file for other tools;
what is checked after a pull is decided by content, never by these labels.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.core import Artifact
from scanner.errors import ScanError
from scanner.files import DANGLING, DIR_LINK, ESCAPES, LOOP, FileEntry, FileSet
from scanner.registry import mediatypes as mt
from scanner.registry.blobs import push_bytes
from scanner.registry.client import Client
from scanner.registry.manifest import Descriptor, Manifest, build_manifest, encode
from scanner.registry.reference import Reference

WEIGHT_SUFFIXES = {
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".gguf", ".onnx",
    ".h5", ".keras", ".npy", ".npz", ".pb", ".tflite", ".msgpack", ".mlmodel", ".skops", ".dduf",
}  # fmt: skip
DOC_SUFFIXES = {".md", ".rst", ".pdf", ".html"}  # .txt is mostly tokenizer data (vocab, merges)
DOC_NAMES = {"LICENSE", "LICENCE", "NOTICE", "README", "COPYING"}
CODE_SUFFIXES = {".py", ".ipynb", ".sh", ".js", ".ts", ".go", ".rs", ".c", ".cpp", ".h"}
DATASET_SUFFIXES = {".parquet", ".csv", ".tsv", ".jsonl", ".arrow"}


@dataclass(frozen=True)
class PushResult:
    reference: Reference
    digest: str
    artifact_type: str
    files: int
    bytes_uploaded: int

    @property
    def pinned(self) -> str:
        return f"{self.reference}@{self.digest}"


def local_artifact(path: Path) -> tuple[Artifact, FileSet]:
    """The artifact ``scanner gate PATH`` judges, and its FileSet: kind by content, and for a
    requirements file judged alone, the file and every file it includes (``artifact.file_set``).
    An include the gate would refuse (outside the file's folder, a link, a FIFO, missing) stops the
    push with the gate's own error, raised while the FileSet lists its members."""
    from scanner.artifact import detect, file_set, local_path

    artifact = detect(local_path(path), digest=False)
    return artifact, file_set(artifact.path, artifact.kind)


_NOT_PUSHED = {
    ESCAPES: "symlink leads out of the artifact",
    DANGLING: "dangling symlink",
    LOOP: "symlink loop",
    DIR_LINK: "symlink to a folder of the artifact",
}


def _refuse(entry: FileEntry) -> ScanError:
    """An entry the gate lists but does not read (it is a finding there): a registry artifact holds
    regular files only, so its copy would not be what was judged."""
    what = _NOT_PUSHED.get(entry.problem or "") or f"is a {entry.detail}, not a regular file"
    return ScanError(f"{what}: not pushed (the registry copy would not be the artifact judged)", entry.path)


def model_layer_type(rel: str) -> str:
    p = PurePosixPath(rel)
    suffix, stem = p.suffix.lower(), p.name.split(".")[0].upper()
    if suffix in WEIGHT_SUFFIXES:
        return mt.MODEL_WEIGHT
    if suffix in CODE_SUFFIXES:
        return mt.MODEL_CODE
    if suffix in DATASET_SUFFIXES:
        return mt.MODEL_DATASET
    if suffix in DOC_SUFFIXES or stem in DOC_NAMES:
        return mt.MODEL_DOC
    return mt.MODEL_WEIGHT_CONFIG


def _is_model(artifact: Artifact) -> tuple[bool, str]:
    """(is a model, kind label). Kind only picks the packaging, as it picks the inventory reader."""
    from scanner.artifact import MODEL_SUFFIXES

    path = artifact.path
    if path.is_file() and path.suffix.lower() == ".whl":
        return False, "wheel"
    if path.is_file():
        return path.suffix.lower() in MODEL_SUFFIXES, artifact.kind.value
    return artifact.kind.is_model, artifact.kind.value


def model_descriptor(artifact: Artifact, files: FileSet) -> dict[str, Any]:
    """ModelPack ``descriptor`` from the ML-BOM's model component (name, version, licences); the
    file hashes come from ``files`` (already read for the upload)."""
    from scanner.inventory.modeldir import inventory_model

    inv = inventory_model(artifact, files=files)
    root = inv.root
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    desc: dict[str, Any] = {"name": root.name if root else artifact.path.name, "createdAt": created}
    if root and root.version:
        desc["version"] = root.version
    if root and root.licenses:
        desc["licenses"] = list(root.licenses)
    if root and root.supplier:
        desc["vendor"] = root.supplier
    return desc


def _model_format(layers: list[Descriptor]) -> str:
    suffixes = {PurePosixPath(layer.annotations[mt.ANN_TITLE]).suffix.lower().lstrip(".") for layer in layers}
    for fmt in ("safetensors", "gguf", "onnx", "pt", "bin", "h5", "keras", "pkl", "joblib", "npz", "tflite"):
        if fmt in suffixes:
            return fmt
    return ""


def push(path: Path, ref: Reference, client: Client) -> PushResult:
    """Upload exactly the files ``scanner gate PATH`` judges (``local_artifact``), each from the
    descriptor its digest was taken from (``FileSet.open_each``: never reopened by name; the
    registry refuses bytes that do not hash to it, and a file changed meanwhile stops the push),
    skipping blobs the repository already holds; then the manifest's exact bytes under the tag.
    Every file keeps its path relative to the artifact, so the pulled copy has the artifact digest
    the local gate has. Returns the manifest digest."""
    artifact, files = local_artifact(path)
    is_model, kind = _is_model(artifact)
    repo = ref.repository
    before = client.bytes_out
    # listed before anything is uploaded: a requirements file's includes are found here (the
    # gate's errors), and what a registry artifact cannot hold stops the push
    unread = next((entry for entry in files.entries if not entry.readable), None)
    if unread is not None:
        raise _refuse(unread)
    if files.empty_folders:
        raise ScanError(
            f"empty folder {files.empty_folders[0]!r}: not pushed (a registry artifact holds files only, "
            "and the folder counts in the artifact judged)",
            artifact.path,
            hint="remove the empty folder, or put a file in it",
        )
    layers: list[Descriptor] = []
    for entry, opened in files.open_each():
        if opened is None:
            raise _refuse(entry)
        digest = "sha256:" + opened.digest.sha256
        media_type = model_layer_type(entry.rel) if is_model else mt.GENERIC_FILE
        annotations = {mt.ANN_TITLE: entry.rel}
        if is_model:
            annotations = {mt.ANN_FILEPATH: entry.rel, **annotations}
        if not client.blob_exists(repo, digest):
            client.upload_blob(repo, digest, opened.size, opened.fh)
        layers.append(Descriptor(media_type, digest, opened.size, annotations))
    if not layers:
        raise ScanError("nothing to push: no files", artifact.path)
    if is_model:
        config_doc = {
            "descriptor": model_descriptor(artifact, files),
            "config": {"format": _model_format(layers)},
            "modelfs": {"type": "layers", "diffIds": [layer.digest for layer in layers]},
        }
        config = push_bytes(client, repo, encode(config_doc), mt.MODEL_CONFIG)
        artifact_type = mt.MODEL_MANIFEST_ARTIFACT
        annotations = {mt.ANN_CREATED: config_doc["descriptor"]["createdAt"]}
        if config_doc["descriptor"].get("version"):
            annotations[mt.ANN_VERSION] = config_doc["descriptor"]["version"]
    else:
        config = push_bytes(client, repo, mt.EMPTY_JSON, mt.OCI_EMPTY)
        artifact_type = f"application/vnd.scanner.artifact.{kind}.v1"
        annotations = {mt.ANN_CREATED: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if files.members():  # a file its reader reads others with: which one was named
        annotations[mt.ANN_NAMED_FILE] = files.entries[0].rel
    manifest: Manifest = build_manifest(
        config=config, layers=layers, artifact_type=artifact_type, annotations=annotations
    )
    client.put_manifest(repo, ref.reference, manifest)
    return PushResult(ref, manifest.digest, artifact_type, len(layers), client.bytes_out - before)


def describe(result: PushResult) -> str:
    return json.dumps({"reference": result.pinned, "artifactType": result.artifact_type, "files": result.files})
