"""Signatures and attestations attached to a digest, fetched as files for the verifiers.

A referrer is a Sigstore bundle when its artifact type or a layer's media type is
``application/vnd.dev.sigstore.bundle…`` (cosign v3), an in-toto attestation when it is
``application/vnd.in-toto+json`` or a DSSE envelope. Each layer is fetched within a small limit and
verified against its digest, then written to ``dest`` under a name made from its digest (never
from registry-supplied text)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget, fetch_bytes
from scanner.registry.client import Client
from scanner.registry.manifest import Descriptor
from scanner.registry.referrers import list_referrers

MAX_EVIDENCE = 4 << 20
MAX_REFERRERS = 256


@dataclass(frozen=True)
class Attached:
    """One referrer: its descriptor and, for signatures and attestations, the fetched files."""

    descriptor: Descriptor
    kind: str  # signature | attestation | sbom | vsa | record | other
    files: tuple[Path, ...] = ()


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
    """The referrers of ``digest`` the gate reads (the first ``MAX_REFERRERS`` listed): one
    request through the referrers API, or the tag-schema index where the registry has none.
    Their descriptors (digest, types, annotations) decide what ``fetch_attached`` reads."""
    return list_referrers(client, repository, digest)[:MAX_REFERRERS]


def discover(client: Client, repository: str, digest: str, dest: Path, budget: Budget) -> list[Attached]:
    """Every referrer of ``digest``; signatures and attestations fetched into ``dest``."""
    return fetch_attached(client, repository, digest, listed(client, repository, digest), dest, budget)


def fetch_attached(
    client: Client, repository: str, digest: str, descriptors: list[Descriptor], dest: Path, budget: Budget
) -> list[Attached]:
    """The referrers ``listed`` for ``digest``; signatures and attestations fetched into ``dest``."""
    found: list[Attached] = []
    for desc in descriptors:
        kind = kind_of(desc)
        if kind not in ("signature", "attestation", "vsa"):
            found.append(Attached(desc, kind))
            continue
        manifest = client.get_manifest(repository, desc.digest)
        if manifest.subject is None or manifest.subject.digest != digest:
            continue  # listed under a digest it does not refer to: not evidence about this artifact
        files = []
        for layer in manifest.layers:
            if not (
                layer.media_type.startswith(mt.SIGSTORE_BUNDLE_ANY)
                or layer.media_type in (mt.IN_TOTO, mt.DSSE_ENVELOPE)
            ):
                continue
            data = fetch_bytes(client, repository, layer, budget, MAX_EVIDENCE)
            suffix = ".sigstore.json" if layer.media_type.startswith(mt.SIGSTORE_BUNDLE_ANY) else ".intoto.json"
            path = dest / (layer.digest.split(":", 1)[1][:24] + suffix)
            dest.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_bytes(data)
            files.append(path)
        found.append(Attached(desc, kind, tuple(files)))
    return found
