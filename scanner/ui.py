"""Terminal output on stderr: logs, warnings and progress. stdout carries only reports."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scanner.textsafe import terminal  # messages carry file names and artifact text

_state = {"quiet": False, "color": True, "debug": False}


def configure(*, quiet: bool, no_color: bool, debug: bool) -> None:
    _state["quiet"] = quiet
    _state["color"] = not no_color and "NO_COLOR" not in os.environ and sys.stderr.isatty()
    _state["debug"] = debug


def color_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(_state["color"]) and "NO_COLOR" not in os.environ and stream.isatty()


def is_quiet() -> bool:
    return bool(_state["quiet"])


def debug_enabled() -> bool:
    return bool(_state["debug"])


def info(message: str) -> None:
    if not _state["quiet"]:
        print(terminal(message), file=sys.stderr)


def warn(message: str) -> None:
    print(f"scanner: warning: {terminal(message)}", file=sys.stderr)


def error(message: str) -> None:
    print(f"scanner: error: {terminal(message)}", file=sys.stderr)


class _NullProgress:
    def add_task(self, *_: Any, **__: Any) -> int:
        return 0

    def advance(self, *_: Any, **__: Any) -> None:
        pass

    def update(self, *_: Any, **__: Any) -> None:
        pass


@contextmanager
def progress(transient: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr when stderr is a terminal and not quiet; otherwise a no-op
    object with the same ``add_task``/``advance``/``update`` methods."""
    if _state["quiet"] or not sys.stderr.isatty():
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, no_color=not _state["color"]),
        transient=transient,
    ) as bar:
        yield bar
