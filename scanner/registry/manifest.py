"""Manifests and descriptors as typed data, kept with their exact bytes.

A manifest's identity is the SHA-256 of its bytes, so the bytes read are the bytes kept and
the bytes pushed: a manifest is never re-serialised once it exists. New manifests are encoded
once (compact JSON) and their digest computed from that encoding. Parsing refuses duplicate
keys (two readers could disagree on which one counts) and descriptors that are not well-formed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner import jsonfile
from scanner.errors import ScanError
from scanner.registry import mediatypes as mt

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


class ManifestError(ScanError):
    """A manifest, index or descriptor that cannot be trusted as written."""


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def encode(doc: Mapping[str, Any]) -> bytes:
    """The one encoding of manifests this tool writes."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def tag_for(digest: str) -> str:
    """The referrers tag schema: ``sha256:<hex>`` → ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, doc: Any, where: str) -> Descriptor:
        if not isinstance(doc, dict):
            raise ManifestError("descriptor is not an object", where)
        media_type, digest, size = doc.get("mediaType"), doc.get("digest"), doc.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ManifestError("descriptor without a mediaType", where)
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ManifestError(f"descriptor digest {str(digest)[:80]!r} is not sha256:<64 hex>", where)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"descriptor {digest} has no valid size", where)
        annotations = doc.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise ManifestError(f"descriptor {digest} has annotations that are not strings", where)
        artifact_type = doc.get("artifactType")
        return cls(media_type, digest, size, annotations, artifact_type if isinstance(artifact_type, str) else None)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc


@dataclass(frozen=True)
class Manifest:
    """An image manifest or an index. ``raw`` are the exact bytes; ``digest`` is theirs."""

    raw: bytes
    media_type: str
    digest: str
    doc: Mapping[str, Any]
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: Mapping[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> Descriptor:
        """How an index or a ``subject`` points at this manifest."""
        artifact_type = self.artifact_type or (self.config.media_type if self.config else None)
        if artifact_type == mt.OCI_EMPTY:
            artifact_type = None
        return Descriptor(self.media_type, self.digest, self.size, dict(annotations or {}), artifact_type)

    def blobs(self) -> tuple[Descriptor, ...]:
        """Config and layers: what must exist in a repository before the manifest can."""
        return ((self.config,) if self.config else ()) + self.layers


def parse_manifest(raw: bytes, content_type: str = "", *, where: str) -> Manifest:
    """Parse manifest bytes; the media type comes from the document, else the Content-Type."""
    try:
        doc = jsonfile.loads(raw)  # duplicate keys refused
    except RecursionError:
        raise ManifestError("manifest nested too deeply", where) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not valid JSON: {str(exc)[:120]}", where) from None
    if not isinstance(doc, dict):
        raise ManifestError("manifest is not a JSON object", where)
    media_type = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else content_type
    if media_type not in (*mt.MANIFESTS, *mt.INDEXES):
        if "manifests" in doc:
            media_type = mt.OCI_INDEX
        elif "layers" in doc:
            media_type = mt.OCI_MANIFEST
        else:
            raise ManifestError(f"unsupported manifest media type {str(media_type)[:80]!r}", where)
    if doc.get("schemaVersion") != 2:
        raise ManifestError("manifest schemaVersion is not 2", where)
    config = Descriptor.from_json(doc["config"], where) if "config" in doc else None
    layers = _descriptors(doc.get("layers"), "layers", where)
    manifests = _descriptors(doc.get("manifests"), "manifests", where)
    if media_type in mt.MANIFESTS and config is None:
        raise ManifestError("image manifest without a config descriptor", where)
    subject = Descriptor.from_json(doc["subject"], where) if doc.get("subject") is not None else None
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise ManifestError("manifest annotations are not strings", where)
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
    return Manifest(
        raw, media_type, digest_of(raw), doc, config, layers, manifests, subject, artifact_type, annotations
    )


def _descriptors(value: Any, key: str, where: str) -> tuple[Descriptor, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ManifestError(f"manifest {key} is not a list", where)
    return tuple(Descriptor.from_json(item, f"{where} {key}[{i}]") for i, item in enumerate(value))


def build_manifest(
    *,
    config: Descriptor,
    layers: list[Descriptor],
    artifact_type: str | None = None,
    subject: Descriptor | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A new OCI image manifest, encoded once."""
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = config.to_json()
    doc["layers"] = [layer.to_json() for layer in layers]
    if subject is not None:
        doc["subject"] = Descriptor(subject.media_type, subject.digest, subject.size).to_json()
    if annotations:
        doc["annotations"] = dict(annotations)
    return parse_manifest(encode(doc), where="new manifest")


def build_index(manifests: list[Descriptor], annotations: Mapping[str, str] | None = None) -> Manifest:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [m.to_json() for m in manifests],
    }
    if annotations:
        doc["annotations"] = dict(annotations)
    return parse_manifest(encode(doc), where="new index")
