"""Where the scanner keeps per-user state outside any scanned tree: the cache directory
(vulnerability database, compiled policies, batch results)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$SCANNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/scanner``, else ``~/.cache/scanner``."""
    explicit = os.environ.get("SCANNER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scanner"


def cache_dir_is_explicit() -> bool:
    """``$SCANNER_CACHE_DIR`` names the cache (the user chose it); otherwise it was derived from
    ``$XDG_CACHE_HOME`` or the home directory, which may lie inside what is scanned."""
    return bool(os.environ.get("SCANNER_CACHE_DIR"))


def state_dir() -> Path:
    """``$XDG_STATE_HOME/scanner`` (``~/.local/state/scanner`` by default): a ledger's home when
    the working directory lies inside the artifact being judged."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "scanner"


def config_path() -> Path:
    """The user-level config: ``$XDG_CONFIG_HOME/scanner/config.toml`` (``~/.config`` by default).
    Outside any scanned tree; read when no ``--config`` is given (see ``scanner.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scanner" / "config.toml"
