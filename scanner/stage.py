"""The promotion ladder. Its stages come from the policy data, so an organisation can define
its own (dev → qa → staging → prod-eu); the promotion (``from``, ``to``) is derived here only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.errors import ScanError

DEFAULT_LADDER = ("dev", "staging", "prod")


def stage_ladder(policy_data: Mapping[str, Any] | None) -> tuple[str, ...]:
    """``scanner.config.stage_order`` when the data gives one, else the keys of
    ``scanner.config.stages`` in file order, else dev → staging → prod."""
    config = ((policy_data or {}).get("scanner") or {}).get("config") or {}
    order = config.get("stage_order")
    if isinstance(order, list) and order and all(isinstance(s, str) and s for s in order):
        return tuple(order)
    stages = config.get("stages")
    if isinstance(stages, Mapping) and stages:
        return tuple(str(s) for s in stages)
    return DEFAULT_LADDER


@dataclass(frozen=True)
class Stage:
    """A stage on a ladder. ``previous`` is where an artifact is promoted from."""

    name: str
    ladder: tuple[str, ...] = DEFAULT_LADDER

    @classmethod
    def parse(cls, name: str, policy_data: Mapping[str, Any] | None = None) -> Stage:
        ladder = stage_ladder(policy_data)
        wanted = name.strip().lower()
        for stage in ladder:
            if stage.lower() == wanted:
                return cls(stage, ladder)
        raise ScanError(f"unknown stage {name!r} (the policy data defines: {', '.join(ladder)})")

    @property
    def previous(self) -> str | None:
        i = self.ladder.index(self.name)
        return self.ladder[i - 1] if i > 0 else None

    def promotion(self) -> dict[str, str | None]:
        """The policy input's ``promotion`` and the record's: one derivation."""
        return {"from": self.previous, "to": self.name}

    def __str__(self) -> str:
        return self.name
