"""Checks a policy input document against ``policies/input.schema.json`` (JSON Schema 2020-12)."""

from __future__ import annotations

import functools
import json
from typing import Any

from scanner.core import ScanError
from scanner.resources import policies_dir


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    path = policies_dir() / "input.schema.json"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScanError(f"cannot load the input schema: {exc}", path) from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def input_errors(doc: Any) -> list[str]:
    """Every violation as ``$.path.to.value: message``, in document order (empty when valid)."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def validate_input(doc: Any, source: object) -> None:
    """Raise a ScanError naming the file and the first offending places in the document."""
    errors = input_errors(doc)
    if errors:
        shown = "; ".join(errors[:3]) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else "")
        raise ScanError(f"policy input does not match input.schema.json: {shown}", str(source))


def _json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out
