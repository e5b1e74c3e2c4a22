"""Shared types of the pipeline: what is scanned, what is found, what is decided.

Everything here is plain data: checks produce it, the policy reads it, every report renders it.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import ScanError

__all__ = ["Artifact", "ArtifactKind", "Decision", "Finding", "Reason", "ScanError", "Severity"]


class Severity(enum.Enum):
    """Finding severity, ordered: ``Severity.HIGH > Severity.LOW``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Case-insensitive name to severity; raises ValueError naming the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in reversed(cls))
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


_RANK = {s: i for i, s in enumerate(Severity)}


class ArtifactKind(str, enum.Enum):
    """What an artifact is, decided by its content (see ``scanner.artifact``)."""

    MODEL_DIR = "model-dir"
    MODEL_FILE = "model-file"
    APP_DIR = "app-dir"
    REQUIREMENTS = "requirements"
    PYPROJECT = "pyproject"
    LOCKFILE = "lockfile"
    ENVIRONMENT = "environment"
    SBOM = "sbom"

    @property
    def is_model(self) -> bool:
        return self in (ArtifactKind.MODEL_DIR, ArtifactKind.MODEL_FILE)


@dataclass(frozen=True)
class Artifact:
    """The thing being gated. ``digest`` is ``sha256:<hex>`` of the file, or of the sorted
    (relative path, file digest) list for a directory (``scanner.artifact.artifact_digest``), or
    the manifest digest for an artifact pulled from a registry.

    ``path`` is where its bytes are read. ``shown`` is set when they were put in a private folder
    the user never named — standard input saved to a temporary file (``scanner.stdin``), an
    artifact pulled from a registry — as (that folder, what outputs call it): ``show`` then names
    a file in it by its path inside it (``stdin``, ``model.pkl``, ``tokenizer/vocab.txt``) and
    the folder itself by that name (``.``, the pinned reference). Every text naming a file of the
    artifact is made by ``show``, before waivers and the policy see it."""

    path: Path
    kind: ArtifactKind
    name: str
    digest: str
    source_ref: str | None = None  # what was asked for: a path, or oci://registry/repo@sha256:...
    shown: tuple[str, str] | None = None  # (private folder, what outputs call it)

    def show(self, path: str | Path) -> str:
        """``path`` as outputs name it: as it is, unless it lies in the artifact's private folder
        (``shown``) — then by its path inside that folder, and the folder by its shown name. Only
        paths are mapped, never text."""
        if self.shown is None:
            return str(path)
        folder, name = os.path.normpath(self.shown[0]), self.shown[1]
        given = os.path.normpath(path)
        if given == folder:
            return name
        if given.startswith(folder.rstrip("/") + "/"):
            return os.path.relpath(given, folder)
        return str(path)

    @contextlib.contextmanager
    def errors_shown(self) -> Iterator[None]:
        """A ``ScanError`` raised while the artifact is judged names the file at fault as outputs
        do (``show``): its path, never its message, is mapped."""
        try:
            yield
        except ScanError as exc:
            if exc.path is not None:  # a file, or a file and a line ("FILE:3")
                path, colon, line = exc.path.rpartition(":")
                exc.path = f"{self.show(path)}:{line}" if colon and line.isdigit() else self.show(exc.path)
            raise

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "digest": self.digest,
            "path": self.show(self.path),
            "source_ref": self.source_ref or self.show(self.path),
        }


@dataclass(frozen=True)
class Finding:
    """One thing a check found. ``id`` is a stable rule id such as ``MODEL-PICKLE-GLOBAL``;
    ``subject`` is a file path (with ``!member`` for archive members) or a purl."""

    id: str
    check: str
    severity: Severity
    subject: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "severity": self.severity.value,
            "subject": self.subject,
            "message": self.message,
            "evidence": dict(self.evidence),
            "fix": self.fix,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            id=data["id"],
            check=data["check"],
            severity=Severity.parse(data["severity"]),
            subject=data["subject"],
            message=data["message"],
            evidence=dict(data.get("evidence") or {}),
            fix=data.get("fix"),
        )


@dataclass(frozen=True)
class Reason:
    """One named reason in a decision: a deny or a warn."""

    rule: str
    message: str
    remediation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "remediation": self.remediation}


@dataclass(frozen=True)
class Decision:
    """The policy's answer: allowed or not, and every reason."""

    allow: bool
    deny: tuple[Reason, ...] = ()
    warn: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "deny": [r.to_dict() for r in self.deny],
            "warn": [r.to_dict() for r in self.warn],
        }
