"""Where the shipped policies and templates are: inside the wheel (``scanner/_data``) when
installed, at the repository's top level in a source checkout or editable install."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parent


def _first(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def policies_dir() -> Path:
    return _first(_PKG / "_data" / "policies", _REPO / "policies")


def templates_dir() -> Path:
    return _first(_PKG / "_data" / "templates", _REPO / "reports" / "templates")


def data_dir() -> Path:
    """Bundled data (the OSV snapshot, trusted roots)."""
    return _PKG / "data"
