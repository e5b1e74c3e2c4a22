"""Rebuild an artifact's file tree from its manifest, in a private directory.

Reads CNCF ModelPack (``org.cncf.model.filepath``), generic and oras artifacts
(``org.opencontainers.image.title``), KitOps ModelKits and Docker model artifacts. Every name is
checked before anything is written: absolute paths, ``..``, empty or odd components, two layers
claiming one path (or a file where another needs a directory) and layers that declare themselves
links are refused (exit 2). The whole artifact's declared size is charged to the budget before the
first byte is fetched, and every blob is verified while it streams.

Layers that are tarballs (ModelPack ``.tar`` layers, KitOps layers, Docker ``.tar`` layers) are kept
as the tar file they are: the model checks read inside archives by content, so nothing is ever
unpacked to disk.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scanner import jsonfile
from scanner.errors import ScanError
from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget, fetch_bytes, fetch_to_file
from scanner.registry.client import Client
from scanner.registry.manifest import Descriptor, Manifest

MAX_LAYERS = 10_000
MAX_PATH = 4096
MAX_COMPONENT = 255
MAX_CONFIG = 4 << 20
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_TAR_SUFFIX = {"": ".tar", "+gzip": ".tar.gz", "+zstd": ".tar.zst"}
_DOCKER_SUFFIX = {"gguf": ".gguf", "safetensors": ".safetensors", "license": ".txt", "mmproj": ".gguf", "dduf": ".dduf"}


class UnsafePath(ScanError):
    """A layer's path would land outside the tree, clash with another, or is a link."""


@dataclass(frozen=True)
class PulledFile:
    rel: str
    path: Path
    digest: str
    size: int
    media_type: str


def artifact_format(manifest: Manifest) -> str:
    """``modelpack``, ``kitops``, ``docker-model``, ``oci-image`` or ``generic`` (what the layers are)."""
    config_type = manifest.config.media_type if manifest.config else ""
    if manifest.artifact_type == mt.MODEL_MANIFEST_ARTIFACT or config_type == mt.MODEL_CONFIG:
        return "modelpack"
    if config_type.startswith(mt.KITOPS_PREFIX) or any(
        layer.media_type.startswith(mt.KITOPS_PREFIX) for layer in manifest.layers
    ):
        return "kitops"
    if config_type.startswith(mt.DOCKER_AI_PREFIX):
        return "docker-model"
    if config_type in ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"):
        return "oci-image"
    return "generic"


def safe_rel(name: str, where: str) -> str:
    """A relative POSIX path that stays inside the tree, or ``UnsafePath``."""
    if not name or len(name) > MAX_PATH or _BAD_CHARS.search(name):
        raise UnsafePath(f"layer path {name[:80]!r} is empty, too long or has control characters: refused", where)
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/"):
        raise UnsafePath(f"layer path {name[:80]!r} is absolute: refused", where)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise UnsafePath(f"layer path {name[:80]!r} leaves the artifact (path traversal): refused", where)
    if any(len(p.encode()) > MAX_COMPONENT for p in parts):
        raise UnsafePath(f"layer path {name[:80]!r} has a component over {MAX_COMPONENT} bytes: refused", where)
    return "/".join(parts)


def _declared_link(desc: Descriptor) -> bool:
    meta = desc.annotations.get("org.cncf.model.file.metadata+json")
    if not meta:
        return False
    try:
        flag = jsonfile.loads(meta).get("typeflag")
    except (ValueError, AttributeError):
        return False
    return flag in (49, 50, "1", "2")  # tar hard link / symlink


def layer_name(desc: Descriptor, fmt: str) -> str | None:
    """The path a layer declares, or a name derived from its media type and digest."""
    for key in (mt.ANN_FILEPATH, mt.ANN_TITLE):
        value = desc.annotations.get(key)
        if value is not None:
            return value
    short = desc.digest.split(":", 1)[1][:12]
    media = desc.media_type
    if fmt == "kitops" and media.startswith(mt.KITOPS_PREFIX):
        role, _, rest = media[len(mt.KITOPS_PREFIX) :].partition(".v1")
        return f"{role}-{short}" + _TAR_SUFFIX.get(rest.removeprefix(".tar"), ".tar")
    if fmt == "docker-model" and media.startswith(mt.DOCKER_AI_PREFIX):
        role = media[len(mt.DOCKER_AI_PREFIX) :].split(".")[0]
        suffix = ".tar" if media.endswith(".tar") else _DOCKER_SUFFIX.get(role, "")
        return f"{role}-{short}{suffix}"
    return None


def _with_tar_suffix(rel: str, media: str) -> str:
    """A tarball layer keeps a name that says it is one."""
    if ".tar" not in media:
        return rel
    suffix = ".tar.gz" if media.endswith("+gzip") else ".tar.zst" if media.endswith("+zstd") else ".tar"
    return rel if rel.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst")) else rel + suffix


def plan(manifest: Manifest, where: str) -> list[tuple[str, Descriptor]]:
    """(relative path, layer) for every layer, checked for traversal, links and clashes."""
    if manifest.is_index:
        raise ScanError("is an index of several manifests: name one of them by digest", where)
    if len(manifest.layers) > MAX_LAYERS:
        raise ScanError(f"has {len(manifest.layers)} layers, more than {MAX_LAYERS}", where)
    fmt = artifact_format(manifest)
    if fmt == "oci-image":
        raise ScanError("is a container image (filesystem layers); push the model or files as an artifact", where)
    taken: dict[str, str] = {}
    dirs: set[str] = set()
    out: list[tuple[str, Descriptor]] = []
    for i, desc in enumerate(manifest.layers):
        name = layer_name(desc, fmt)
        if name is None:
            name = f"layer-{i:04d}-{desc.digest.split(':', 1)[1][:12]}"
        rel = (
            _with_tar_suffix(safe_rel(name, where), desc.media_type)
            if fmt in ("modelpack", "kitops", "docker-model")
            else safe_rel(name, where)
        )
        if _declared_link(desc):
            raise UnsafePath(f"layer {rel!r} declares a link: refused", where)
        if rel in taken or rel in dirs:
            raise UnsafePath(f"two layers claim the path {rel!r}: refused", where)
        parents = {"/".join(rel.split("/")[:k]) for k in range(1, rel.count("/") + 1)}
        if parents & taken.keys():
            raise UnsafePath(f"layer {rel!r} needs a directory where another layer is a file: refused", where)
        taken[rel] = desc.digest
        dirs |= parents
        out.append((rel, desc))
    return out


def pull_tree(
    client: Client, repository: str, manifest: Manifest, root: Path, budget: Budget
) -> tuple[list[PulledFile], bytes]:
    """Fetch config and layers into ``root`` (an empty private directory); returns the files and
    the config's bytes (verified like every blob)."""
    where = f"{client.registry}/{repository}@{manifest.digest}"
    layout = plan(manifest, where)
    total = sum(d.size for d in manifest.blobs())
    if budget.used + total > budget.limit:
        raise ScanError(
            f"declares {total} bytes of blobs, over --max-artifact-size ({budget.limit} bytes): not fetched", where
        )
    config = b""
    if manifest.config is not None and manifest.config.size:
        config = fetch_bytes(client, repository, manifest.config, budget, MAX_CONFIG)
    files: list[PulledFile] = []
    for rel, desc in layout:
        dest = root.joinpath(*rel.split("/"))
        os.makedirs(dest.parent, mode=0o700, exist_ok=True)
        fetch_to_file(client, repository, desc, dest, budget)
        files.append(PulledFile(rel, dest, desc.digest, desc.size, desc.media_type))
    return files, config


def model_name(manifest: Manifest, config: bytes) -> str | None:
    """The ModelPack descriptor's name, when the config says one (display only)."""
    if manifest.config is None or manifest.config.media_type != mt.MODEL_CONFIG:
        return None
    try:
        name = jsonfile.loads(config).get("descriptor", {}).get("name")
    except (ValueError, AttributeError, RecursionError):
        return None
    return name if isinstance(name, str) else None
