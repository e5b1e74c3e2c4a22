"""Text safe to encode: file names that are not valid UTF-8 reach us as surrogate escapes."""

from __future__ import annotations

from typing import Any


def clean_text(value: Any) -> Any:
    """``value`` with every string made encodable: a surrogate (from a file name that is not valid
    UTF-8) is shown as the ``\\xNN`` escape of its byte. Dicts and lists are copied."""
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
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value
