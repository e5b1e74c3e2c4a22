"""The outcome of one signature verification, in the shape the policy input expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.check import InputFile

SIGSTORE = "sigstore-bundle"
MODEL_SIGNING = "model-signing"
DSSE_KEY = "dsse-key"


class VerifyFailure(Exception):
    """A verification failed for a reason a person can read (one line, no trace). ``identity``
    and ``issuer`` name the signer's certificate when it could be read."""

    def __init__(
        self, reason: str, *, identity: str | None = None, issuer: str | None = None, unsigned: list[str] | None = None
    ):
        super().__init__(reason)
        self.identity = identity
        self.issuer = issuer
        self.unsigned = unsigned or []  # files of the directory the signature does not cover


@dataclass
class SignatureResult:
    """``verified`` is true only when the signature, the signer and the subject all check out.
    ``statement`` is the verified in-toto statement of a DSSE signature (None otherwise);
    ``signature_ok`` says whether the signature itself (and the signer) verified, even when the
    artifact then turned out not to be a subject. ``document`` is the file the signature came
    from as it was read, with the sha256 of exactly the bytes verified (None when the bytes did
    not come from a file)."""

    type: str
    subject: str
    bundle: str | None
    verified: bool = False
    identity: str | None = None
    issuer: str | None = None
    error: str | None = None
    signature_ok: bool = False
    statement: dict[str, Any] | None = None
    details: list[str] = field(default_factory=list)
    unsigned: list[str] = field(default_factory=list)  # files of a directory it leaves unsigned
    document: InputFile | None = None

    @property
    def predicate_type(self) -> str | None:
        return self.statement.get("predicateType") if self.statement else None

    def to_entry(self) -> dict[str, Any]:
        """The policy-input entry (contract keys first, then the extras policies may use)."""
        entry = {
            "type": self.type,
            "subject": self.subject,
            "bundle": self.bundle,
            "verified": self.verified,
            "identity": self.identity,
            "issuer": self.issuer,
            "error": self.error,
            "predicate_type": self.predicate_type,
            "details": list(self.details),
        }
        if self.unsigned:  # a directory signature that leaves files unsigned
            entry["unsigned"] = list(self.unsigned)
        return entry

    def fail(self, reason: str) -> SignatureResult:
        self.verified = False
        self.error = reason
        return self
