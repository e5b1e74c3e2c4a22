"""Reading a verification summary back from its signed container (DSSE envelope or Sigstore
bundle) for display: result, stage, time and signer. Display only: the signature is not checked
here (``scanner verify --key`` does that)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from scanner import jsonfile


@dataclass(frozen=True)
class VsaInfo:
    container: str  # dsse | bundle | unknown
    result: str  # PASSED | FAILED | ?
    stages: tuple[str, ...]
    time: str | None
    signer: str
    subject_digest: str | None
    verified: bool | None = None  # the signature checked with a given key (None: not checked)


def read_vsa(data: bytes, key: Any = None) -> VsaInfo:
    """The summary's facts; with ``key`` (a public key object) the DSSE signature is verified and
    ``verified`` says whether it held (a Sigstore bundle is not checked here: ``verified`` None)."""
    info = _read(data)
    if key is None or info.container != "dsse":
        return info
    from dataclasses import replace

    from scanner.verify.keyed import verify_envelope
    from scanner.verify.result import VerifyFailure

    try:
        verify_envelope(key, jsonfile.loads(data))
    except (VerifyFailure, KeyError, TypeError, ValueError):
        return replace(info, verified=False)
    return replace(info, verified=True)


def _read(data: bytes) -> VsaInfo:
    try:
        doc = jsonfile.loads(data)
    except (ValueError, RecursionError):
        return VsaInfo("unknown", "?", (), None, "?", None)
    if not isinstance(doc, dict):
        return VsaInfo("unknown", "?", (), None, "?", None)
    if "dsseEnvelope" in doc:
        envelope, container = doc.get("dsseEnvelope"), "bundle"
        signer = "sigstore (keyless)" if (doc.get("verificationMaterial") or {}).get("certificate") else "sigstore"
    else:
        envelope, container = doc, "dsse"
        sigs: list[Any] = doc["signatures"] if isinstance(doc.get("signatures"), list) else []
        keyid = sigs[0].get("keyid") if sigs and isinstance(sigs[0], dict) else None
        signer = f"key {str(keyid)[:16]}" if keyid else "key (no key id)"
    statement = _payload(envelope)
    predicate: dict[str, Any] = statement["predicate"] if isinstance(statement.get("predicate"), dict) else {}
    levels: list[Any] = predicate["verifiedLevels"] if isinstance(predicate.get("verifiedLevels"), list) else []
    stages = tuple(str(x).removeprefix("SCANNER_STAGE_").lower() for x in levels if str(x).startswith("SCANNER_STAGE_"))
    subjects: list[Any] = statement["subject"] if isinstance(statement.get("subject"), list) else []
    digest = None
    if subjects and isinstance(subjects[0], dict) and isinstance(subjects[0].get("digest"), dict):
        hexdigest = subjects[0]["digest"].get("sha256")
        digest = f"sha256:{hexdigest}" if isinstance(hexdigest, str) else None
    return VsaInfo(
        container,
        str(predicate.get("verificationResult") or "?"),
        stages,
        predicate.get("timeVerified") if isinstance(predicate.get("timeVerified"), str) else None,
        signer,
        digest,
    )


def _payload(envelope: Any) -> dict[str, Any]:
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        return {}
    try:
        statement = jsonfile.loads(base64.b64decode(envelope["payload"], validate=True))
    except (ValueError, binascii.Error, RecursionError):
        return {}
    return statement if isinstance(statement, dict) else {}
