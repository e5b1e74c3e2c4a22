"""An ``oci://`` source for the pipeline: resolve once, pull into a private directory, discover
what is attached.

``open_source(ref, workdir, options)`` is the whole contract: the tag is resolved to a digest once
and everything after uses the digest; the files land under ``workdir`` (the caller owns and removes
it) in a fresh ``0700`` directory; the identity of what is judged is the manifest digest in its
repository (``PulledArtifact.ref``), which commits to every file's digest.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget
from scanner.registry.client import Client
from scanner.registry.discover import Attached, AttachedDocument, fetch_attached, listed
from scanner.registry.manifest import Descriptor, Manifest
from scanner.registry.options import RegistryOptions
from scanner.registry.pull import PulledFile, artifact_format, model_name, pull_tree
from scanner.registry.reference import Reference, parse_reference

if TYPE_CHECKING:
    from scanner.pipeline import Outcome


@dataclass(frozen=True)
class PulledArtifact:
    """``root``: the rebuilt tree (the single file itself when the artifact is one top-level file).
    ``repository``: ``registry/repo``. ``digest``: the manifest digest. ``ref``: ``oci://…@digest``.
    ``signatures``/``attestations``: Sigstore bundles and in-toto/DSSE documents attached to the
    digest, fetched once and held as the bytes checked against their layer digests
    (``registry.discover.AttachedDocument``); ``summaries``: verification summaries (VSAs) of
    earlier promotions. ``manifest_file``: the manifest's exact bytes, the
    file a signature over the digest signs. ``referrers``: the descriptors listed for the digest
    when it was pulled (what ``attached`` was read from; see ``registry.identity``)."""

    root: Path
    repository: str
    digest: str
    ref: str
    reference: Reference
    manifest: Manifest
    format: str
    name: str
    files: tuple[PulledFile, ...]
    manifest_file: Path
    signatures: tuple[AttachedDocument, ...] = ()
    attestations: tuple[AttachedDocument, ...] = ()
    summaries: tuple[AttachedDocument, ...] = ()
    attached: tuple[Attached, ...] = field(default_factory=tuple)
    referrers: tuple[Descriptor, ...] = ()
    bytes_fetched: int = 0


def open_source(ref: str, workdir: Path, options: RegistryOptions) -> PulledArtifact:
    """Pull ``ref`` (``oci://REGISTRY/REPO:TAG`` or ``@sha256:…``) into ``workdir``."""
    reference = parse_reference(ref, require="tag-or-digest")
    client = Client(reference.registry, options)
    return pull_source(client, reference, workdir, options)


def pull_source(client: Client, reference: Reference, workdir: Path, options: RegistryOptions) -> PulledArtifact:
    """``open_source`` with a client the caller keeps (promotion reuses its session)."""
    manifest = client.get_manifest(reference.repository, reference.reference)
    pinned = reference.at(manifest.digest)
    workdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="oci-", dir=workdir))  # mode 0700
    tree = base / "tree"
    tree.mkdir(mode=0o700)
    budget = Budget(options.max_bytes)
    budget.charge(manifest.size, str(pinned))
    files, config = pull_tree(client, reference.repository, manifest, tree, budget)
    manifest_file = base / "manifest.json"
    manifest_file.write_bytes(manifest.raw)
    referrers = listed(client, reference.repository, manifest.digest)
    attached = fetch_attached(client, reference.repository, manifest.digest, referrers, budget)
    root = judged_root(manifest, files, tree)
    return PulledArtifact(
        root=root,
        repository=pinned.name,
        digest=manifest.digest,
        ref=str(pinned),
        reference=pinned,
        manifest=manifest,
        format=artifact_format(manifest),
        name=model_name(manifest, config) or reference.repository.rsplit("/", 1)[-1],
        files=tuple(files),
        manifest_file=manifest_file,
        signatures=tuple(d for a in attached if a.kind == "signature" for d in a.documents),
        attestations=tuple(d for a in attached if a.kind == "attestation" for d in a.documents),
        summaries=tuple(d for a in attached if a.kind == "vsa" for d in a.documents),
        attached=tuple(attached),
        referrers=tuple(referrers),
        bytes_fetched=budget.used,
    )


def judged_root(manifest: Manifest, files: list[PulledFile], tree: Path) -> Path:
    """What is judged: the file itself when the artifact is one top-level file; the top-level file
    the manifest says it was pushed as (``dev.scanner.named-file``: a requirements file pushed with
    its includes), which is judged as that file again; else the tree. A manifest says this of
    itself, so the pipeline judges the named file only when its reader reads every other file of
    the artifact with it, and the whole tree otherwise (``pipeline._pulled_files``)."""
    if len(files) == 1 and "/" not in files[0].rel:
        return files[0].path
    named = manifest.annotations.get(mt.ANN_NAMED_FILE)
    return next((f.path for f in files if f.rel == named and "/" not in f.rel), tree)


def describe_pulled(outcome: Outcome, pulled: PulledArtifact) -> None:
    """The record names a pulled artifact by its pinned reference and says where it came from.
    (Its files are named inside the artifact where they are read: ``Artifact.shown``.)"""
    artifact = outcome.record.get("artifact")
    if isinstance(artifact, dict):
        artifact["path"] = pulled.ref
        artifact["source"] = {"ref": pulled.ref, "format": pulled.format, "model": pulled.name}
