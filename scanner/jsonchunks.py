"""``json.dumps`` in pieces: the same text, cut between the items of large lists and objects, so a
document holding a large inventory (a 25 MB SBOM) is written to a file or hashed without ever
being one string in memory. Each piece is encoded by the C encoder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# A list or object with more items than this is encoded item by item.
SPLIT = 256


class ChunkEncoder:
    """Yields exactly ``json.dumps(value, separators=..., ensure_ascii=..., sort_keys=...,
    allow_nan=...)`` in pieces (objects cut only when every key is a string)."""

    def __init__(
        self,
        *,
        separators: tuple[str, str] = (",", ":"),
        ensure_ascii: bool = True,
        sort_keys: bool = False,
        allow_nan: bool = True,
    ) -> None:
        self._encode = json.JSONEncoder(
            separators=separators, ensure_ascii=ensure_ascii, sort_keys=sort_keys, allow_nan=allow_nan
        ).encode
        self._item, self._key = separators
        self._sort = sort_keys

    def chunks(self, value: Any) -> Iterator[str]:
        if isinstance(value, list) and _large(value):
            yield "["
            for i, item in enumerate(value):
                if i:
                    yield self._item
                yield from self.chunks(item)
            yield "]"
        elif isinstance(value, dict) and _large(value):
            if not all(isinstance(k, str) for k in value):
                yield self._encode(value)
                return
            items = sorted(value.items()) if self._sort else value.items()
            yield "{"
            for i, (k, v) in enumerate(items):
                yield (self._item if i else "") + self._encode(k) + self._key
                yield from self.chunks(v)
            yield "}"
        else:
            yield self._encode(value)


def _large(value: Any, levels: int = 2) -> bool:
    """A list or object with many items, or holding one within ``levels`` levels (a record's
    ``sbom`` holding ``components``)."""
    if isinstance(value, list):
        return len(value) > SPLIT or (levels > 0 and any(_large(v, levels - 1) for v in value))
    if isinstance(value, dict):
        return len(value) > SPLIT or (levels > 0 and any(_large(v, levels - 1) for v in value.values()))
    return False
