"""Rendering an evidence record in the formats a command offers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from scanner import ui


def record_renderer(record: dict[str, Any]) -> Callable[[str], Iterator[str]]:
    """Renders the record in a format, as pieces of text (``write_outputs`` writes them as they
    come: a record holding a large SBOM is never one string)."""
    from scanner.report import render_chunks

    def _render(fmt: str) -> Iterator[str]:
        return render_chunks(fmt, record, color=ui.color_enabled(sys.stdout), width=ui.terminal_width(sys.stdout))

    return _render
