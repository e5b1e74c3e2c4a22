"""The one interface every check implements. The gate is a loop over these (``scanner.checks``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from scanner.core import Artifact, Finding
from scanner.options import GateOptions
from scanner.stage import Stage

if TYPE_CHECKING:
    from scanner.inventory.model import Inventory


@dataclass
class GateContext:
    """What a check may read: the artifact, its inventory, the target stage, the typed options
    (``scanner.options``) and the policy data (identities, trusted builders)."""

    artifact: Artifact
    inventory: Inventory
    stage: Stage = field(default_factory=lambda: Stage("dev"))
    options: GateOptions = field(default_factory=GateOptions)
    policy_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    """What a check returns. ``section`` names the policy-input key its ``data`` fills (for
    example ``signatures`` or ``provenance``); ``complete`` is false when the check could not
    examine everything it should have (the policy treats that as a failure); ``context`` adds
    facts to the input's ``context`` (for example the vulnerability database's age)."""

    check: str
    findings: list[Finding] = field(default_factory=list)
    data: Any = None
    section: str | None = None
    complete: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # merged into the policy input's context


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

    @abstractmethod
    def run(self, ctx: GateContext) -> CheckResult:
        """Examine the artifact. Raise ScanError only when the whole run must stop."""
