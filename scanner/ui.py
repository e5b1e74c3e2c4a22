"""Terminal output on stderr: logs, warnings and progress. stdout carries only reports.

Conventions (those of trivy, grype, pip-audit): ``NO_COLOR`` set to anything but the empty
string, ``--no-color`` or ``--color never`` mean no escape sequence at all on either stream — no
colour and no live progress bar (a bar moves the cursor); ``--color always`` forces colour even
into a pipe; ``auto`` colours a terminal. ``-q`` leaves only errors on stderr; ``-v`` adds a line
per pipeline stage; ``--no-progress`` (or not a terminal) never draws a bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scanner.textsafe import terminal  # messages carry file names and artifact text

COLOR_MODES = ("auto", "always", "never")
DEFAULT_WIDTH = 120  # a report that goes to a file or a pipe, with no COLUMNS

_state: dict[str, Any] = {"quiet": False, "color": "auto", "debug": False, "progress": True, "verbose": 0}


def configure(
    *,
    quiet: bool | None = None,
    no_color: bool | None = None,
    debug: bool | None = None,
    color: str | None = None,
    progress: bool | None = None,
    verbose: int | None = None,
) -> None:
    """Set what was given; ``no_color=True`` is ``color="never"`` (``False`` restores auto)."""
    if quiet is not None:
        _state["quiet"] = quiet
    if no_color is not None:
        _state["color"] = "never" if no_color else "auto"
    if color is not None:
        if color not in COLOR_MODES:
            raise ValueError(f"colour mode {color!r} (choose from {', '.join(COLOR_MODES)})")
        _state["color"] = color
    if debug is not None:
        _state["debug"] = debug
    if progress is not None:
        _state["progress"] = progress
    if verbose is not None:
        _state["verbose"] = verbose


@contextmanager
def muted() -> Iterator[None]:
    """Nothing printed (as with ``-q``) inside the ``with``; the settings are restored after."""
    saved = dict(_state)
    _state["quiet"] = True
    try:
        yield
    finally:
        _state.update(saved)


def color_mode() -> str:
    return str(_state["color"])


def color_enabled(stream: Any = None) -> bool:
    """Whether escape sequences may be written to ``stream`` (default stdout)."""
    mode = _state["color"]
    if mode == "never":
        return False
    if mode == "always":
        return True
    if os.environ.get("NO_COLOR", ""):
        return False
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def terminal_width(stream: Any = None) -> int:
    """Columns for a table: ``COLUMNS`` when set, else the terminal's width, else 120."""
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdigit() and int(value) >= 20:
        return int(value)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            columns = os.get_terminal_size(stream.fileno()).columns
            if columns > 0:  # a pseudo-terminal nobody sized reports 0
                return max(20, columns)
    except (AttributeError, ValueError, OSError):
        pass
    return DEFAULT_WIDTH


def is_quiet() -> bool:
    return bool(_state["quiet"])


def debug_enabled() -> bool:
    return bool(_state["debug"])


def quiet() -> bool:
    return bool(_state["quiet"])


def info(message: str) -> None:
    if not _state["quiet"]:
        print(terminal(message), file=sys.stderr)


def detail(message: str) -> None:
    """Progress detail, with ``-v`` only."""
    if _state["verbose"] and not _state["quiet"]:
        print(terminal(message), file=sys.stderr)


def warn(message: str) -> None:
    if not _state["quiet"]:
        print(f"scanner: warning: {terminal(message)}", file=sys.stderr)


def error(message: str) -> None:
    print(f"scanner: error: {terminal(message)}", file=sys.stderr)


def progress_enabled() -> bool:
    return bool(_state["progress"]) and not _state["quiet"] and sys.stderr.isatty() and color_enabled(sys.stderr)


class _NullProgress:
    def add_task(self, *_: Any, **__: Any) -> int:
        return 0

    def advance(self, *_: Any, **__: Any) -> None:
        pass

    def update(self, *_: Any, **__: Any) -> None:
        pass


@contextmanager
def progress(transient: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr when that is a terminal that may take escape sequences
    (see ``progress_enabled``); otherwise a no-op object with the same ``add_task`` /
    ``advance`` / ``update`` methods."""
    if not progress_enabled():
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=transient,
    ) as bar:
        yield bar
