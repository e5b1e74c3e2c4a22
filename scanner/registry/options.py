"""Registry options (``scanner.options.RegistryOptions``, one type for the pipeline and the
registry commands) and the size parser of ``--max-artifact-size``."""

from __future__ import annotations

import re

from scanner.errors import ScanError
from scanner.options import RegistryOptions

__all__ = ["DEFAULT_MAX_ARTIFACT", "RegistryOptions", "parse_size"]

DEFAULT_MAX_ARTIFACT = RegistryOptions().max_bytes
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``500M``, ``1.5G``, ``2GiB``, ``1048576`` → bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise ScanError(f"not a size: {text!r} (use e.g. 500M, 2G, 1048576)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
