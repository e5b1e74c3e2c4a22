"""The gate: inventory the artifact, run every check that applies, decide, keep the evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.check import Check, CheckResult, GateContext
from scanner.core import Artifact, Decision
from scanner.inventory.model import Inventory
from scanner.waivers import Waiver


@dataclass
class GateOutcome:
    artifact: Artifact
    inventory: Inventory
    results: list[CheckResult]
    policy_input: dict[str, Any]
    decision: Decision
    record: dict[str, Any] = field(default_factory=dict)


def run_checks(ctx: GateContext, checks: Sequence[Check]) -> list[CheckResult]:
    """Run each applicable check in order. A check that raises stops the gate (fail closed)."""
    return [check.run(ctx) for check in checks if check.applies_to(ctx.artifact)]


def run_gate(
    artifact: Artifact,
    *,
    stage: str,
    policy_dir: Path,
    policy_data: Mapping[str, Any],
    settings: Mapping[str, Any],
    waivers: Sequence[Waiver] = (),
    checks: Sequence[Check] | None = None,
    now: dt.datetime | None = None,
    evidence: Mapping[str, Any] | None = None,
    engine: Any = None,
) -> GateOutcome:
    """``evidence`` adds keyword arguments for the evidence record (``data_file``,
    ``waiver_file``, ``sbom``). ``engine`` is a PolicyEngine already compiled from
    ``policy_dir`` and ``policy_data`` (batch workers compile once and reuse it)."""
    from scanner.checks import load_checks
    from scanner.evidence.record import build_record
    from scanner.inventory.build import build_inventory
    from scanner.policy.engine import PolicyEngine
    from scanner.policy.input import build_input, match_waivers

    if engine is None:
        engine = PolicyEngine(policy_dir, dict(policy_data))  # load policies first: fail before work
    inventory = build_inventory(artifact)
    ctx = GateContext(artifact=artifact, inventory=inventory, stage=stage, settings=settings)
    results = run_checks(ctx, checks if checks is not None else load_checks())
    now = now or dt.datetime.now(dt.timezone.utc)
    matched = match_waivers(results, waivers, now)
    policy_input = build_input(artifact, stage, inventory, results, matched, now=now)
    decision = engine.evaluate(policy_input)
    from scanner.inventory.cyclonedx import to_cyclonedx_dict

    evidence = {"sbom": to_cyclonedx_dict(inventory, artifact), **(evidence or {})}
    record = build_record(
        command="gate",
        artifact=artifact,
        inventory=inventory,
        results=results,
        findings=matched.findings,
        waivers=policy_input["waivers"],
        decision=decision,
        stage=stage,
        now=now,
        policy_dir=policy_dir,
        **evidence,
    )
    return GateOutcome(artifact, inventory, results, policy_input, decision, record)
