"""JSON: the evidence record itself, laid out for people and written at C-encoder speed.

Python's ``json`` uses its C encoder only without ``indent``; an indented dump of a record with
thousands of findings goes through the pure-Python encoder at a few hundred thousand calls a
second. ``dumps_layout`` indents only the outer levels (one key, one finding, one component per
line) and encodes every value below that compactly in C: the output stays readable, diffable and
greppable (a finding is one line) and costs a small fraction of the time.
"""

from __future__ import annotations

import json
from typing import Any

_compact = json.JSONEncoder(separators=(", ", ": "), allow_nan=False).encode


def dumps_layout(value: Any, depth: int = 2, indent: str = "  ", _level: int = 0) -> str:
    """``value`` as JSON with objects and arrays expanded down to ``depth`` levels; deeper
    values (and empty containers) are written on one line."""
    if _level >= depth or not isinstance(value, (dict, list)) or not value:
        return _compact(value)
    pad = indent * (_level + 1)
    if isinstance(value, dict):
        items = [f"{pad}{_compact(str(k))}: {dumps_layout(v, depth, indent, _level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent * _level + "}"
    items = [pad + dumps_layout(v, depth, indent, _level + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + indent * _level + "]"


def render(record: dict[str, Any], **_: Any) -> str:
    return dumps_layout(record) + "\n"
