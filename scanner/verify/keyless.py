"""Sigstore bundles (keyless, Fulcio certificate + Rekor entry) with sigstore-python, offline,
against a pinned trusted root. sigstore's errors become one readable line each."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanner.files import sha256_file
from scanner.verify.bundle import SignedDoc
from scanner.verify.identity import IdentityRule, RulesPolicy, certificate_identity, certificate_issuer
from scanner.verify.result import VerifyFailure
from scanner.verify.roots import verifier_for


def verify_keyless(
    doc: SignedDoc,
    artifact: Path,
    rules: Sequence[IdentityRule],
    trusted_root: Path,
    digest: str | None = None,
) -> tuple[str | None, str | None, bytes | None]:
    """Verify ``doc`` and return (identity, issuer, DSSE payload or None). A message signature
    is checked against ``digest`` (hex sha256 of the artifact as the run read it) when given,
    else against the file hashed now.

    Raises VerifyFailure with the reason and, once the certificate could be read, who signed."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    if not doc.has_certificate:
        raise VerifyFailure("bundle has no certificate (signed with a key? verify it with --key)")
    tlog = doc.material.get("tlogEntries")
    if not isinstance(tlog, list) or not tlog:
        raise VerifyFailure("bundle has no transparency log entry (a keyless signature needs one)")
    verifier = verifier_for(trusted_root)
    try:
        bundle = Bundle.from_json(doc.raw)
    except SigstoreError as exc:
        raise VerifyFailure(f"invalid bundle: {_reason(exc)}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise VerifyFailure(f"invalid bundle: {_first_line(str(exc)) or type(exc).__name__}") from None
    cert = bundle.signing_certificate
    identity, issuer = certificate_identity(cert), certificate_issuer(cert)
    try:
        if not rules:
            raise VerifyFailure(
                "no identity policy: give --cert-identity or --cert-identity-regexp with --cert-oidc-issuer "
                "(or signatures.allowed_identities in the policy data)"
            )
        policy = RulesPolicy(rules)
        try:
            if doc.envelope is not None:
                _payload_type, payload = verifier.verify_dsse(bundle, policy)
                return identity, issuer, payload
            if artifact.is_dir():
                raise VerifyFailure("a message signature signs one file, but the artifact is a directory")
            verifier.verify_artifact(_hashed(digest or sha256_file(artifact)), bundle, policy)
            return identity, issuer, None
        except SigstoreError as exc:
            raise VerifyFailure(_reason(exc)) from None
        except (ValueError, TypeError) as exc:
            raise VerifyFailure(_first_line(str(exc)) or type(exc).__name__) from None
    except VerifyFailure as failure:
        raise VerifyFailure(str(failure), identity=identity, issuer=issuer) from None


def _hashed(hexdigest: str) -> Any:
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(hexdigest))


# (what sigstore says, what we say, whether its own words add detail worth keeping)
_REWRITES = [
    (r"Bundle message digest mismatch", "artifact digest does not match the bundle (artifact changed)", False),
    (r"Signature is invalid for input", "signature does not verify over the artifact (artifact changed)", False),
    (r"DSSE: invalid signature", "DSSE signature does not verify (envelope tampered)", False),
    (r"expected exactly one log entry", "bundle has no transparency log entry (exactly one is required)", False),
    (r"inconsistent with other materials", "transparency log entry does not match the bundle's materials", False),
    (r"expired at time of signing", "signing certificate had expired when the signature was made", True),
    (
        r"not enough sources of verified time",
        "no trusted signing time: this trusted root does not know the bundle's log or timestamp authority"
        " (a staging bundle needs --staging)",
        False,
    ),
    (
        r"failed to build (timestamp )?certificate chain|failed to build chain",
        "signing certificate does not chain to the trusted root",
        True,
    ),
]


def _reason(exc: Exception) -> str:
    text = str(exc)
    for pattern, replacement, keep in _REWRITES:
        if re.search(pattern, text, re.IGNORECASE):
            return f"{replacement} ({_first_line(text)})" if keep else replacement
    if "validation error for" in text:  # pydantic dump: keep the field and its complaint
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return "; ".join(lines[1:3]) if len(lines) > 2 else lines[0]
    return _first_line(text) or type(exc).__name__


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""
