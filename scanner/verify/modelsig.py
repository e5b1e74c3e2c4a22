"""OpenSSF model signatures (model-signing): a Sigstore bundle whose DSSE statement lists the
digest of every file of a model directory.

The key and certificate-chain methods run model-signing's own verifier. The Sigstore method
verifies the bundle with sigstore-python against our pinned trusted root and identity rules
(``keyless``), then hashes the directory with model-signing. Either way the hashing
configuration is read from the signed manifest (model-signing writes ``blake2b`` where its
config wants ``blake2``), the signature file itself is ignored when it sits inside the model,
and a mismatch is explained in plain words from the signed manifest vs the files on disk.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.files import FileSet
from scanner.verify.bundle import SignedDoc, b64, file_documents
from scanner.verify.coverage import require_full
from scanner.verify.identity import IdentityRule, certificate_identity, certificate_issuer
from scanner.verify.result import MODEL_SIGNING, SignatureResult, VerifyFailure
from scanner.verify.statement import parse_statement

if TYPE_CHECKING:
    from scanner.verify.documents import DocumentFile

PREDICATE_TYPES = ("https://model_signing/signature/v1.0",)
_ALGORITHMS = {"sha256": "sha256", "blake2b": "blake2", "blake2": "blake2", "blake3": "blake3"}


@dataclass(frozen=True)
class SignedManifest:
    method: str  # "files" or "shards"
    hash_type: str  # model-signing's name: sha256, blake2, blake3
    shard_size: int | None
    allow_symlinks: bool
    ignore_paths: tuple[str, ...]
    digests: dict[str, str]  # identifier (path, or path:start:end for shards) → hex digest


def read_manifest(stmt: dict[str, Any]) -> SignedManifest:
    if stmt["predicateType"] not in PREDICATE_TYPES:
        raise VerifyFailure(f"not a model signature (predicateType {stmt['predicateType']!r})")
    pred = stmt.get("predicate")
    ser = pred.get("serialization") if isinstance(pred, dict) else None
    resources = pred.get("resources") if isinstance(pred, dict) else None
    if not isinstance(ser, dict) or not isinstance(resources, list):
        raise VerifyFailure("model signature has no serialization or resources")
    method, hash_type = ser.get("method"), _ALGORITHMS.get(str(ser.get("hash_type")))
    if method not in ("files", "shards"):
        raise VerifyFailure(f"unknown model serialization method {method!r}")
    if hash_type is None:
        raise VerifyFailure(f"unknown model hashing algorithm {ser.get('hash_type')!r}")
    digests = {}
    for r in resources:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not isinstance(r.get("digest"), str):
            raise VerifyFailure("model signature has a malformed resource entry")
        digests[r["name"]] = r["digest"].lower()
    shard_size = ser.get("shard_size")
    return SignedManifest(
        method=method,
        hash_type=hash_type,
        shard_size=int(shard_size) if method == "shards" and shard_size else None,
        allow_symlinks=bool(ser.get("allow_symlinks", False)),
        ignore_paths=tuple(str(p) for p in ser.get("ignore_paths") or ()),
        digests=digests,
    )


def verify_model(
    model_dir: Path,
    signature: Path,
    *,
    key: Path | None = None,
    cert_chain: Sequence[Path] = (),
    rules: Sequence[IdentityRule] = (),
    trusted_root: Path | None = None,
    files: FileSet | None = None,
    exempted: set[str] | None = None,
    source: DocumentFile | None = None,
) -> SignatureResult:
    """Verify a model directory against its model-signing signature (key, certificate chain, or
    else Sigstore with ``rules``); never raises VerifyFailure: the result carries the reason.
    The signed manifest must name every file of the directory as the run read it (``files``;
    ``exempted``: the signature documents inside it) — a file the signer left out
    (``ignore_paths``) or added since is named in ``unsigned``. ``source`` is ``signature`` as
    the run read it (read here when not given): every step, model-signing's own verifier too,
    works from those bytes."""
    from scanner.verify.documents import read_file

    if source is None:
        source = read_file(signature)
    result = SignatureResult(MODEL_SIGNING, str(model_dir), str(signature), document=source.input)
    try:
        docs = file_documents(source)
        if len(docs) != 1 or docs[0].kind != "bundle" or docs[0].envelope is None:
            raise VerifyFailure("a model signature must be one Sigstore bundle holding a DSSE envelope")
        doc = docs[0]
        env = doc.envelope
        assert env is not None
        stmt = parse_statement(b64(env["payload"], "DSSE payload"))
        manifest = read_manifest(stmt)
        result.identity, result.issuer = _signer(doc)
        if key is not None or cert_chain:
            _verify_with_library(model_dir, signature, source.raw, manifest, key, cert_chain)
        else:
            _verify_sigstore(model_dir, signature, doc, manifest, rules, trusted_root, result)
        files = files if files is not None else FileSet(model_dir)
        require_full(files, signed_files(manifest.digests), exempted)
        as_walked(manifest, files)
    except VerifyFailure as failure:
        result.identity = failure.identity or result.identity
        result.issuer = failure.issuer or result.issuer
        result.unsigned = failure.unsigned
        return result.fail(str(failure))
    result.verified = result.signature_ok = True
    result.statement = stmt
    return result


def as_walked(manifest: SignedManifest, files: FileSet) -> None:
    """The model's files verified against the signed manifest are the bytes the run hashed for
    the artifact's digest: model-signing hashes the directory again, by name, so a file replaced
    between the run's pass and that hashing would have its digest recorded as signed. Checked
    where the manifest's digests are sha256 of whole files (model-signing's default); with
    blake2/blake3 or shards the two cannot be compared (``docs/verify.md``, Limits)."""
    from scanner.files import FileChanged

    if manifest.method != "files" or manifest.hash_type != "sha256":
        return
    walked = {e.rel: e for e in files.entries if e.readable}
    changed = sorted(
        rel for rel, digest in manifest.digests.items() if rel in walked and files.digest(walked[rel]).sha256 != digest
    )
    if changed:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise FileChanged(f"was changed while the artifact was being read ({shown})", files.root)


def _signer(doc: SignedDoc) -> tuple[str | None, str | None]:
    """Identity and issuer of the bundle's leaf certificate, if it has one (unverified here)."""
    from cryptography import x509

    vm = doc.material
    raw = (vm.get("certificate") or {}).get("rawBytes")
    if raw is None:
        chain = (vm.get("x509CertificateChain") or {}).get("certificates") or [{}]
        raw = chain[0].get("rawBytes") if isinstance(chain[0], dict) else None
    if not raw:
        return None, None
    try:
        cert = x509.load_der_x509_certificate(b64(raw, "certificate"))
    except (ValueError, VerifyFailure):
        raise VerifyFailure("bundle certificate is not a valid X.509 certificate") from None
    identity = certificate_identity(cert) or cert.subject.rfc4514_string() or None
    return identity, certificate_issuer(cert)


def _verify_with_library(
    model_dir: Path,
    signature: Path,
    raw: bytes,
    manifest: SignedManifest,
    key: Path | None,
    cert_chain: Sequence[Path],
) -> None:
    """model-signing's verifier over ``raw`` (the signature's bytes as the run read them): it
    reads a signature by path only, so it is given a private copy of those bytes, never the
    file beside the model again (which could have been swapped since)."""
    from model_signing import verifying

    config = verifying.Config().set_hashing_config(_hashing_config(manifest, model_dir, signature))
    if key is not None:
        config.use_elliptic_key_verifier(public_key=key)
    else:
        config.use_certificate_verifier(certificate_chain=list(cert_chain))
    try:
        with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory(prefix="scanner-sig-") as private:
            copy = Path(private) / "model.sig"  # (the library prints warnings on stdout)
            copy.write_bytes(raw)
            config.verify(model_dir, copy)
    except ValueError as exc:
        if str(exc).startswith("Signature mismatch"):
            raise mismatch(manifest.digests, hash_model(model_dir, signature, manifest)) from None
        raise VerifyFailure(_library_reason(exc, key)) from None
    except Exception as exc:  # InvalidSignature, x509 chain errors, protobuf parse errors, OSError
        raise VerifyFailure(_library_reason(exc, key)) from None


def _library_reason(exc: Exception, key: Path | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if type(exc).__name__ == "InvalidSignature" or not text:
        who = "the given key" if key is not None else "the given certificate chain"
        return f"model signature does not verify with {who} (wrong key or tampered signature)"
    if type(exc).__name__ == "X509StoreContextError":
        return f"signing certificate does not chain to the given CA certificates ({text})"
    if "Key mismatch" in text:
        return "model was signed with a different key (the signature's key hint does not match the given key)"
    return f"model signature does not verify: {text}"


def _verify_sigstore(
    model_dir: Path,
    signature: Path,
    doc: SignedDoc,
    manifest: SignedManifest,
    rules: Sequence[IdentityRule],
    trusted_root: Path | None,
    result: SignatureResult,
) -> None:
    from scanner.verify.keyless import verify_keyless
    from scanner.verify.roots import trusted_root_path

    if not doc.has_certificate:
        raise VerifyFailure("model signature was made with a key: verify it with --key")
    identity, issuer, payload = verify_keyless(doc, model_dir, rules, trusted_root or trusted_root_path())
    result.identity, result.issuer = identity, issuer
    assert payload is not None
    signed = read_manifest(parse_statement(payload))
    actual = hash_model(model_dir, signature, signed)
    if actual != signed.digests:
        raise mismatch(signed.digests, actual)


def _hashing_config(manifest: SignedManifest, model_dir: Path, signature: Path) -> Any:
    from model_signing import hashing

    config = hashing.Config()
    if manifest.method == "shards":
        config.use_shard_serialization(
            hashing_algorithm=manifest.hash_type,  # type: ignore[arg-type]
            shard_size=manifest.shard_size or 1_000_000_000,
            allow_symlinks=manifest.allow_symlinks,
        )
    else:
        config.use_file_serialization(
            hashing_algorithm=manifest.hash_type,  # type: ignore[arg-type]
            allow_symlinks=manifest.allow_symlinks,
        )
    ignored = list(manifest.ignore_paths)
    with contextlib.suppress(ValueError):
        ignored.append(signature.resolve().relative_to(model_dir.resolve()).as_posix())
    return config.set_ignored_paths(paths=ignored, ignore_git_paths=False)


def hash_model(model_dir: Path, signature: Path, manifest: SignedManifest) -> dict[str, str]:
    """identifier → hex digest of the directory as it is now, hashed like the signer did."""
    try:
        actual = _hashing_config(manifest, model_dir, signature).hash(model_dir)
    except ValueError as exc:  # e.g. a symlink when the signature did not allow them
        raise VerifyFailure(f"cannot hash the model like its signer did: {str(exc).strip()}") from None
    except OSError as exc:
        raise VerifyFailure(f"cannot read the model: {exc.strerror or exc} ({exc.filename})") from None
    return {rd.identifier: rd.digest.digest_hex for rd in actual.resource_descriptors()}


def explain_mismatch(model_dir: Path, signature: Path, manifest: SignedManifest) -> str:
    return describe_diff(*diff_manifests(manifest.digests, hash_model(model_dir, signature, manifest)))


def mismatch(expected: dict[str, str], actual: dict[str, str]) -> VerifyFailure:
    """The failure for a directory that differs from its signed manifest; files added since
    signing are also named as unsigned."""
    changed, missing, added = diff_manifests(expected, actual)
    return VerifyFailure(describe_diff(changed, missing, added), unsigned=added)


def signed_files(digests: dict[str, str]) -> set[str]:
    """The file paths a manifest signs (shard identifiers ``path:start:end`` folded)."""
    return {ident.rsplit(":", 2)[0] if ident.count(":") >= 2 else ident for ident in digests}


def diff_manifests(expected: dict[str, str], actual: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(changed, missing, added) file paths; shard identifiers are folded into their file."""

    def by_file(digests: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
        files: dict[str, list[tuple[str, str]]] = {}
        for ident, digest in digests.items():
            path = ident.rsplit(":", 2)[0] if ident.count(":") >= 2 else ident
            files.setdefault(path, []).append((ident, digest))
        return {p: sorted(v) for p, v in files.items()}

    exp, act = by_file(expected), by_file(actual)
    changed = sorted(p for p in exp.keys() & act.keys() if exp[p] != act[p])
    return changed, sorted(exp.keys() - act.keys()), sorted(act.keys() - exp.keys())


def describe_diff(changed: list[str], missing: list[str], added: list[str]) -> str:
    parts = []
    for label, paths in (("changed", changed), ("missing", missing), ("added", added)):
        if paths:
            shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
            parts.append(f"{len(paths)} file{'s' if len(paths) != 1 else ''} {label} ({shown})")
    if not parts:
        return "model files do not match the signed manifest"
    return "model does not match its signature: " + "; ".join(parts)
