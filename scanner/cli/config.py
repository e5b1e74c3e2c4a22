"""``scanner config``: the effective configuration and where each value came from, or a
commented default config file to start from (``--generate-default-config``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import click

from scanner.cli.options import common_options


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    source: str  # env:NAME | config:FILE | default | flag
    help: str


# key → (environment variable, what it is); the built-in defaults are computed in _defaults()
_SPEC: dict[str, tuple[str, str]] = {
    "policy": ("SCANNER_POLICY", "policy directory (Rego modules and data.json)"),
    "data": ("SCANNER_DATA", "policy data JSON (stages, thresholds, allowed signers)"),
    "waivers": ("SCANNER_WAIVERS", "waivers YAML: accepted risks with owner and expiry"),
    "fail-on": ("SCANNER_FAIL_ON", "scan/audit: exit 1 at or above this severity"),
    "db": ("SCANNER_DB", "vulnerability database (SQLite)"),
    "ledger": ("SCANNER_LEDGER", "SQLite ledger the gate appends its decisions to"),
    "max-db-age": ("SCANNER_MAX_DB_AGE", "refuse a vulnerability database older than this many days"),
    "osv-url": ("SCANNER_OSV_URL", "where `scanner db update` downloads the OSV dump"),
    "author": ("SCANNER_AUTHOR", "who authors the SBOMs scanner writes (NTIA)"),
}


def _defaults() -> dict[str, Any]:
    from scanner.evidence.ledger import state_path
    from scanner.inventory.build import sbom_author
    from scanner.resources import policies_dir
    from scanner.vulns.snapshot import default_db_path
    from scanner.vulns.update import DEFAULT_URL

    policy = policies_dir()
    return {
        "policy": str(policy),
        "data": str(policy / "data.json"),
        "waivers": None,
        "fail-on": "low",
        "db": str(default_db_path()),
        "ledger": str(state_path()),
        "max-db-age": None,
        "osv-url": DEFAULT_URL,
        "author": sbom_author(),
    }


def effective(ctx: click.Context) -> list[Setting]:
    """Each key's value with its source, in click's precedence: environment > config > default."""
    from scanner.config import KEYS

    root = ctx.find_root()
    config_file = root.meta.get("scanner.config")
    file_values = dict((root.default_map or {}).get("gate", {}))
    if root.meta.get("scanner.author"):
        file_values["author"] = root.meta["scanner.author"]
    defaults = _defaults()
    out = []
    for key, (envvar, what) in _SPEC.items():
        param = KEYS[key]
        env = os.environ.get(envvar)
        if env:
            out.append(Setting(key, env, f"env:{envvar}", what))
        elif param in file_values:
            out.append(Setting(key, file_values[param], f"config:{config_file}", what))
        else:
            out.append(Setting(key, defaults[key], "default", what))
    return out


def _config_source(ctx: click.Context) -> Setting:
    from click.core import ParameterSource

    from scanner.userdirs import config_path

    root = ctx.find_root()
    loaded = root.meta.get("scanner.config")
    source = root.get_parameter_source("config")
    if source == ParameterSource.COMMANDLINE:
        origin = "flag"
    elif source == ParameterSource.ENVIRONMENT:
        origin = "env:SCANNER_CONFIG"
    else:
        origin = "default" if loaded else f"default (none at {config_path()})"
    return Setting("config", str(loaded) if loaded else None, origin, "the config file read")


def _ui_settings() -> list[Setting]:
    from scanner import ui

    mode = ui._state["color"]
    no_color = os.environ.get("NO_COLOR", "")
    color_source = (
        "env:NO_COLOR"
        if no_color and mode == "auto"
        else ("flag or env:SCANNER_COLOR" if mode != "auto" else "default")
    )
    shown = "never" if no_color and mode == "auto" else mode
    return [Setting("color", shown, color_source, "colour and progress bars: auto, always, never")]


def default_config() -> str:
    """A commented config with every key at its built-in default (loading it changes nothing)."""
    defaults = _defaults()
    lines = [
        "# scanner configuration: pass it with --config FILE (or SCANNER_CONFIG), or keep it as",
        "# $XDG_CONFIG_HOME/scanner/config.toml. Never put it in the tree you scan: the artifact",
        "# must not configure its own gate. Precedence: flag > SCANNER_* environment > this file >",
        "# built-in default. Uncomment a line to set it; relative paths are relative to this file.",
        "",
    ]
    for key, (envvar, what) in _SPEC.items():
        value = defaults[key]
        if key in ("author",):
            value = "Platform Security <security@example.org>"
        lines.append(f"# {what} (environment: {envvar})")
        if value is None:
            example = {"waivers": '"waivers.yaml"', "max-db-age": "7"}[key]
            lines.append(f"# {key} = {example}")
        elif isinstance(value, int):
            lines.append(f"# {key} = {value}")
        else:
            lines.append(f"# {key} = {json.dumps(str(value))}")
        lines.append("")
    return "\n".join(lines)


@click.command("config")
@click.option(
    "--generate-default-config",
    "generate",
    is_flag=True,
    help="Print a commented config file with every key at its default (redirect it to a file).",
)
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def config(generate: bool, fmt: str) -> int:
    """The effective configuration: every setting, its value and where it came from (a flag,
    the environment, the config file, or the built-in default).

    \b
    scanner config
    scanner --config ci.toml config -f json
    scanner config --generate-default-config > ~/.config/scanner/config.toml
    """
    if generate:
        click.echo(default_config(), nl=False)
        return 0
    ctx = click.get_current_context()
    settings = [_config_source(ctx), *effective(ctx), *_ui_settings()]
    if fmt == "json":
        click.echo(json.dumps({s.key: {"value": s.value, "source": s.source} for s in settings}, indent=2))
        return 0
    width = max(len(s.key) for s in settings)
    for s in settings:
        value = "(not set)" if s.value is None else str(s.value)
        click.echo(f"{s.key.ljust(width)}  {value}  [{s.source}]")
    return 0
