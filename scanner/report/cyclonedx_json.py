"""CycloneDX JSON: the SBOM / ML-BOM the gate inventoried, as validated when the record was made."""

from __future__ import annotations

import json
from typing import Any

from scanner.errors import ScanError


def render(record: dict[str, Any], **_: Any) -> str:
    sbom = record.get("sbom")
    if not sbom:
        raise ScanError(
            f"this {record.get('command', 'scan')} record carries no SBOM (cyclonedx-json needs a gate run)"
        )
    return json.dumps(sbom, ensure_ascii=False, separators=(",", ":")) + "\n"
