"""Rendering an evidence record in the formats a command offers."""

from __future__ import annotations

import sys
from typing import Any

from scanner import ui


def record_renderer(record: dict[str, Any]) -> Any:
    from scanner.report import render

    def _render(fmt: str) -> str:
        return render(fmt, record, color=ui.color_enabled(sys.stdout), width=ui.terminal_width(sys.stdout))

    return _render
