"""Blob bytes: fetched within a budget and verified while they stream, or moved between
repositories without passing through here at all (cross-repository mount).

A blob is trusted only after its bytes hashed to the digest its descriptor names and their count
matched the descriptor's size; a blob that runs past its size is cut off at once (a registry
cannot make us read more than the manifest promised, and the manifest's sizes are charged to the
budget before anything is fetched)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from scanner.errors import ScanError
from scanner.registry.client import CHUNK, Client, RegistryError
from scanner.registry.manifest import Descriptor


class BlobMismatch(RegistryError):
    """The bytes served are not the bytes the descriptor names."""


class Budget:
    """The most bytes one artifact may bring (``--max-artifact-size``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, size: int, what: str) -> None:
        if self.used + size > self.limit:
            raise ScanError(
                f"{what}: the artifact is larger than --max-artifact-size ({self.limit} bytes): not fetched"
            )
        self.used += size


def _verified_chunks(client: Client, repository: str, desc: Descriptor) -> Iterator[bytes]:
    """The blob's bytes as they arrive; raises ``BlobMismatch`` past the size or at the end."""
    hasher = hashlib.sha256()
    seen = 0
    response = client.open_blob(repository, desc.digest)
    with response:
        for chunk in response.iter_content(CHUNK):
            seen += len(chunk)
            if seen > desc.size:
                raise BlobMismatch(
                    f"{client.registry}/{repository}: blob {desc.digest} is larger than its {desc.size} bytes"
                )
            hasher.update(chunk)
            client.bytes_in += len(chunk)
            yield chunk
    if seen != desc.size:
        raise BlobMismatch(f"{client.registry}/{repository}: blob {desc.digest} has {seen} bytes, expected {desc.size}")
    if "sha256:" + hasher.hexdigest() != desc.digest:
        raise BlobMismatch(
            f"{client.registry}/{repository}: blob {desc.digest} does not match its digest "
            f"(got sha256:{hasher.hexdigest()[:16]}…): refused"
        )


class ChunkStream:
    """A file-like view of verified chunks with a known length, so the upload is one streamed
    request with a ``Content-Length`` (not chunked transfer encoding)."""

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._pos = 0
        self.len = size

    def __len__(self) -> int:
        return self.len

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (fewer at a chunk boundary); b"" at the end."""
        if self._pos >= len(self._buffer):
            self._buffer, self._pos = next(self._chunks, b""), 0
        if n < 0:
            n = len(self._buffer)
        data = self._buffer[self._pos : self._pos + n]
        self._pos += len(data)
        return data


def fetch_to_file(client: Client, repository: str, desc: Descriptor, dest: Path, budget: Budget) -> None:
    """Stream the blob into a new private file ``dest`` (never an existing path or a link)."""
    budget.charge(desc.size, f"{client.registry}/{repository}@{desc.digest}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(dest, flags, 0o600)
    except OSError as exc:
        raise ScanError(f"cannot create {dest.name}: {exc.strerror or exc}", dest) from None
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _verified_chunks(client, repository, desc):
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def fetch_bytes(client: Client, repository: str, desc: Descriptor, budget: Budget, limit: int) -> bytes:
    """A small blob (config, signature bundle) in memory, refused above ``limit``."""
    if desc.size > limit:
        raise ScanError(f"{client.registry}/{repository}: blob {desc.digest} is {desc.size} bytes, over {limit}")
    budget.charge(desc.size, f"{client.registry}/{repository}@{desc.digest}")
    return b"".join(_verified_chunks(client, repository, desc))


def ensure_blob(src: Client, src_repo: str, dst: Client, dst_repo: str, desc: Descriptor) -> str:
    """Make ``desc`` exist in ``dst_repo``: ``present`` already, ``mounted`` (same registry, no bytes
    moved), or ``copied`` (streamed from the source and verified on the way; the target registry
    checks the digest too)."""
    if dst.blob_exists(dst_repo, desc.digest):
        return "present"
    same_registry = src.registry == dst.registry and src.scheme == dst.scheme
    if same_registry and dst.mount_blob(dst_repo, src_repo, desc.digest):
        return "mounted"
    dst.upload_blob(dst_repo, desc.digest, desc.size, ChunkStream(_verified_chunks(src, src_repo, desc), desc.size))
    return "copied"


def push_bytes(
    client: Client, repository: str, data: bytes, media_type: str, annotations: dict[str, str] | None = None
) -> Descriptor:
    """Upload a small in-memory blob (skipped when the registry already holds it)."""
    desc = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), annotations or {})
    if not client.blob_exists(repository, desc.digest):
        client.upload_blob(repository, desc.digest, desc.size, data)
    return desc
