"""Imported once by the local pool's fork server, before it forks any worker.

It judges a tiny model directory of its own (plain data, nothing to find) with the shipped
policies, so that every module judging needs (the inventory readers, the model scanners, the
evidence record) is imported in the server once; each worker forked from it starts with them
loaded instead of importing them again. Whatever fails here only costs that saving.
"""

from __future__ import annotations

import contextlib


def warm() -> None:
    import json
    import pickle
    import tempfile
    from pathlib import Path

    from scanner import pipeline, ui
    from scanner.options import GateOptions

    ui.configure(quiet=True, no_color=True, debug=False)
    with tempfile.TemporaryDirectory(prefix="scanner-warm-") as tmp:
        root = Path(tmp) / "warm"
        root.mkdir()
        (root / "config.json").write_text(json.dumps({"model_type": "warm"}))
        (root / "weights.pkl").write_bytes(pickle.dumps({"w": [0.0, 1.0]}, protocol=4))
        pipeline.gate(str(root), GateOptions())


with contextlib.suppress(Exception):  # a warm-up failure only costs speed
    warm()
