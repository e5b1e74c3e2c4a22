"""YAML from untrusted files, bounded: size, nesting depth, no anchors or aliases, no duplicate keys.

PyYAML's C loader can crash the process on deep nesting and alias chains can exhaust memory on
a tiny file, so this uses the pure-Python SafeLoader with anchors refused and depth capped.
"""

from __future__ import annotations

from typing import Any

import yaml

from scanner.errors import ScanError

MAX_BYTES = 1 << 20
MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "anchors and aliases are not allowed", event.start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # a key given twice: YAML says it is an error, PyYAML keeps the last one silently
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {str(key)[:80]!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str | bytes, source: str, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document; any problem is a ScanError naming ``source`` and the line."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise ScanError(f"YAML larger than {max_bytes} bytes ({size})", source)
    try:
        loader = _BoundedLoader(text)  # SafeLoader: plain data only, never Python objects
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise ScanError(f"invalid YAML at {where}{exc.problem or exc.context}", source) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ScanError(f"invalid YAML: {exc}", source) from None
