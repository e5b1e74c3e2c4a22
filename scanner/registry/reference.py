"""``oci://REGISTRY/REPO[:TAG|@sha256:HEX]``: the one parser of registry references."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from scanner.errors import ScanError

SCHEME = "oci://"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def is_reference(text: str) -> bool:
    """Whether a command-line source names a registry artifact."""
    return text.startswith(SCHEME)


def is_digest(text: str) -> bool:
    return bool(_DIGEST.fullmatch(text))


@dataclass(frozen=True)
class Reference:
    """A parsed reference. ``digest`` wins over ``tag`` when both are given."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``, how cosign and oras name a repository."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise ScanError(f"{self} names no tag or digest")

    def at(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (the tag dropped)."""
        return replace(self, tag=None, digest=digest)

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=tag, digest=None)

    def in_repository(self, repository: str) -> Reference:
        return replace(self, repository=repository)

    def __str__(self) -> str:
        text = SCHEME + self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, *, require: str | None = None) -> Reference:
    """Parse ``oci://…``; ``require`` is ``"tag"`` (push, promote target), ``"tag-or-digest"``
    (what is read), or None (a repository, for the stage board). Errors name the reference."""
    if not text.startswith(SCHEME):
        raise ScanError(f"not a registry reference (expected {SCHEME}REGISTRY/REPO[:TAG|@sha256:…])", text)
    rest = text[len(SCHEME) :]
    registry, slash, path = rest.partition("/")
    if not slash or not _HOST.fullmatch(registry):
        raise ScanError("registry reference needs a registry host and a repository (oci://HOST[:PORT]/REPO)", text)
    digest = None
    if "@" in path:
        path, _, digest = path.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise ScanError("digest must be sha256: followed by 64 lowercase hex digits", text)
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise ScanError(f"invalid tag {tag!r}", text)
    if not _REPO.fullmatch(path) or len(path) > 255:
        raise ScanError(f"invalid repository name {path!r} (lowercase letters, digits, . _ - and /)", text)
    ref = Reference(registry, path, tag, digest)
    if require == "tag" and not tag:
        raise ScanError("a tag is needed here (oci://HOST/REPO:TAG)", text)
    if require == "tag-or-digest" and not (tag or digest):
        raise ScanError("a tag or digest is needed here (oci://HOST/REPO:TAG or @sha256:…)", text)
    return ref
