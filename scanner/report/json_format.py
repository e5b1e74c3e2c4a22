"""JSON: the evidence record itself, laid out for people and written at C-encoder speed.

Python's ``json`` uses its C encoder only without ``indent``; an indented dump of a record with
thousands of findings goes through the pure-Python encoder at a few hundred thousand calls a
second. ``dumps_layout`` indents only the outer levels (one key, one finding, one SBOM component
per line) and encodes every value below that compactly in C: the output stays readable, diffable
and greppable (a finding is one line) and costs a small fraction of the time.

``chunks`` yields the same text in pieces of about one line (a large compact list or object is cut
between its items), so a record holding a large SBOM is written to its file without ever being one
string in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from scanner.jsonchunks import ChunkEncoder

_compact = json.JSONEncoder(separators=(", ", ": "), allow_nan=False).encode
_compact_chunks = ChunkEncoder(separators=(", ", ": "), allow_nan=False).chunks
# Top-level keys laid out deeper than the rest: the SBOM's components one per line.
_DEEPER = {"sbom": 3}


def dumps_layout(value: Any, depth: int = 2, indent: str = "  ") -> str:
    """``value`` as JSON with objects and arrays expanded down to ``depth`` levels; deeper
    values (and empty containers) are written on one line."""
    return "".join(iter_layout(value, depth, indent))


def iter_layout(
    value: Any, depth: int = 2, indent: str = "  ", _level: int = 0, deeper: Mapping[str, int] | None = None
) -> Iterator[str]:
    """``dumps_layout`` in pieces; ``deeper`` gives some keys of the outermost object their own
    depth."""
    if _level >= depth or not isinstance(value, (dict, list)) or not value:
        yield from _compact_chunks(value)
        return
    pad = indent * (_level + 1)
    close = "\n" + indent * _level + ("}" if isinstance(value, dict) else "]")
    first = True
    if isinstance(value, dict):
        yield "{\n"
        for k, v in value.items():
            yield pad + _compact(str(k)) + ": " if first else ",\n" + pad + _compact(str(k)) + ": "
            first = False
            own = (deeper or {}).get(str(k), depth) if _level == 0 else depth
            yield from iter_layout(v, own, indent, _level + 1)
    else:
        yield "[\n"
        for v in value:
            yield pad if first else ",\n" + pad
            first = False
            yield from iter_layout(v, depth, indent, _level + 1)
    yield close


def chunks(record: dict[str, Any], **_: Any) -> Iterator[str]:
    yield from iter_layout(record, deeper=_DEEPER)
    yield "\n"


def render(record: dict[str, Any], **_: Any) -> str:
    return "".join(chunks(record))


def head_and_rest(record: dict[str, Any], small: int) -> tuple[str, Iterator[str] | None]:
    """What ``chunks`` gives: ``(all of it, None)`` when it is at most ``small`` characters, else
    ``(the text so far, the pieces still to encode)`` — a record holding a large SBOM is never one
    string in memory."""
    pieces = chunks(record)
    head: list[str] = []
    size = 0
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size > small:
            return "".join(head), pieces
    return "".join(head), None


def laid_out(text: str, *without: str) -> bool:
    """Whether ``text`` has the outline ``chunks`` gives a non-empty object (what ``with_member``
    adds to) and no top-level member named in ``without``. A string holds no raw line break, so
    a top-level member is exactly a line that starts with two spaces and its key; the values are
    not checked (the text is what ``chunks`` wrote, or sealed by whoever wrote it)."""
    return (
        text.startswith('{\n  "')
        and text.endswith("\n}\n")
        and not any(f"\n  {_compact(key)}: " in text for key in without)
    )


def with_member(text: str, key: str, value: Any) -> str:
    """``text`` (what ``chunks`` wrote for a non-empty object) with one more top-level member:
    equal to the text of the object with ``key`` added last, without encoding the rest again."""
    if not laid_out(text, key) or key in _DEEPER:
        raise ValueError("not the text of a non-empty object laid out by chunks")
    member = "".join(iter_layout(value, 2, "  ", 1))
    return f"{text[:-3]},\n  {_compact(key)}: {member}\n}}\n"
