"""Reading JSON that a user or an artifact supplied: one parser for every JSON input (BOMs, OSV
records, bundles, policy data and inputs, evidence records), rejecting duplicate keys, with every
failure a ScanError naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.errors import ScanError


class DuplicateKey(ValueError):
    """An object names the same key twice: parsers disagree on which value wins (the last
    here, the first elsewhere), so a second, empty ``components`` could hide the first."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(f"duplicate key {key[:80]!r} in one object")
        out[key] = value
    return out


def loads(text: str | bytes | bytearray) -> Any:
    """``json.loads`` that rejects duplicate keys (``DuplicateKey``, a ``ValueError``). Every JSON
    document a user or an artifact supplies is parsed through here."""
    return json.loads(text, object_pairs_hook=_unique)


def parse(text: str | bytes | bytearray, where: str | Path, what: str = "JSON document") -> Any:
    """``loads`` with every failure turned into a ScanError naming ``where``."""
    try:
        return loads(text)
    except DuplicateKey as exc:
        raise ScanError(f"invalid {what}: {exc}", where) from None
    except json.JSONDecodeError as exc:
        raise ScanError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where) from None
    except UnicodeDecodeError:
        raise ScanError(f"cannot read {what}: not UTF-8 text", where) from None
    except RecursionError:
        raise ScanError(f"{what} nested too deeply", where) from None
    except ValueError as exc:
        raise ScanError(f"invalid {what}: {exc}", where) from None


def read_json(path: Path, what: str) -> Any:
    """The parsed document; ``what`` names the file in messages (``"input file"``)."""
    from scanner.safeio import open_regular

    try:
        with open_regular(path, follow=True) as fh:
            data = fh.read()
    except ScanError as exc:
        if not path.exists():
            raise ScanError(f"{what} not found", path) from None
        raise ScanError(f"cannot read {what}: {exc.message}", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read {what}: {exc}", path) from None
    return parse(data, path, what)


def load_policy_data(path: Path, required: bool) -> dict[str, Any]:
    """Policy data: a JSON object; a missing default file is empty data, a missing named one an error."""
    if not required and not path.is_file():
        return {}
    return _policy_object(read_json(path, "policy data file"), path)


def policy_data(data: bytes, where: str | Path) -> dict[str, Any]:
    """``load_policy_data`` of bytes read already (``where`` names them in messages)."""
    return _policy_object(parse(data, where, "policy data file"), where)


def _policy_object(loaded: Any, where: str | Path) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise ScanError("policy data must be a JSON object", where)
    return loaded
