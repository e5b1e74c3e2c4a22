"""Helpers shared by the format-scanner tests: run one scanner module on bytes or a file."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType

from scanner.core import Finding
from scanner.models.api import FormatContext


def scan_bytes(
    module: ModuleType, data: bytes, subject: str = "model", ctx: FormatContext | None = None
) -> list[Finding]:
    return module.scan(io.BytesIO(data), len(data), subject, ctx or FormatContext())


def scan_file(module: ModuleType, path: Path, ctx: FormatContext | None = None) -> list[Finding]:
    ctx = ctx or FormatContext(root=path.parent, path=path)
    with path.open("rb") as fh:
        return module.scan(fh, path.stat().st_size, str(path), ctx)


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]
