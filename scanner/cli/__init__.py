"""Command line: a thin layer mapping flags to the pipeline. Subcommands load lazily."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from scanner import __version__, ui
from scanner.errors import ScanError

# command name → ("module:attribute", short help). The short help lives here so that
# `scanner --help` lists the commands without importing any of them.
COMMANDS = {
    "attest": ("scanner.cli.attest:attest", "Sign a statement (test result, metrics) about an artifact's digest."),
    "gate": ("scanner.cli.gate:gate", "Decide whether an artifact may be promoted to a stage."),
    "batch": ("scanner.cli.batch:batch", "Judge many artifacts in one run, locally or on a Dask cluster."),
    "audit": ("scanner.cli.audit:audit", "Known vulnerabilities of Python dependencies, offline (local OSV database)."),
    "db": ("scanner.cli.db:db", "Import, update and inspect the local vulnerability database."),
    "scan": ("scanner.cli.scan:scan", "Find unsafe serialization in model files, without loading them."),
    "sbom": ("scanner.cli.sbom:sbom", "CycloneDX 1.6 SBOM for an application, ML-BOM for a model."),
    "policy": ("scanner.cli.policy:policy", "Evaluate and test Rego policies."),
    "report": ("scanner.cli.report:report", "Render evidence records."),
    "verify": ("scanner.cli.verify:verify", "Verify signatures and provenance offline."),
    "version": ("scanner.cli.version:version", "Tool, database and policy versions."),
    "push": ("scanner.cli.push:push", "Store a model or other artifact in an OCI registry."),
    "promote": ("scanner.cli.promote:promote", "Gate an artifact in a registry and promote it by digest."),
    "status": ("scanner.cli.status:status", "Stage board of a registry repository."),
    "config": ("scanner.cli.config:config", "The effective configuration and where each value came from."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attr = entry[0].partition(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An explicit ``--config``/``SCANNER_CONFIG``, else the user-level config when it exists.
    Never a file discovered from the working directory (see ``scanner.config``)."""
    from pathlib import Path

    from scanner.config import default_map, load_config
    from scanner.userdirs import config_path

    path = Path(value) if value else config_path()
    if value and not path.is_file():
        raise ScanError("config file not found", path)
    if path.is_file():
        values = load_config(path)
        ctx.meta["scanner.config"] = path
        if not value:  # found, not named: it must not lie inside what is scanned (scanner.pipeline)
            ctx.meta["scanner.user_config"] = path
        ctx.meta["scanner.author"] = values.pop("author", None)
        ctx.default_map = default_map(values)
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="scanner")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    callback=_load_config,
    is_eager=True,
    expose_value=False,
    envvar="SCANNER_CONFIG",
    help="Config file (default: $XDG_CONFIG_HOME/scanner/config.toml; never read from the scanned tree "
    "or the working directory).",
)
@click.option("-q", "--quiet", is_flag=True, envvar="SCANNER_QUIET", help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="A line on stderr for each stage of the run.")
@click.option(
    "--color",
    type=click.Choice(ui.COLOR_MODES),
    default="auto",
    show_default=True,
    envvar="SCANNER_COLOR",
    help="Colour and progress bars: auto (a terminal, unless NO_COLOR is set), always, never.",
)
@click.option("--no-color", is_flag=True, envvar="SCANNER_NO_COLOR", help="Same as --color never (NO_COLOR too).")
@click.option("--no-progress", is_flag=True, envvar="SCANNER_NO_PROGRESS", help="Never draw a progress bar.")
@click.option("--debug", is_flag=True, envvar="SCANNER_DEBUG", help="Show tracebacks for errors.")
def cli(quiet: bool, verbose: int, color: str, no_color: bool, no_progress: bool, debug: bool) -> None:
    """Supply-chain security gate for applications and ML models.

    \b
    Exit codes: 0 passed / allowed, 1 findings / denied, 2 the scan could not be completed.
    Reports go to stdout (or files with FMT=FILE); logs, warnings and errors to stderr.
    """
    ui.configure(
        quiet=quiet,
        verbose=verbose,
        color="never" if no_color else color,
        progress=not no_progress,
        debug=debug,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every failure to one clear line on stderr and exit code 2."""
    code: Any
    try:
        code = cli.main(args=argv, prog_name="scanner", standalone_mode=False, auto_envvar_prefix="SCANNER")
    except click.exceptions.Abort:
        ui.error("aborted")
        code = 130
    except click.exceptions.NoSuchOption as exc:
        exc.show()
        hint = _output_hint(exc, argv if argv is not None else sys.argv[1:])
        if hint:
            click.echo(f"Hint: {hint}", err=True)
        code = 2
    except click.ClickException as exc:
        exc.show()
        code = 2
    except ScanError as exc:
        _debug_trace()
        ui.error(str(exc))
        code = 2
    except MemoryError:
        _debug_trace()
        ui.error("out of memory while scanning (the input is too large or a decompression bomb)")
        code = 2
    except RecursionError:
        _debug_trace()
        ui.error("input nested too deeply to scan")
        code = 2
    except BrokenPipeError:
        sys.stderr.close()
        code = 1
    except KeyboardInterrupt:
        ui.error("interrupted")
        code = 130
    except Exception as exc:
        _debug_trace()
        ui.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        code = 2
    sys.exit(code if isinstance(code, int) else 0)


def _output_hint(exc: click.exceptions.NoSuchOption, argv: list[str]) -> str | None:
    """``-o json`` on a command without ``-o`` (``version``, ``db``): how to get JSON there."""
    if exc.option_name not in ("-o", "--output"):
        return None
    from scanner.cli.options import KNOWN_FORMATS

    args = list(argv)
    value = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-o", "--output")), "").lower()
    params = {o for p in (exc.ctx.command.params if exc.ctx else []) for o in getattr(p, "opts", [])}
    if value not in KNOWN_FORMATS:
        return None
    if "--format" in params:
        return f"this command prints to stdout; for {value} use --format {value}"
    if "--json" in params:
        return f"this command prints to stdout; for {value} use --json"
    return None


def _debug_trace() -> None:
    if ui.debug_enabled():
        import traceback

        traceback.print_exc()
