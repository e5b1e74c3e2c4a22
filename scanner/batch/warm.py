"""Warming up a process that workers are forked from, so that each worker starts with every
module judging needs already imported instead of importing them again.

``warm(prepared)`` judges a tiny model directory of its own (plain data, nothing to find):
judging imports lazily (the inventory readers, the model scanners, the evidence record), and
one small run touches them all. The local pool calls it in the driver, with the run's prepared
policy, just before it forks its workers; where workers cannot be forked from the driver, the
fork server's preload (``preload.py``) warms up with the shipped policies. Whatever fails here
only costs that saving, and nothing is printed.
"""

from __future__ import annotations

import contextlib
from typing import Any


def warm(prepared: Any = None) -> None:
    """``prepared``: a ``scanner.batch.job.Prepared`` (None: the shipped policies)."""
    import json
    import pickle
    import tempfile
    from pathlib import Path

    from scanner import pipeline, ui
    from scanner.options import GateOptions

    with ui.muted(), tempfile.TemporaryDirectory(prefix="scanner-warm-") as tmp:
        root = Path(tmp) / "warm"
        root.mkdir()
        (root / "config.json").write_text(json.dumps({"model_type": "warm"}))
        (root / "weights.pkl").write_bytes(pickle.dumps({"w": [0.0, 1.0]}, protocol=4))
        if prepared is None:
            pipeline.gate(str(root), GateOptions())
        else:
            pipeline.gate(str(root), prepared.gate_options, policy=prepared.policy)


def warm_quietly(prepared: Any = None) -> None:
    with contextlib.suppress(Exception):  # a warm-up failure only costs speed
        warm(prepared)
