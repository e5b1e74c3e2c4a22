"""How the registry is reached and how much may be fetched from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.errors import ScanError

GiB = 1 << 30
DEFAULT_MAX_ARTIFACT = 32 * GiB
DEFAULT_MAX_MANIFEST = 4 << 20  # what distribution itself accepts
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class RegistryOptions:
    """``plain_http``: talk HTTP instead of HTTPS (a local registry without TLS).
    ``max_artifact_size``: the most bytes of blobs one artifact may bring (layers and config).
    ``max_manifest_size``: the most bytes of one manifest or index.
    ``timeout``: seconds to wait for the registry to connect or answer (not the whole transfer)."""

    plain_http: bool = False
    max_artifact_size: int = DEFAULT_MAX_ARTIFACT
    max_manifest_size: int = DEFAULT_MAX_MANIFEST
    timeout: float = 30.0


def parse_size(text: str) -> int:
    """``500M``, ``1.5G``, ``2GiB``, ``1048576`` → bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise ScanError(f"not a size: {text!r} (use e.g. 500M, 2G, 1048576)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
