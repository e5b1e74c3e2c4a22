"""One entry point for ``scanner verify`` and the gate's checks: find the signature documents of
an artifact and verify each with the right method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import jsonfile
from scanner.errors import ScanError
from scanner.files import FileSet
from scanner.verify.bundle import SignedDoc, b64, file_documents
from scanner.verify.coverage import exempt, require_alone
from scanner.verify.identity import GITHUB_ISSUER, IdentityRule
from scanner.verify.result import DSSE_KEY, SIGSTORE, SignatureResult, VerifyFailure
from scanner.verify.roots import trusted_root_path
from scanner.verify.statement import not_a_subject, parse_statement, subject_match

if TYPE_CHECKING:
    from scanner.options import VerifyOptions
    from scanner.verify.documents import DocumentFile, DocumentReader

VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"


@dataclass(frozen=True)
class Options:
    """How to verify: identity rules for keyless bundles, the trusted root, or a managed key
    (``key``) or certificate chain (``cert_chain``, model signatures only)."""

    rules: tuple[IdentityRule, ...] = ()
    trusted_root: Path | None = None
    staging: bool = False
    key: Path | None = None
    cert_chain: tuple[Path, ...] = ()

    @property
    def root(self) -> Path:
        return trusted_root_path(staging=self.staging, override=self.trusted_root)

    @classmethod
    def from_options(cls, options: VerifyOptions, policy_data: Mapping[str, Any] | None = None) -> Options:
        """Identity options when given, else ``signatures.allowed_identities`` of the policy data."""
        rule = rule_from_flags(
            identity=options.cert_identity,
            identity_regexp=options.cert_identity_regexp,
            issuer=options.cert_oidc_issuer,
            github_repository=options.github_repository,
            github_ref=options.github_ref,
            github_trigger=options.github_trigger,
            github_sha=options.github_sha,
        )
        rules = (rule,) if rule else policy_rules(policy_data or {})
        return cls(
            rules=rules,
            trusted_root=options.trusted_root,
            staging=options.staging,
            key=options.key,
            cert_chain=options.cert_chain,
        )


def rule_from_flags(**flags: str | None) -> IdentityRule | None:
    """The rule the identity flags describe, or None when none was given. GitHub claims imply
    GitHub's OIDC issuer."""
    if not any(flags.values()):
        return None
    if flags.get("identity") and flags.get("identity_regexp"):
        raise ScanError("give --cert-identity or --cert-identity-regexp, not both")
    github = any(flags.get(k) for k in ("github_repository", "github_ref", "github_trigger", "github_sha"))
    if not flags.get("issuer") and github:
        flags["issuer"] = GITHUB_ISSUER
    try:
        rule = IdentityRule(**flags)
    except ValueError as exc:
        raise ScanError(str(exc)) from None
    if not rule.constrains_signer:
        raise ScanError("name the signer: --cert-identity, --cert-identity-regexp or --github-repository")
    if not rule.issuer:
        raise ScanError("--cert-oidc-issuer is required with --cert-identity/--cert-identity-regexp")
    return rule


def policy_rules(policy_data: Mapping[str, Any]) -> tuple[IdentityRule, ...]:
    conf = ((policy_data.get("scanner") or {}).get("config") or {}).get("signatures") or {}
    entries = conf.get("allowed_identities") or [] if isinstance(conf, Mapping) else []
    rules = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ScanError(f"policy data: signatures.allowed_identities[{i}] is not an object")
        try:
            rule = IdentityRule.from_policy(entry)
        except ValueError as exc:
            raise ScanError(f"policy data: signatures.allowed_identities[{i}]: {exc}") from None
        if not rule.constrains_signer:
            raise ScanError(f"policy data: signatures.allowed_identities[{i}] names no identity")
        rules.append(rule)
    return tuple(rules)


def verify_artifact(
    artifact: Path,
    bundle: Path,
    opts: Options,
    files: FileSet | None = None,
    *,
    reader: DocumentReader | None = None,
) -> list[SignatureResult]:
    """One result per signed document in ``bundle``. Unreadable files raise ScanError; anything
    wrong with the content is a failed result with its reason. ``files`` is the run's FileSet:
    subjects are compared with the digests of the bytes the run read, and a statement about a
    directory counts only when it covers every file (``scanner.verify.coverage``). ``reader`` is
    the run's reader of signature files (``scanner.verify.documents``): ``bundle`` is read once
    per run, and each result names the bytes it verified (``SignatureResult.document``)."""
    from scanner.verify.documents import DocumentReader

    if not artifact.exists():
        raise ScanError("no such file or directory", artifact)
    if files is None:
        files = FileSet(artifact)
    if reader is None:
        reader = DocumentReader(files)
    return verify_document(artifact, reader.read(bundle), opts, files, reader=reader)


def verify_document(
    artifact: Path,
    source: DocumentFile,
    opts: Options,
    files: FileSet | None = None,
    *,
    reader: DocumentReader | None = None,
) -> list[SignatureResult]:
    """``verify_artifact`` of a signature document already read (``source``: a file the run's
    reader read, or a layer attached in a registry, held as the bytes checked against its
    digest): one result per signed document in it, each naming ``source`` as the bytes it
    verified."""
    from scanner.verify.documents import DocumentReader

    if files is None:
        files = FileSet(artifact)
    if reader is None:
        reader = DocumentReader(files)
    bundle = source.path
    exempted = exempt(artifact, [bundle, *reader.discover(artifact)]) if files.is_dir else set()
    try:
        docs = file_documents(source)
    except VerifyFailure as failure:
        kind = DSSE_KEY if opts.key else SIGSTORE
        failed = SignatureResult(kind, str(artifact), str(bundle), document=source.input)
        return [failed.fail(str(failure))]
    if artifact.is_dir() and len(docs) == 1 and peek_predicate(docs[0]) == "https://model_signing/signature/v1.0":
        from scanner.verify.modelsig import verify_model

        return [
            verify_model(
                artifact,
                bundle,
                key=opts.key,
                cert_chain=opts.cert_chain,
                rules=opts.rules,
                trusted_root=opts.root,
                files=files,
                exempted=exempted,
                source=source,
            )
        ]
    results = [verify_doc(doc, artifact, opts, files, exempted) for doc in docs]
    for result in results:
        result.document = source.input
    return results


def verify_doc(
    doc: SignedDoc, artifact: Path, opts: Options, files: FileSet | None = None, exempted: set[str] | None = None
) -> SignatureResult:
    kind = DSSE_KEY if opts.key and doc.envelope is not None else SIGSTORE
    result = SignatureResult(kind, str(artifact), doc.where)
    walked = walked_digest(files)
    try:
        if opts.key is not None:
            from scanner.verify.keyed import load_public_key
            from scanner.verify.keyed import verify_doc as verify_keyed

            payload = verify_keyed(load_public_key(opts.key), doc, artifact, walked)
        elif doc.kind == "envelope":
            raise VerifyFailure("a DSSE envelope carries no certificate: verify it with --key")
        else:
            from scanner.verify.keyless import verify_keyless

            result.identity, result.issuer, payload = verify_keyless(doc, artifact, opts.rules, opts.root, walked)
        result.signature_ok = True
        if payload is None:
            require_alone(files)  # a message signature saw the named file's bytes only
        else:
            stmt = parse_statement(payload)
            result.statement = stmt
            if subject_match(stmt, artifact, files, exempted) is None:
                raise VerifyFailure(not_a_subject(stmt, artifact, files))
            if stmt["predicateType"] == VSA_PREDICATE:
                outcome = (stmt.get("predicate") or {}).get("verificationResult")
                result.details.append(f"verification summary: {outcome}")
                if outcome != "PASSED":
                    raise VerifyFailure(f"the verification summary records verificationResult {outcome!r}")
    except VerifyFailure as failure:
        result.identity = failure.identity or result.identity
        result.issuer = failure.issuer or result.issuer
        result.unsigned = failure.unsigned
        return result.fail(str(failure))
    result.verified = True
    return result


def walked_digest(files: FileSet | None) -> str | None:
    """Hex sha256 of a single-file artifact as the run's pass over its files read it (what its
    digest is made of), for a message signature to be checked against those bytes rather than
    the file as it is by now; None for a directory."""
    if files is None or files.is_dir:
        return None
    entries = files.entries
    if not entries or not entries[0].readable:
        return None
    return files.digest(entries[0]).sha256


def peek_predicate(doc: SignedDoc) -> str | None:
    """The predicateType of a document's DSSE statement, read without verifying anything."""
    env = doc.envelope
    if env is None:
        return None
    try:
        stmt = jsonfile.loads(b64(env.get("payload"), "payload"))
    except (VerifyFailure, ValueError, RecursionError):
        return None
    value = stmt.get("predicateType") if isinstance(stmt, dict) else None
    return value if isinstance(value, str) else None
