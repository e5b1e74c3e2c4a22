"""What decides a verdict on an ``oci://`` artifact, learnt without pulling it.

The manifest digest commits to every file of the artifact, but not to what is attached to it:
signatures, provenance, attestations and verification summaries are separate manifests that
refer to it (OCI referrers), and they can be added or removed while the digest stays. So the
identity of a registry artifact, as far as a verdict goes, is the pair

- the manifest digest the reference resolves to now (a tag that moves gives another one), and
- a digest of the referrer descriptors the gate reads for it (``discover.listed``: the same
  request the gate makes before it fetches the attached evidence). A referrer is a manifest
  named by its digest, so its descriptor commits to its content; the descriptor's types and
  annotations decide how the gate reads it, so they count too.

``resolve`` asks the registry (the manifest, then the referrers listing: no blob is fetched);
``of_pulled`` computes the same identity from an artifact already pulled, from the descriptors
its evidence was actually read from, so a verdict is always filed under what it was made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.registry.manifest import Descriptor

if TYPE_CHECKING:
    from scanner.options import RegistryOptions
    from scanner.registry.source import PulledArtifact


@dataclass(frozen=True)
class RemoteIdentity:
    """``digest``: the manifest digest; ``referrers``: the digest of the listed referrers;
    ``count``: how many were listed."""

    digest: str
    referrers: str
    count: int

    def __str__(self) -> str:
        return f"{self.digest}+referrers:{self.referrers}"


def referrers_digest(descriptors: Sequence[Descriptor]) -> str:
    """Order-free: the gate reads every listed referrer, whatever order the registry lists them."""
    docs = sorted(json.dumps(d.to_json(), sort_keys=True, separators=(",", ":")) for d in descriptors)
    return "sha256:" + hashlib.sha256(("[" + ",".join(docs) + "]").encode()).hexdigest()


def resolve(ref: str, options: RegistryOptions) -> RemoteIdentity:
    """The identity ``ref`` (``oci://REGISTRY/REPO:TAG`` or ``@sha256:…``) has now. Raises
    ``RegistryError`` (a ``ScanError``) when the registry cannot answer."""
    from scanner.registry.client import Client
    from scanner.registry.discover import listed
    from scanner.registry.reference import parse_reference

    reference = parse_reference(ref, require="tag-or-digest")
    client = Client(reference.registry, options)
    manifest = client.get_manifest(reference.repository, reference.reference)  # checked against its digest
    descriptors = listed(client, reference.repository, manifest.digest)
    return RemoteIdentity(manifest.digest, referrers_digest(descriptors), len(descriptors))


def of_pulled(pulled: PulledArtifact) -> RemoteIdentity:
    return RemoteIdentity(pulled.digest, referrers_digest(pulled.referrers), len(pulled.referrers))
