"""The command reference (``docs/cli.md``), generated from the click commands themselves so it
cannot drift from them: every command and subcommand with its ``--help`` text at a fixed width.

    python -m scanner.cli.reference docs/cli.md      (``make docs`` does this)

A test compares the committed page with a fresh rendering.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

WIDTH = 100
HEADER = """# Command reference

Generated from the commands' own `--help` by `python -m scanner.cli.reference docs/cli.md`
(`make docs`); a test fails when this page and the commands disagree. Common conventions (exit
codes, output formats, colour, the environment) are in [Using scanner](usage.md).
"""


def _walk(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    yield cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx, max_content_width=WIDTH))


def render() -> str:
    from scanner.cli import cli

    names = cli.context_settings.get("help_option_names", ["--help"])
    root = click.Context(
        cli, info_name="scanner", max_content_width=WIDTH, terminal_width=WIDTH, help_option_names=names
    )
    parts = [HEADER]
    entries = list(_walk(cli, root))
    parts.append("\n".join(f"- [`{c.command_path}`](#{_anchor(c.command_path)})" for _, c in entries) + "\n")
    for cmd, ctx in entries:
        ctx.terminal_width = WIDTH
        text = cmd.get_help(ctx).rstrip()
        parts.append(f"## `{ctx.command_path}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def _anchor(path: str) -> str:
    """The heading id MkDocs (Python-Markdown's toc) gives ``## `scanner x y` ``."""
    return path.replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args and args[0] != "-":
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
