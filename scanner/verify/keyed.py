"""Verification with a managed key (a PEM public key instead of a Fulcio certificate).

sigstore-python rejects a bundle without a certificate, so this is our own code on top of
``cryptography``: DSSE (PAE over payload type and payload, any one signature must verify) and
message signatures (ECDSA/RSA over the artifact's SHA-256, Ed25519 over its bytes). Transparency
log entries, when a key-signed bundle carries any, are not checked: trust comes from the key."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import ScanError
from scanner.files import sha256_file
from scanner.verify.bundle import SignedDoc, b64
from scanner.verify.result import VerifyFailure

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

ED25519_MAX_BYTES = 512 << 20
KEY_MAX_BYTES = 1 << 20


def load_public_key(path: Path) -> PublicKeyTypes:
    from cryptography.hazmat.primitives import serialization

    from scanner.safeio import read_bounded

    if not path.exists():
        raise ScanError("public key not found", path)
    data = read_bounded(path, KEY_MAX_BYTES, what="public key", follow=True)
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return serialization.load_der_public_key(data)
        except ValueError:
            raise ScanError("not a PEM or DER public key", path) from None
    except Exception as exc:  # unsupported algorithms raise UnsupportedAlgorithm
        raise ScanError(f"unsupported public key: {exc}", path) from None


def key_hint(key: PublicKeyTypes) -> str:
    """SHA-256 of the PEM SubjectPublicKeyInfo, as model-signing writes in ``publicKey.hint``."""
    from cryptography.hazmat.primitives import serialization

    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify_signature(key: PublicKeyTypes, signature: bytes, data: bytes, *, prehashed: bool = False) -> bool:
    """Whether ``signature`` over ``data`` verifies (``data`` is a SHA-256 digest if ``prehashed``)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if prehashed:
                key.verify(signature, data, ec.ECDSA(Prehashed(hashes.SHA256())))
            else:
                key.verify(signature, data, ec.ECDSA(_curve_hash(key)))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            algo = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
            for pad in (padding.PKCS1v15(), padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)):
                try:
                    key.verify(signature, data, pad, algo)
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(key, ed25519.Ed25519PublicKey):
            if prehashed:
                raise VerifyFailure("an Ed25519 key cannot verify a signature over a digest")
            key.verify(signature, data)
            return True
    except InvalidSignature:
        return False
    raise VerifyFailure(f"unsupported key type {type(key).__name__}")


def _curve_hash(key: Any) -> Any:
    from cryptography.hazmat.primitives import hashes

    size = key.curve.key_size
    return hashes.SHA256() if size <= 256 else hashes.SHA384() if size <= 384 else hashes.SHA512()


def verify_envelope(key: PublicKeyTypes, env: dict[str, Any]) -> bytes:
    """The verified payload of a DSSE envelope; VerifyFailure when no signature verifies."""
    payload = b64(env["payload"], "DSSE payload")
    message = pae(env["payloadType"], payload)
    for sig in env["signatures"]:
        if verify_signature(key, b64(sig["sig"], "DSSE signature"), message):
            return payload
    raise VerifyFailure("DSSE signature does not verify with the given key (wrong key or tampered envelope)")


def verify_doc(key: PublicKeyTypes, doc: SignedDoc, artifact: Path, digest: str | None = None) -> bytes | None:
    """Verify a key-signed bundle or envelope. Returns the DSSE payload, or None for a message
    signature (which this call has verified against the artifact's bytes: those the run read,
    whose hex sha256 is ``digest``, when given)."""
    hint = (doc.material.get("publicKey") or {}).get("hint") if doc.kind == "bundle" else None
    if hint and hint != key_hint(key):
        raise VerifyFailure("bundle was signed with a different key (its key hint does not match the given key)")
    env = doc.envelope
    if env is not None:
        return verify_envelope(key, env)
    msg = doc.data["messageSignature"]
    signature = b64(msg.get("signature"), "message signature")
    if artifact.is_dir():
        raise VerifyFailure("a message signature signs one file, but the artifact is a directory")
    hexdigest = digest or sha256_file(artifact)
    raw_digest = bytes.fromhex(hexdigest)
    recorded = msg.get("messageDigest")
    if isinstance(recorded, dict):
        if recorded.get("algorithm") not in (None, "SHA2_256"):
            raise VerifyFailure(f"unsupported message digest algorithm {recorded.get('algorithm')!r}")
        if b64(recorded.get("digest"), "message digest") != raw_digest:
            raise VerifyFailure("artifact digest does not match the bundle's message digest (artifact changed)")
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if isinstance(key, ed25519.Ed25519PublicKey):
        ok = verify_signature(key, signature, _whole(artifact, hexdigest))
    else:
        ok = verify_signature(key, signature, raw_digest, prehashed=True)
    if not ok:
        raise VerifyFailure("signature does not verify with the given key (artifact changed or wrong key)")
    return None


def _whole(artifact: Path, hexdigest: str) -> bytes:
    """The artifact's bytes for an Ed25519 signature (over the whole message), which must be the
    bytes the run hashed (``hexdigest``): a file replaced since stops the run."""
    from scanner.files import FileChanged
    from scanner.safeio import TooLarge, read_bounded

    try:
        data = read_bounded(artifact, ED25519_MAX_BYTES, what="artifact", follow=True)
    except TooLarge:
        raise VerifyFailure("artifact too large for an Ed25519 message signature (needs the whole file)") from None
    if hashlib.sha256(data).hexdigest() != hexdigest:
        raise FileChanged("was changed while the artifact was being read", artifact)
    return data


def sign_envelope(private_key: Any, payload: bytes, payload_type: str) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` signed with ``private_key`` (EC, RSA or Ed25519)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    message = pae(payload_type, payload)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        sig = private_key.sign(message, ec.ECDSA(_curve_hash(private_key.public_key())))
    elif isinstance(private_key, rsa.RSAPrivateKey):
        sig = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        sig = private_key.sign(message)
    else:
        raise ScanError(f"unsupported signing key type {type(private_key).__name__}")
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_hint(private_key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }
