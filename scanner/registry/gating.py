"""The one place promotion asks for a decision about a pulled artifact: the pipeline's gate over
the artifact already pulled (so the bytes judged are the bytes then copied)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.options import GateOptions
    from scanner.pipeline import Outcome
    from scanner.registry.source import PulledArtifact


def gate_pulled(pulled: PulledArtifact, options: GateOptions) -> Outcome:
    """Every stage of the pipeline over ``pulled``; its identity is the manifest digest in its
    repository, findings name files inside it, attached signatures are verified."""
    from scanner import pipeline

    return pipeline.gate(pulled, options)
