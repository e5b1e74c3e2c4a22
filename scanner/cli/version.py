"""``scanner version``: tool, database and policy versions."""

from __future__ import annotations

import json
import platform
from typing import Any

import click

from scanner import __version__


def version_info() -> dict[str, Any]:
    from scanner.report import FORMATS
    from scanner.resources import policies_dir
    from scanner.vulns.snapshot import describe_default

    return {
        "tool": "scanner",
        "version": __version__,
        "python": platform.python_version(),
        "policies": str(policies_dir()),
        "vulnerability_db": describe_default(),
        "report_formats": sorted(FORMATS),
    }


@click.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def version(fmt: str) -> None:
    """Print the tool, vulnerability database and policy versions."""
    info = version_info()
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            if isinstance(value, dict):
                shown = ", ".join(f"{k} {v}" for k, v in value.items())
            click.echo(f"{key}: {shown}")
