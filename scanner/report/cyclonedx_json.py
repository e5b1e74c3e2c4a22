"""CycloneDX JSON: the SBOM / ML-BOM the gate inventoried, as validated when the record was made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.errors import ScanError
from scanner.jsonchunks import ChunkEncoder

_chunks = ChunkEncoder(ensure_ascii=False, separators=(",", ":")).chunks


def chunks(record: dict[str, Any], **_: Any) -> Iterator[str]:
    """The SBOM as compact JSON, in pieces (it is written without being one string)."""
    sbom = record.get("sbom")
    if not sbom:
        raise ScanError(
            f"this {record.get('command', 'scan')} record carries no SBOM (cyclonedx-json needs a gate run)"
        )
    yield from _chunks(sbom)
    yield "\n"


def render(record: dict[str, Any], **_: Any) -> str:
    return "".join(chunks(record))
