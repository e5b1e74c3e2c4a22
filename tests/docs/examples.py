"""The command-with-output examples of the documentation: every ```console block of README.md and
docs/*.md. In a block, ``$ `` starts a command (``> `` continues it), every other line is output
the command must print. Matching, in order and ignoring blank lines and trailing spaces:
``...`` on a line of its own skips any number of lines; ``...`` inside a line stands for any text;
any other line must be the next line of the output.

A block that cannot run here (it needs a registry, a network service) says so in the line before
its fence, ``<!-- not-run: the reason -->``; such blocks are listed by the tests, never silently
skipped, and a reason is required."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\S*)\s*$")


NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.*?)\s*-->\s*$")


@dataclass
class Example:
    source: str
    line: int
    steps: list[tuple[str, list[str]]] = field(default_factory=list)  # (command, expected output)
    not_run: str | None = None  # the reason, for a block marked <!-- not-run: ... -->

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


def examples(path: Path, name: str) -> list[Example]:
    out: list[Example] = []
    current: Example | None = None
    in_fence = False
    last_was_command = False
    previous = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if m and not in_fence:
            in_fence = True
            marked = NOT_RUN.match(previous)
            current = Example(name, number, not_run=marked.group(1) if marked else None)
            if m.group(1) != "console" and not marked:
                current = None
            previous = line
            continue
        previous = line
        if m and in_fence:
            in_fence = False
            if current is not None:
                out.append(current)
            current = None
            continue
        if current is None:
            continue
        if line.startswith("$ "):
            current.steps.append((line[2:], []))
            last_was_command = True
        elif last_was_command and current.steps and current.steps[-1][0].rstrip().endswith("\\"):
            command, expected = current.steps[-1]  # a `\` continuation line
            current.steps[-1] = (command + "\n" + line, expected)
        elif line.startswith("> ") and last_was_command and current.steps:
            command, expected = current.steps[-1]
            current.steps[-1] = (command + "\n" + line[2:], expected)
        else:
            last_was_command = False
            if not current.steps:
                if current.not_run is not None:
                    continue
                raise ValueError(f"{name}:{number}: output before the first command")
            current.steps[-1][1].append(line)
    return out


def _line_pattern(expected: str) -> re.Pattern[str]:
    parts = re.split(r"\.\.\.|…", expected)
    return re.compile(".*".join(re.escape(p) for p in parts) + r"\Z", re.DOTALL)


def mismatch(expected: list[str], actual: str) -> str | None:
    """None when ``actual`` matches ``expected``, else what did not match."""
    want = [e.rstrip() for e in expected if e.strip()]
    got = [a.rstrip() for a in actual.splitlines() if a.strip()]
    i = 0
    skipping = False
    for e in want:
        if e == "...":
            skipping = True
            continue
        pattern = _line_pattern(e)
        while i < len(got) and not pattern.match(got[i]):
            if not skipping:
                return f"expected {e!r}, got {got[i]!r}"
            i += 1
        if i == len(got):
            return f"expected {e!r}, not found in the rest of the output"
        i += 1
        skipping = False
    if i < len(got) and not skipping:
        return f"unexpected output after the last expected line: {got[i]!r}"
    return None
