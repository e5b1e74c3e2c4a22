"""Text safe to encode: file names that are not valid UTF-8 reach us as surrogate escapes."""

from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
# Containers at most this many levels deep are checked item by item: the text encoded at once is
# one item's (a component, a finding), never the whole document.
_SPLIT_LEVELS = 3


def clean_text(value: Any) -> Any:
    """``value`` with every string made encodable: a surrogate (from a file name that is not valid
    UTF-8) is shown as the ``\\xNN`` escape of its byte. Dicts and lists are copied only when
    something in them needs it, and C-speed encode passes over one item at a time decide, so a
    large inventory (a 25 MB BOM) is neither walked in Python, nor duplicated, nor encoded into
    one large string on every record and policy input."""
    if isinstance(value, (dict, list)):
        return _clean(value) if _needs_cleaning(value, _SPLIT_LEVELS) else value
    return _clean(value)


def _needs_cleaning(value: Any, levels: int) -> bool:
    """Whether a string in ``value`` cannot be encoded. A string is looked at alone (ASCII, the
    common case, is known without encoding it); a container below ``levels`` is encoded whole."""
    kind = type(value)
    if kind is str:
        return not value.isascii() and not _encodable(value)
    if levels > 0 and kind is dict:
        for k, v in value.items():
            if (type(k) is not str or not k.isascii()) and _needs_cleaning(k, 0):
                return True
            if _needs_cleaning(v, levels - 1):
                return True
        return False
    if levels > 0 and kind is list:
        return any(_needs_cleaning(v, levels - 1) for v in value)
    if kind is int or kind is float or kind is bool or value is None:
        return False
    try:
        _encode(value).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return True
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    if isinstance(value, (list, tuple)):  # (a tuple is encoded as a JSON array too)
        return [_clean(v) for v in value]
    return value
