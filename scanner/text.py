"""Text safe to encode: file names that are not valid UTF-8 reach us as surrogate escapes."""

from __future__ import annotations

import json
from typing import Any


def clean_text(value: Any) -> Any:
    """``value`` with every string made encodable: a surrogate (from a file name that is not valid
    UTF-8) is shown as the ``\\xNN`` escape of its byte. Dicts and lists are copied only when
    something in them needs it: one C-speed encode pass decides, so a large inventory (a 25 MB
    BOM) is not walked in Python and duplicated in memory on every record and policy input."""
    if isinstance(value, (dict, list)):
        try:
            json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
        except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
            return _clean(value)
        return value
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
                return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
