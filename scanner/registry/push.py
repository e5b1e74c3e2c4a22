"""``scanner push``: a local artifact into a registry, one layer per file.

A model (directory or file) becomes a CNCF ModelPack artifact: manifest ``artifactType``
``application/vnd.cncf.model.manifest.v1+json``, config ``application/vnd.cncf.model.config.v1+json``
with the descriptor (name, version, licences) taken from the ML-BOM, and one ``.raw`` layer per file
carrying its path in ``org.cncf.model.filepath``. Anything else is a generic artifact with an
``artifactType`` naming its kind and one layer per file named by ``org.opencontainers.image.title``.

The layer media type (weight, weight config, doc, code) only labels the file for other tools;
what is checked after a pull is decided by content, never by these labels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.errors import ScanError
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
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    rel: str
    path: Path
    size: int
    digest: str


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


def collect(path: Path) -> list[LocalFile]:
    """Every file of the artifact, hashed once; links inside the tree are followed, links out of
    it and special files refuse the push (the registry copy would not be what was scanned)."""
    from scanner.files import walk
    from scanner.safeio import open_regular

    if not path.exists():
        raise ScanError("no such file or directory", path)
    files: list[LocalFile] = []
    for entry in walk(path):
        if entry.escapes:
            raise ScanError("symlink leads out of the artifact: not pushed", entry.path)
        with open_regular(entry.path, follow=entry.is_symlink) as fh:
            hasher, size = hashlib.sha256(), 0
            while chunk := fh.read(HASH_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        files.append(LocalFile(entry.rel, entry.path, size, "sha256:" + hasher.hexdigest()))
    if not files:
        raise ScanError("nothing to push: no files", path)
    return files


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


def _is_model(path: Path) -> tuple[bool, str]:
    """(is a model, kind label). Kind only picks the packaging, as it picks the inventory reader."""
    from scanner.artifact import MODEL_SUFFIXES, detect

    if path.is_file() and path.suffix.lower() == ".whl":
        return False, "wheel"
    kind = detect(path).kind
    if path.is_file():
        return path.suffix.lower() in MODEL_SUFFIXES, kind.value
    return kind.is_model, kind.value


def model_descriptor(path: Path) -> dict[str, Any]:
    """ModelPack ``descriptor`` from the ML-BOM's model component (name, version, licences)."""
    from scanner.artifact import detect
    from scanner.inventory.modeldir import inventory_model

    inv = inventory_model(detect(path))
    root = inv.root
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    desc: dict[str, Any] = {"name": root.name if root else path.name, "createdAt": created}
    if root and root.version:
        desc["version"] = root.version
    if root and root.licenses:
        desc["licenses"] = list(root.licenses)
    if root and root.supplier:
        desc["vendor"] = root.supplier
    return desc


def _model_format(files: list[LocalFile]) -> str:
    suffixes = {PurePosixPath(f.rel).suffix.lower().lstrip(".") for f in files}
    for fmt in ("safetensors", "gguf", "onnx", "pt", "bin", "h5", "keras", "pkl", "joblib", "npz", "tflite"):
        if fmt in suffixes:
            return fmt
    return ""


def push(path: Path, ref: Reference, client: Client) -> PushResult:
    """Upload the files (skipping blobs the repository already holds), then the manifest's exact
    bytes under the tag. Returns the manifest digest."""
    from scanner.safeio import open_regular

    files = collect(path)
    is_model, kind = _is_model(path)
    repo = ref.repository
    before = client.bytes_out
    layers: list[Descriptor] = []
    for f in files:
        media_type = model_layer_type(f.rel) if is_model else mt.GENERIC_FILE
        annotations = {mt.ANN_TITLE: f.rel}
        if is_model:
            annotations = {mt.ANN_FILEPATH: f.rel, **annotations}
        if not client.blob_exists(repo, f.digest):
            with open_regular(f.path, follow=True) as fh:
                client.upload_blob(repo, f.digest, f.size, fh)
        layers.append(Descriptor(media_type, f.digest, f.size, annotations))
    if is_model:
        config_doc = {
            "descriptor": model_descriptor(path),
            "config": {"format": _model_format(files)},
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
    manifest: Manifest = build_manifest(
        config=config, layers=layers, artifact_type=artifact_type, annotations=annotations
    )
    client.put_manifest(repo, ref.reference, manifest)
    return PushResult(ref, manifest.digest, artifact_type, len(files), client.bytes_out - before)


def describe(result: PushResult) -> str:
    return json.dumps({"reference": result.pinned, "artifactType": result.artifact_type, "files": result.files})
