"""The one place promotion asks for a decision about a pulled artifact.

Until ``scanner.pipeline`` exists this calls the gate (``scanner.gate.run_gate``) over the rebuilt
tree; switching to the pipeline is a change to this function only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.gate import GateOutcome
    from scanner.registry.source import PulledArtifact


@dataclass(frozen=True)
class GateRequest:
    """What the gate needs besides the artifact (the ``scanner gate`` flags, mapped)."""

    stage: str
    policy_dir: Path
    policy_data: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    waivers: Sequence[Any] = ()
    data_file: Path | None = None
    waiver_file: Path | None = None


def gate_pulled(pulled: PulledArtifact, request: GateRequest) -> GateOutcome:
    """Decide on ``pulled``. Its identity is the manifest digest in its repository: the tree's
    files were each verified against the layer digests that manifest commits to."""
    from scanner.artifact import detect
    from scanner.gate import run_gate
    from scanner.registry.evidence_checks import registry_checks

    local = detect(pulled.root)
    artifact = replace(local, name=pulled.repository, digest=pulled.digest)
    outcome = run_gate(
        artifact,
        stage=request.stage,
        policy_dir=request.policy_dir,
        policy_data=request.policy_data,
        settings={**request.settings, "stage": request.stage, "policy_data": request.policy_data},
        waivers=request.waivers,
        checks=registry_checks(pulled),
        evidence={"data_file": request.data_file, "waiver_file": request.waiver_file},
    )
    tree = pulled.root.parent if pulled.root.is_file() else pulled.root
    outcome.record = relabel(outcome.record, str(tree), pulled.ref)
    outcome.policy_input = relabel(outcome.policy_input, str(tree), pulled.ref)
    outcome.decision = replace(
        outcome.decision,
        deny=tuple(replace(r, message=relabel(r.message, str(tree), pulled.ref)) for r in outcome.decision.deny),
        warn=tuple(replace(r, message=relabel(r.message, str(tree), pulled.ref)) for r in outcome.decision.warn),
    )
    outcome.record["artifact"]["path"] = pulled.ref
    outcome.record["artifact"]["source"] = {"ref": pulled.ref, "format": pulled.format, "model": pulled.name}
    return outcome


def relabel(value: Any, tree: str, ref: str) -> Any:
    """Paths under the private temporary tree named as files inside the artifact: ``TREE/a/b`` →
    ``a/b`` and ``TREE`` itself → the pinned reference. The tree's path is random, so nothing
    else can contain it."""
    if isinstance(value, str):
        if tree not in value:
            return value
        return value.replace(tree + "/", "").replace(tree, ref)
    if isinstance(value, dict):
        return {k: relabel(v, tree, ref) for k, v in value.items()}
    if isinstance(value, list):
        return [relabel(v, tree, ref) for v in value]
    return value
