"""Who may have signed: an identity policy over a Fulcio certificate, like cosign's and
sigstore-python's ``--cert-identity``/``--cert-oidc-issuer`` and GitHub Actions claims.

The checks read the certificate's SANs and Fulcio's extensions themselves (the ones listed in
https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md), so that a refusal can say in one
line what the certificate holds and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_OTHERNAME = "1.3.6.1.4.1.57264.1.7"
# claim → (legacy raw-string OID, newer DER-encoded OID)
_GITHUB_CLAIMS = {
    "repository": ("1.3.6.1.4.1.57264.1.5", "1.3.6.1.4.1.57264.1.12"),
    "ref": ("1.3.6.1.4.1.57264.1.6", "1.3.6.1.4.1.57264.1.14"),
    "trigger": ("1.3.6.1.4.1.57264.1.2", "1.3.6.1.4.1.57264.1.20"),
    "sha": ("1.3.6.1.4.1.57264.1.3", "1.3.6.1.4.1.57264.1.13"),
}


# Identities of unrelated signers: a regexp that accepts all of them accepts anyone.
_PROBES = (
    "x",
    "attacker@evil.example",
    "https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main",
    "spiffe://evil/ns/default/sa/x",
    "0",
)


def matches_anyone(pattern: str) -> bool:
    """Whether ``pattern`` (anchored) accepts every probe identity: ``.*``, ``.+``, ``(.*)`` …"""
    try:
        rx = re.compile(pattern)
    except re.error:
        return False
    return all(rx.fullmatch(p) for p in _PROBES)


@dataclass(frozen=True)
class IdentityRule:
    """One allowed signer. Every field given must match; ``identity`` is compared with every SAN
    exactly, ``identity_regexp`` must match a whole SAN. The GitHub fields compare the workflow
    claims Fulcio records (``repository`` as ``owner/name``)."""

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    github_repository: str | None = None
    github_ref: str | None = None
    github_trigger: str | None = None
    github_sha: str | None = None

    def __post_init__(self) -> None:
        if self.identity_regexp is not None:
            try:
                re.compile(self.identity_regexp)
            except re.error as exc:
                raise ValueError(f"invalid identity regexp {self.identity_regexp!r}: {exc}") from None
            if matches_anyone(self.identity_regexp):
                raise ValueError(
                    f"identity regexp {self.identity_regexp!r} matches any signer: name the identity "
                    "(for example '^https://github\\.com/ORG/REPO/\\.github/workflows/.*@refs/heads/main$')"
                )

    @property
    def github(self) -> dict[str, str]:
        pairs = {
            "repository": self.github_repository,
            "ref": self.github_ref,
            "trigger": self.github_trigger,
            "sha": self.github_sha,
        }
        return {k: v for k, v in pairs.items() if v}

    @property
    def constrains_signer(self) -> bool:
        """A rule must name a signer: an identity, a regexp or a GitHub repository."""
        return bool(self.identity or self.identity_regexp or self.github_repository)

    def describe(self) -> str:
        parts = []
        if self.identity:
            parts.append(f"identity {self.identity!r}")
        if self.identity_regexp:
            parts.append(f"identity matching '{self.identity_regexp}'")
        parts += [f"GitHub {k} {v!r}" for k, v in self.github.items()]
        if self.issuer:
            parts.append(f"issuer {self.issuer!r}")
        return ", ".join(parts) or "any signer"

    def mismatch(self, cert: Certificate) -> str | None:
        """None when the certificate satisfies this rule, else what did not match."""
        sans = certificate_sans(cert)
        if self.issuer is not None:
            issuer = certificate_issuer(cert)
            if issuer != self.issuer:
                return f"issuer {issuer!r} is not {self.issuer!r}"
        if self.identity is not None and self.identity not in sans:
            return f"identity {_one(sans)} is not {self.identity!r}"
        if self.identity_regexp is not None and not any(re.fullmatch(self.identity_regexp, s) for s in sans):
            return f"identity {_one(sans)} does not match '{self.identity_regexp}'"
        for claim, expected in self.github.items():
            actual = github_claim(cert, claim)
            if not _claim_matches(claim, actual, expected):
                return f"GitHub {claim} {actual!r} is not {expected!r}"
        return None

    @classmethod
    def from_policy(cls, entry: Mapping[str, Any]) -> IdentityRule:
        """An entry of ``data.scanner.config.signatures.allowed_identities``."""
        return cls(
            identity=entry.get("identity"),
            identity_regexp=entry.get("identity_regexp"),
            issuer=entry.get("issuer"),
            github_repository=entry.get("github_repository"),
            github_ref=entry.get("github_ref"),
            github_trigger=entry.get("github_trigger"),
            github_sha=entry.get("github_sha"),
        )


def _one(sans: Sequence[str]) -> str:
    return repr(sans[0]) if len(sans) == 1 else repr(sorted(sans))


def _claim_matches(claim: str, actual: str | None, expected: str) -> bool:
    if actual is None:
        return False
    if claim == "repository":
        # legacy claim "owner/name", newer claim "https://github.com/owner/name"
        return actual.removeprefix("https://github.com/") == expected.removeprefix("https://github.com/")
    return actual == expected


class RulesPolicy:
    """A sigstore ``VerificationPolicy``: the certificate must satisfy one of the rules."""

    def __init__(self, rules: Sequence[IdentityRule]):
        self.rules = tuple(rules)

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        reasons = [r.mismatch(cert) for r in self.rules]
        if not self.rules or all(reasons):
            raise VerificationError(self.refusal(cert, reasons))

    def refusal(self, cert: Certificate, reasons: Sequence[str | None]) -> str:
        who = _one(certificate_sans(cert))
        if len(self.rules) == 1 and reasons and reasons[0]:
            return f"signer not allowed: {reasons[0]}"
        allowed = "; ".join(r.describe() for r in self.rules)
        return f"signer not allowed: {who} (issuer {certificate_issuer(cert)!r}) is none of: {allowed}"


def certificate_sans(cert: Certificate) -> list[str]:
    """E-mail, URI and Sigstore other-name SANs."""
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    sans = [*ext.get_values_for_type(x509.RFC822Name), *ext.get_values_for_type(x509.UniformResourceIdentifier)]
    for other in ext.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string == _OTHERNAME:
            sans.append(_der_utf8(other.value) or other.value.decode("utf-8", "replace"))
    return sans


def certificate_identity(cert: Certificate) -> str | None:
    sans = certificate_sans(cert)
    return sans[0] if sans else None


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer Fulcio recorded (the newer DER extension first, then the legacy one)."""
    value = _extension(cert, _ISSUER_V2, der=True)
    return value if value is not None else _extension(cert, _ISSUER_V1, der=False)


def github_claim(cert: Certificate, claim: str) -> str | None:
    legacy, newer = _GITHUB_CLAIMS[claim]
    value = _extension(cert, legacy, der=False)
    return value if value is not None else _extension(cert, newer, der=True)


def _extension(cert: Certificate, oid: str, *, der: bool) -> str | None:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return None
    raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
    if der:
        return _der_utf8(raw)
    return raw.decode("utf-8", "replace")


def _der_utf8(raw: bytes) -> str | None:
    """Decode a DER UTF8String (tag 0x0c) or return None."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return None
    length, pos = raw[1], 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(raw) < 2 + n:
            return None
        length, pos = int.from_bytes(raw[2 : 2 + n], "big"), 2 + n
    body = raw[pos : pos + length]
    if len(body) != length:
        return None
    return body.decode("utf-8", "replace")
