"""Reading signature files: a Sigstore bundle (v0.1–v0.3), a bare DSSE envelope, or JSON lines
of either (``.intoto.jsonl``). Only the shape is checked here; nothing is trusted yet."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.verify.documents import MAX_BYTES, DocumentFile, read_file
from scanner.verify.result import VerifyFailure

BUNDLE_MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class SignedDoc:
    """One signed document. ``kind`` is ``bundle`` or ``envelope``; ``raw`` is its JSON text."""

    kind: str
    data: dict[str, Any]
    raw: bytes
    source: Path
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else str(self.source)

    @property
    def envelope(self) -> dict[str, Any] | None:
        if self.kind == "envelope":
            return self.data
        env = self.data.get("dsseEnvelope")
        return env if isinstance(env, dict) else None

    @property
    def material(self) -> dict[str, Any]:
        vm = self.data.get("verificationMaterial")
        return vm if isinstance(vm, dict) else {}

    @property
    def has_certificate(self) -> bool:
        vm = self.material
        return bool(vm.get("certificate") or vm.get("x509CertificateChain"))


def read_documents(path: Path) -> list[SignedDoc]:
    """Every signed document in ``path`` (read once, ``scanner.verify.documents.read_file``).
    ScanError when the file cannot be read; VerifyFailure when it is not a signature document
    at all (malformed JSON, unknown media type, larger than allowed ...)."""
    return file_documents(read_file(path))


def file_documents(source: DocumentFile) -> list[SignedDoc]:
    """Every signed document in a file already read (``DocumentFile``)."""
    if source.too_large:
        raise VerifyFailure(f"signature file is {source.size} bytes, more than the {MAX_BYTES >> 20} MiB allowed")
    return parse_documents(source.raw, source.path)


def parse_documents(raw: bytes, path: Path) -> list[SignedDoc]:
    """Every signed document in ``raw`` (one JSON document, or JSON lines); ``path`` names where
    the bytes came from (a file, or a registry reference). VerifyFailure when it is not a
    signature document at all."""
    if len(raw) > MAX_BYTES:
        raise VerifyFailure(f"signature document is {len(raw)} bytes, more than the {MAX_BYTES >> 20} MiB allowed")
    try:
        return [classify(_parse(raw), raw, path)]
    except json.JSONDecodeError as whole:
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise VerifyFailure(f"not valid JSON (line {whole.lineno} column {whole.colno}: {whole.msg})") from None
        docs = []
        for i, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(classify(_parse(line), line, path, i))
            except json.JSONDecodeError as exc:
                raise VerifyFailure(f"line {i} is not valid JSON (column {exc.colno}: {exc.msg})") from None
        return docs


def _parse(raw: bytes) -> Any:
    try:
        return jsonfile.loads(raw)
    except jsonfile.DuplicateKey as exc:
        raise VerifyFailure(f"not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise VerifyFailure("not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise VerifyFailure("JSON nested too deeply") from None


def classify(data: Any, raw: bytes, source: Path, line: int | None = None) -> SignedDoc:
    if not isinstance(data, dict):
        raise VerifyFailure(f"expected a JSON object, found a JSON {type(data).__name__}")
    media = data.get("mediaType")
    if media is not None:
        if not isinstance(media, str) or media not in BUNDLE_MEDIA_TYPES:
            raise VerifyFailure(f"unknown bundle media type {media!r} (supported: Sigstore bundle v0.1, v0.2, v0.3)")
        if not isinstance(data.get("verificationMaterial"), dict):
            raise VerifyFailure("bundle has no verification material")
        if not (isinstance(data.get("messageSignature"), dict) or isinstance(data.get("dsseEnvelope"), dict)):
            raise VerifyFailure("bundle has neither a message signature nor a DSSE envelope")
        doc = SignedDoc("bundle", data, raw, source, line)
        if doc.envelope is not None:
            check_envelope(doc.envelope)
        return doc
    if {"payloadType", "payload", "signatures"} <= data.keys():
        check_envelope(data)
        return SignedDoc("envelope", data, raw, source, line)
    if "_type" in data and "predicateType" in data:
        raise VerifyFailure("an unsigned in-toto statement: there is no signature to verify")
    raise VerifyFailure("neither a Sigstore bundle (no mediaType) nor a DSSE envelope")


def check_envelope(env: dict[str, Any]) -> None:
    if not isinstance(env.get("payloadType"), str):
        raise VerifyFailure("DSSE envelope has no payloadType")
    if env["payloadType"] != IN_TOTO_PAYLOAD:
        raise VerifyFailure(f"unknown DSSE payload type {env['payloadType']!r} (expected {IN_TOTO_PAYLOAD})")
    b64(env.get("payload"), "DSSE payload")
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise VerifyFailure("DSSE envelope has no signatures")
    for s in sigs:
        if not isinstance(s, dict):
            raise VerifyFailure("DSSE signature is not an object")
        b64(s.get("sig"), "DSSE signature")


def b64(value: Any, what: str) -> bytes:
    """Standard or URL-safe base64 (DSSE allows both)."""
    if not isinstance(value, str) or not value:
        raise VerifyFailure(f"{what} is missing")
    try:
        text = value.replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise VerifyFailure(f"{what} is not valid base64") from None
