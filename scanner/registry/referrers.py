"""OCI 1.1 referrers: what is attached to a manifest digest, and attaching more.

Through the referrers API where the registry answers it; otherwise through the tag schema — an
image index tagged ``sha256-<hex>`` listing the referring manifests, as cosign and oras write it.
The index is read, extended and written back, never replaced by ours alone: every entry already
listed (a cosign signature, another tool's SBOM) stays. Distribution has no conditional PUT, so
after writing, the index is read again and the write repeated if a concurrent writer dropped an entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import push_bytes
from scanner.registry.client import Client, NotFound, RegistryError
from scanner.registry.manifest import Descriptor, Manifest, build_index, build_manifest, tag_for

ATTEMPTS = 4


def list_referrers(client: Client, repository: str, digest: str) -> list[Descriptor]:
    """Every manifest whose ``subject`` is ``digest`` (as the registry or the tag index lists it)."""
    index = client.referrers(repository, digest)
    if index is not None:
        return list(index.manifests)
    index = _tag_index(client, repository, digest)
    return list(index.manifests) if index is not None else []


def _tag_index(client: Client, repository: str, digest: str, *, writing: bool = False) -> Manifest | None:
    """The tag-schema index, or None when the tag does not exist. A tag of that name holding
    something else is ignored when reading and refused when writing (never overwritten)."""
    try:
        found = client.get_manifest(repository, tag_for(digest))
    except NotFound:
        return None
    if found.is_index:
        return found
    if writing:
        raise RegistryError(
            f"{client.registry}/{repository}: tag {tag_for(digest)} holds a {found.media_type}, not a referrers "
            "index: not overwritten"
        )
    return None


def attach(client: Client, repository: str, referrer: Manifest) -> None:
    """Store ``referrer`` (a manifest with a ``subject``) and make it listed for its subject."""
    if referrer.subject is None:
        raise RegistryError(f"{client.registry}: referrer {referrer.digest} has no subject")
    client.put_manifest(repository, referrer.digest, referrer)
    subject = referrer.subject.digest
    if client.referrers(repository, subject) is not None:
        return  # the registry indexes referrers itself
    entry = referrer.descriptor(referrer.annotations)
    for _ in range(ATTEMPTS):
        current = _tag_index(client, repository, subject, writing=True)
        listed = list(current.manifests) if current is not None else []
        if any(d.digest == entry.digest for d in listed):
            return
        updated = build_index([*listed, entry], current.annotations if current is not None else None)
        client.put_manifest(repository, tag_for(subject), updated)
        now = _tag_index(client, repository, subject)
        now_digests = {d.digest for d in now.manifests} if now is not None else set()
        if entry.digest in now_digests and {d.digest for d in listed} <= now_digests:
            return
    raise RegistryError(f"{client.registry}/{repository}: the referrers index of {subject} keeps changing")


def build_referrer(
    client: Client,
    repository: str,
    subject: Descriptor,
    artifact_type: str,
    layers: list[tuple[bytes, str]],
    annotations: Mapping[str, str],
) -> Manifest:
    """Upload the layer blobs and an empty config; return the referrer manifest (not yet stored)."""
    config = push_bytes(client, repository, mt.EMPTY_JSON, mt.OCI_EMPTY)
    descs = [push_bytes(client, repository, data, media) for data, media in layers]
    return build_manifest(
        config=config, layers=descs, artifact_type=artifact_type, subject=subject, annotations=annotations
    )
