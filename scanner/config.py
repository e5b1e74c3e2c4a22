"""Defaults from ``scanner.toml`` or ``[tool.scanner]`` in ``pyproject.toml``.

Precedence is flag > ``SCANNER_*`` environment > this file > built-in default; the file's
values become click's ``default_map``, which click ranks below flags and environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomllib

from scanner.errors import ScanError

# Keys a config file may set, and the command options they feed.
KEYS = {
    "policy": "policy",
    "data": "data",
    "waivers": "waivers",
    "fail-on": "fail_on",
    "db": "db",
    "ledger": "ledger",
    "max-db-age": "max_db_age",
    "osv-url": "osv_url",
    "author": "author",  # exported as SCANNER_AUTHOR: who authors generated SBOMs
}
COMMANDS = ("gate", "scan", "sbom", "audit", "verify", "report", "db")


def find_config(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        for name in ("scanner.toml", "pyproject.toml"):
            candidate = directory / name
            if candidate.is_file() and (name == "scanner.toml" or _has_tool_table(candidate)):
                return candidate
        if (directory / ".git").exists():
            break
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        return "scanner" in tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def load_config(path: Path) -> dict[str, Any]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScanError(f"invalid TOML: {exc}", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanError(f"cannot read config: {exc}", path) from None
    table = doc.get("tool", {}).get("scanner", {}) if path.name == "pyproject.toml" else doc
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ScanError(f"unknown config key(s): {', '.join(unknown)} (known: {', '.join(KEYS)})", path)
    base = path.parent
    values: dict[str, Any] = {}
    for key, param in KEYS.items():
        if key in table:
            value = table[key]
            if key in ("policy", "data", "waivers", "db", "ledger") and isinstance(value, str):
                value = str((base / value).resolve())
            values[param] = value
    return values


def default_map(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The same values offered to every command; click ignores keys a command lacks."""
    return {cmd: dict(values) for cmd in COMMANDS}
