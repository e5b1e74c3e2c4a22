"""Signatures and attestations attached to a digest, fetched once for the verifiers.

A referrer is a Sigstore bundle when its artifact type or a layer's media type is
``application/vnd.dev.sigstore.bundle…`` (cosign v3), an in-toto attestation when it is
``application/vnd.in-toto+json`` or a DSSE envelope. Each layer is fetched within a small limit and
verified against its digest while it streams, and kept in memory (``AttachedDocument.raw``): every
check that verifies it works from those bytes, and the evidence record names them by that digest
(``inputs.attached_evidence``). Nothing is written to disk and read back, where it could be
replaced between two reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.check import AttachedInput
from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget, fetch_bytes
from scanner.registry.client import Client, RegistryError
from scanner.registry.manifest import Descriptor
from scanner.registry.referrers import list_referrers

if TYPE_CHECKING:
    from scanner.verify.documents import DocumentFile

MAX_EVIDENCE = 4 << 20
MAX_REFERRERS = 256


@dataclass(frozen=True)
class AttachedDocument:
    """One signature or attestation layer of a referrer, as fetched: ``raw`` are its bytes
    (checked against ``input.layer`` while they streamed); ``source`` names it in results
    (``oci://REGISTRY/REPO@REFERRER``)."""

    input: AttachedInput
    raw: bytes = field(repr=False)

    @property
    def source(self) -> str:
        return self.input.ref

    def as_document(self) -> DocumentFile:
        """The bytes as a signature document for the verifiers (named by the layer digest)."""
        from scanner.verify.documents import DocumentFile

        hexdigest = self.input.layer.split(":", 1)[1]
        suffix = ".sigstore.json" if self.input.media_type.startswith(mt.SIGSTORE_BUNDLE_ANY) else ".intoto.json"
        return DocumentFile(Path(hexdigest[:24] + suffix), len(self.raw), hexdigest, self.raw)


@dataclass(frozen=True)
class Attached:
    """One referrer: its descriptor and, for signatures and attestations, the fetched layers."""

    descriptor: Descriptor
    kind: str  # signature | attestation | sbom | vsa | record | other
    documents: tuple[AttachedDocument, ...] = ()


def kind_of(desc: Descriptor) -> str:
    art = desc.artifact_type or ""
    if desc.annotations.get(mt.ANN_PREDICATE) == "https://slsa.dev/verification_summary/v1":
        return "vsa"
    if art.startswith(mt.SIGSTORE_BUNDLE_ANY):
        return "signature"
    if art in (mt.IN_TOTO, mt.DSSE_ENVELOPE):
        return "attestation"
    if art == mt.CYCLONEDX or art.startswith("application/spdx"):
        return "sbom"
    if art == mt.EVIDENCE_RECORD:
        return "record"
    return "other"


def listed(client: Client, repository: str, digest: str) -> list[Descriptor]:
    """The referrers of ``digest`` the gate reads: one request through the referrers API, or the
    tag-schema index where the registry has none. Their descriptors (digest, types, annotations)
    decide what ``fetch_attached`` reads. More than ``MAX_REFERRERS`` is an error, never a cut:
    anyone who may push to the repository can attach referrers, and a few hundred harmless ones
    listed first would otherwise push a signature that does not verify out of what is read."""
    found = list_referrers(client, repository, digest)
    if len(found) > MAX_REFERRERS:
        raise RegistryError(
            f"{client.registry}/{repository}@{digest}: {len(found)} referrers attached, more than the "
            f"{MAX_REFERRERS} the gate reads: the evidence about it cannot all be examined"
        )
    return found


def discover(client: Client, repository: str, digest: str, budget: Budget) -> list[Attached]:
    """Every referrer of ``digest``; signatures and attestations fetched."""
    return fetch_attached(client, repository, digest, listed(client, repository, digest), budget)


def fetch_attached(
    client: Client, repository: str, digest: str, descriptors: list[Descriptor], budget: Budget
) -> list[Attached]:
    """The referrers ``listed`` for ``digest``; signatures and attestations fetched (in memory)."""
    found: list[Attached] = []
    for desc in descriptors:
        kind = kind_of(desc)
        if kind not in ("signature", "attestation", "vsa"):
            found.append(Attached(desc, kind))
            continue
        manifest = client.get_manifest(repository, desc.digest)
        if manifest.subject is None or manifest.subject.digest != digest:
            continue  # listed under a digest it does not refer to: not evidence about this artifact
        documents = []
        ref = f"oci://{client.registry}/{repository}@{desc.digest}"
        for layer in manifest.layers:
            if not (
                layer.media_type.startswith(mt.SIGSTORE_BUNDLE_ANY)
                or layer.media_type in (mt.IN_TOTO, mt.DSSE_ENVELOPE)
            ):
                continue
            data = fetch_bytes(client, repository, layer, budget, MAX_EVIDENCE)  # checked against its digest
            read = AttachedInput(ref, desc.digest, digest, kind, layer.digest, layer.media_type, len(data))
            documents.append(AttachedDocument(read, data))
        found.append(Attached(desc, kind, tuple(documents)))
    return found
