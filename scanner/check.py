"""The one interface every check implements. The gate is a loop over these (``scanner.checklist``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from scanner.core import Artifact, Finding
from scanner.options import GateOptions
from scanner.stage import Stage

if TYPE_CHECKING:
    from scanner.files import FileSet
    from scanner.inventory.components import Inventory
    from scanner.verify.documents import DocumentReader


@dataclass
class GateContext:
    """What a check may read: the artifact, its inventory, the target stage, the typed options
    (``scanner.options``), the policy data (identities, trusted builders), the run's files
    (``scanner.files.FileSet``: every file hashed once) and what each check's ``examine`` found in
    the run's one pass over the files (by check name). ``documents`` is the run's one reader of
    signature and provenance files (``scanner.verify.documents``), made by the first check that
    needs it: each file is read once, and every check that verifies it works from those bytes."""

    artifact: Artifact
    inventory: Inventory
    stage: Stage = field(default_factory=lambda: Stage("dev"))
    options: GateOptions = field(default_factory=GateOptions)
    policy_data: Mapping[str, Any] = field(default_factory=dict)
    files: FileSet | None = None
    examined: dict[str, Any] = field(default_factory=dict)
    documents: DocumentReader | None = None


@dataclass(frozen=True)
class InputFile:
    """A file from outside the artifact whose bytes decided a check (a signature or provenance
    file beside it, or one named by an option): the sha256 and size of exactly the bytes the
    check read. ``sha256`` is None when the file was larger than the check reads (not read;
    the check failed on it)."""

    path: Path
    sha256: str | None
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class AttachedInput:
    """A signature or attestation attached in a registry to a digest (an OCI referrer) whose
    bytes decided a check: ``ref`` (``oci://REGISTRY/REPO@REFERRER``), the referrer manifest's
    digest, the digest it is attached to (``subject``), how the gate read it (``kind``:
    signature, attestation, vsa) and the layer read from it — ``layer`` is the sha256 of exactly
    the bytes verified (the blob was checked against it while it streamed, and never read again)."""

    ref: str
    referrer: str
    subject: str
    kind: str
    layer: str
    media_type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "referrer": self.referrer,
            "subject": self.subject,
            "kind": self.kind,
            "layer": self.layer,
            "media_type": self.media_type,
            "size": self.size,
        }


@dataclass
class CheckResult:
    """What a check returns. ``section`` names the policy-input key its ``data`` fills (for
    example ``signatures`` or ``provenance``); ``complete`` is false when the check could not
    examine everything it should have (the policy treats that as a failure); ``context`` adds
    facts to the input's ``context`` (for example the vulnerability database's age); ``inputs``
    are the files from outside the artifact it read (the evidence record's
    ``inputs.signature_files``, and the batch cache key of a local artifact); ``attached`` the
    documents attached in a registry it read (``inputs.attached_evidence``)."""

    check: str
    findings: list[Finding] = field(default_factory=list)
    data: Any = None
    section: str | None = None
    complete: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # merged into the policy input's context
    inputs: tuple[InputFile, ...] = ()
    attached: tuple[AttachedInput, ...] = ()


class Check(ABC):
    """A check examines one aspect of an artifact and reports findings.

    Subclasses set ``name`` (the ``check`` field of their findings) and implement
    ``applies_to`` and ``run``. Heavy imports belong inside ``run``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def applies_to(self, artifact: Artifact) -> bool:
        """Whether this check has anything to say about this artifact. Decide by content, never
        by ``artifact.kind`` (which the artifact controls): the default is every artifact."""
        return True

    def examine(self, files: FileSet, options: GateOptions) -> Any:
        """Read the artifact's files in the run's one pass, before the digest is taken: each file
        is opened once and hashed from the descriptor given here (``FileSet.open_each``), so the
        digest is of the bytes this check read. Whatever it returns reaches ``run`` as
        ``ctx.examined[name]``. The default reads nothing (``None``)."""
        return None

    @abstractmethod
    def run(self, ctx: GateContext) -> CheckResult:
        """Examine the artifact. Raise ScanError only when the whole run must stop."""
