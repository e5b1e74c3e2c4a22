"""Attestations of any predicate type: an in-toto Statement v1 in a DSSE envelope (signed with a
key) or in a Sigstore bundle (keyless, or key-signed). One counts only when its signature
verifies against a trusted signer AND its subject is the artifact (its digest, or every file
of it); anything else is an uncounted result with the reason.

``verify_attestation_bytes`` takes the document's bytes, so attestations discovered in a
registry (referrers of the digest) go through exactly the same checks as files given with
``--attestation``. Each file is read once (``read_attestation``: a regular file, at most 16 MiB)
and evaluated from those bytes; every result names them (``Attestation.document``: the file's
path with the sha256 and size of the bytes evaluated, or the registry layer's digest), and the
evidence record lists them (``inputs.signature_files`` / ``inputs.attached_evidence``)::

    from scanner.verify.attestation import AttestationTrust, SubjectIdentity, verify_attestation_bytes
    trust = AttestationTrust.of(keys, verify_options)         # --attestation-key, identity flags
    subject = SubjectIdentity(digest="sha256:<manifest digest>", name="registry/repo")
    for att in verify_attestation_bytes(blob, source="oci://registry/repo@sha256:…", subject=subject, trust=trust):
        att.counted, att.predicate_type, att.signer, att.reason

Trusted signers: the PEM public keys of ``--attestation-key`` (DSSE envelopes, and Sigstore
bundles that carry a public-key hint instead of a certificate); for Sigstore bundles with a
certificate, the identity rules of ``verify`` (``--cert-identity``/``-regexp`` with
``--cert-oidc-issuer``, else ``signatures.allowed_identities`` of the policy data) over the
pinned offline trusted root (``--trusted-root``/``--staging``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import ScanError
from scanner.verify.identity import IdentityRule
from scanner.verify.result import VerifyFailure

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from scanner.check import AttachedInput, InputFile
    from scanner.core import Artifact
    from scanner.evidence.baseline import Baseline
    from scanner.files import FileSet
    from scanner.registry.discover import AttachedDocument
    from scanner.verify.api import Options as VerifyApiOptions
    from scanner.verify.bundle import SignedDoc
    from scanner.verify.documents import DocumentReader

MAX_BYTES = 16 << 20
MAX_DOCUMENTS = 256  # JSON lines of signed statements in one file (each costs a verification)


@dataclass(frozen=True)
class AttestationTrust:
    """Who may sign an attestation that counts."""

    keys: tuple[Path, ...] = ()
    rules: tuple[IdentityRule, ...] = ()
    trusted_root: Path | None = None
    staging: bool = False
    signing_key: Path | None = None  # the gate's own --sign-key: its public half is trusted too

    @classmethod
    def of(cls, keys: Sequence[Path], verify: VerifyApiOptions, signing_key: Path | None = None) -> AttestationTrust:
        """``--attestation-key`` paths, the gate's own signing key (the VSAs it wrote before
        count), and the keyless identity rules and trusted root of ``verify``
        (``scanner.verify.api.Options``: identity flags, else the policy data)."""
        return cls(
            keys=tuple(keys),
            rules=verify.rules,
            trusted_root=verify.trusted_root,
            staging=verify.staging,
            signing_key=signing_key,
        )

    def public_keys(self) -> list[tuple[Path, PublicKeyTypes]]:
        """The trusted keys, loaded (ScanError naming an unreadable one)."""
        from scanner.verify.keyed import load_public_key

        keys = [(p, load_public_key(p)) for p in self.keys]
        if self.signing_key is not None:
            from scanner.evidence.vsa import load_private_key

            keys.append((self.signing_key, load_private_key(self.signing_key).public_key()))
        return keys


@dataclass(frozen=True)
class SubjectIdentity:
    """What an attestation must be about: the artifact's digest (``sha256:<hex>``), or, for a
    directory, every one of its files (relative path → sha256 hex) named with its digest."""

    digest: str
    name: str
    files: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_artifact(cls, artifact: Artifact, files: FileSet | None = None) -> SubjectIdentity:
        """The gate's artifact identity (the digest every command reports) and, for a directory,
        its files as the evidence record lists them (from the run's ``files``: each file was
        hashed once, from the bytes the checks read)."""
        listed: tuple[tuple[str, str], ...] = ()
        if Path(artifact.path).is_dir():
            from scanner.evidence.record import artifact_files

            listed = tuple(
                (f["path"], f["sha256"]) for f in artifact_files(Path(artifact.path), files) if f.get("sha256")
            )
        return cls(digest=artifact.digest, name=artifact.name, files=listed)

    def matches(self, subjects: Sequence[Mapping[str, Any]]) -> bool:
        algorithm, _, value = self.digest.partition(":")
        for s in subjects:
            if str(s["digest"].get(algorithm, "")).lower() == value:
                return True
        if not self.files:
            return False
        named = {}
        for s in subjects:
            name = s.get("name")
            if isinstance(name, str):
                named[name.removeprefix("./")] = str(s["digest"].get("sha256", "")).lower()
        return all(named.get(path) == digest for path, digest in self.files)


@dataclass
class Attestation:
    """One verified (or refused) attestation. ``counted`` only when the signer is trusted and
    the subject is the artifact; ``reason`` says why not otherwise. ``summary`` is the
    predicate as the policy sees it (``scanner.evidence.predicates``). ``document`` names the
    bytes it was evaluated from (a file read once, or a layer attached in a registry); it is
    not part of the policy-input entry."""

    source: str
    envelope: str  # "dsse" or "sigstore-bundle"
    counted: bool = False
    predicate_type: str | None = None
    signer: str | None = None
    signer_kind: str | None = None  # "key" or "keyless"
    issuer: str | None = None
    reason: str | None = None
    problem: str | None = None  # finding id when not counted
    statement: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    document: InputFile | AttachedInput | None = None

    @property
    def result(self) -> str | None:
        value = self.summary.get("result")
        return value if isinstance(value, str) else None

    def to_entry(self) -> dict[str, Any]:
        """The entry the policy input and the evidence record carry."""
        return {
            "source": self.source,
            "envelope": self.envelope,
            "counted": self.counted,
            "predicate_type": self.predicate_type,
            "signer": self.signer,
            "signer_kind": self.signer_kind,
            "issuer": self.issuer,
            "reason": self.reason,
            **self.summary,
        }

    def refuse(self, problem: str, reason: str) -> Attestation:
        self.counted, self.problem, self.reason = False, problem, reason
        return self


UNTRUSTED = "ATTESTATION-UNTRUSTED"
SUBJECT = "ATTESTATION-SUBJECT-MISMATCH"
INVALID = "ATTESTATION-INVALID"


def read_attestation(path: Path, reader: DocumentReader | None = None) -> tuple[bytes, InputFile]:
    """``path`` read once (a regular file, not a link, at most 16 MiB; ScanError otherwise): its
    bytes, and their sha256 and size for the evidence record. With the run's ``reader``
    (``scanner.verify.documents``) a file the signature or provenance checks read is not read
    again: the same bytes are evaluated."""
    import os

    from scanner.safeio import NotRegularFile, TooLarge
    from scanner.verify.documents import DocumentReader

    if os.path.islink(path):
        raise NotRegularFile("is a symlink: not read", path)
    document = (reader or DocumentReader()).read(path)
    if document.too_large:
        raise TooLarge(f"attestation is larger than {MAX_BYTES} bytes: not read", path)
    return document.raw, document.input


def verify_attestation_file(
    path: Path, *, subject: SubjectIdentity, trust: AttestationTrust, reader: DocumentReader | None = None
) -> list[Attestation]:
    """Read ``path`` once (``read_attestation``) and verify each document in it, from those bytes."""
    data, read = read_attestation(path, reader)
    results = verify_attestation_bytes(data, source=str(path), subject=subject, trust=trust)
    for att in results:
        att.document = read
    return results


def verify_attestation_bytes(
    data: bytes, *, source: str, subject: SubjectIdentity, trust: AttestationTrust
) -> list[Attestation]:
    """Verify every document in ``data`` (JSON, or JSON lines of several). Never raises for
    bad content: each result says whether it counted and why not. ScanError only when a trusted
    key or the trusted root itself cannot be used (the run cannot complete)."""
    from scanner.verify.bundle import parse_documents

    keys = trust.public_keys()  # an unusable trusted key stops the run, whatever the document
    try:
        docs = parse_documents(data, Path(source))
    except VerifyFailure as failure:
        return [Attestation(source=source, envelope="unknown").refuse(INVALID, f"not an attestation: {failure}")]
    if len(docs) > MAX_DOCUMENTS:
        reason = f"{len(docs)} documents in one file, more than the {MAX_DOCUMENTS} read: none verified"
        return [Attestation(source=source, envelope="unknown").refuse(INVALID, reason)]
    return [_verify_one(doc, subject, trust, keys, f"{source}:{doc.line}" if doc.line else source) for doc in docs]


def _verify_one(
    doc: SignedDoc,
    subject: SubjectIdentity,
    trust: AttestationTrust,
    keys: list[tuple[Path, PublicKeyTypes]],
    where: str,
) -> Attestation:
    from scanner.evidence.predicates import PredicateError, summarize
    from scanner.verify.api import peek_predicate
    from scanner.verify.statement import describe_subjects, parse_statement

    att = Attestation(source=where, envelope="dsse" if doc.kind == "envelope" else "sigstore-bundle")
    att.predicate_type = peek_predicate(doc)
    if doc.envelope is None:
        return att.refuse(INVALID, "a message signature, not an attestation (no in-toto statement inside)")
    try:
        payload = _verify_signature(doc, att, trust, keys)
    except VerifyFailure as failure:
        att.signer = failure.identity or att.signer
        att.issuer = failure.issuer or att.issuer
        return att.refuse(UNTRUSTED, f"signature not trusted: {failure}")
    try:
        stmt = parse_statement(payload)
    except VerifyFailure as failure:
        return att.refuse(INVALID, str(failure))
    att.statement = stmt
    att.predicate_type = stmt["predicateType"]
    if not subject.matches(stmt["subject"]):
        return att.refuse(
            SUBJECT,
            f"not about this artifact ({subject.digest[:19]}…): its subjects are {describe_subjects(stmt)}",
        )
    try:
        att.summary = summarize(stmt)
    except PredicateError as exc:
        return att.refuse(INVALID, str(exc))
    att.counted = True
    return att


def _verify_signature(
    doc: SignedDoc, att: Attestation, trust: AttestationTrust, keys: list[tuple[Path, PublicKeyTypes]]
) -> bytes:
    """The verified DSSE payload; fills the signer. VerifyFailure when no trusted signer signed."""
    from scanner.verify.keyed import key_hint, verify_envelope

    envelope = doc.envelope
    assert envelope is not None
    if doc.kind == "bundle" and doc.has_certificate:
        from scanner.verify.keyless import verify_keyless
        from scanner.verify.roots import trusted_root_path

        root = trusted_root_path(staging=trust.staging, override=trust.trusted_root)
        identity, issuer, payload = verify_keyless(doc, Path(att.source), trust.rules, root)
        att.signer, att.issuer, att.signer_kind = identity, issuer, "keyless"
        if payload is None:
            raise VerifyFailure("the bundle holds no DSSE statement")
        return payload
    if not keys:
        raise VerifyFailure("signed with a key, and no --attestation-key is trusted")
    for path, key in keys:
        try:
            payload = verify_envelope(key, envelope)
        except VerifyFailure:
            continue
        att.signer, att.signer_kind = f"key:sha256:{key_hint(key)[:16]} ({path.name})", "key"
        return payload
    raise VerifyFailure(f"the DSSE signature verifies with none of the {len(keys)} trusted key(s)")


def check_documents(
    documents: Sequence[AttachedDocument],
    files: Sequence[Path],
    *,
    subject: SubjectIdentity,
    trust: AttestationTrust,
    reader: DocumentReader | None = None,
) -> list[Attestation]:
    """Every attestation of ``files`` (each path read once, however often it is named, through
    the run's ``reader`` when given) then of ``documents`` (attached in a registry, held as the
    bytes checked against their digest), verified."""
    import os

    out: list[Attestation] = []
    named: dict[str, Path] = {}
    for p in files:
        named.setdefault(os.path.abspath(p), Path(p))  # each file once, as first named
    for path in named.values():
        if not path.exists():
            raise ScanError("attestation not found", path)
        out.extend(verify_attestation_file(path, subject=subject, trust=trust, reader=reader))
    for document in documents:
        results = verify_attestation_bytes(document.raw, source=document.source, subject=subject, trust=trust)
        for att in results:
            att.document = document.input
        out.extend(results)
    return out


@dataclass(frozen=True)
class AttestationOptions:
    """The typed options of ``--attestation``/``--attestation-key``/``--model-name`` (the click
    decorator is ``scanner.cli.evidence_options.attestation_options``), for ``gate`` and
    ``promote``. ``documents`` are attestations attached in a registry (referrers of the
    digest, as fetched: ``scanner.registry.discover.AttachedDocument``); ``ledger`` is where the
    baseline is looked up (none: no ledger baseline); ``baseline`` replaces that lookup
    (registry mode: ``vsa_baseline``)."""

    files: tuple[Path, ...] = ()
    keys: tuple[Path, ...] = ()
    model_name: str | None = None
    documents: tuple[AttachedDocument, ...] = ()
    ledger: Path | None = None
    baseline: Baseline | None = None
    signing_key: Path | None = None

    @classmethod
    def from_flags(cls, values: Mapping[str, Any], *, ledger: Path | None = None) -> AttestationOptions:
        """From the decorator's values (``attestation``, ``attestation_key``, ``model_name``) and
        the gate's ``sign_key`` (the gate trusts the VSAs it signed itself)."""
        sign_key = values.get("sign_key")
        return cls(
            files=tuple(Path(p) for p in values.get("attestation") or ()),
            keys=tuple(Path(p) for p in values.get("attestation_key") or ()),
            model_name=values.get("model_name") or None,
            ledger=ledger,
            signing_key=Path(sign_key) if sign_key else None,
        )
