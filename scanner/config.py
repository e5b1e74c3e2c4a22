"""Defaults from a config file the user names, never one found in the scanned tree.

The trust boundary: settings come from flags, ``SCANNER_*`` variables, an explicit
``--config FILE`` / ``SCANNER_CONFIG``, or the user's own config
(``$XDG_CONFIG_HOME/scanner/config.toml``, default ``~/.config/scanner/config.toml``). Nothing is
discovered from the working directory or the artifact: in CI that is the checkout under review,
and an artifact must not choose its own policy, data, waivers, database or ledger.

Precedence is flag > ``SCANNER_*`` environment > the config file > built-in default; the file's
values become click's ``default_map``, which click ranks below flags and environment. A config
file is ``scanner.toml``-style (top-level keys) or a ``pyproject.toml`` with ``[tool.scanner]``.
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
    "author": "author",  # who authors generated SBOMs
}
COMMANDS = ("gate", "scan", "sbom", "audit", "verify", "report", "db")


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
