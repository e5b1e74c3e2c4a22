"""Options shared by the commands, and writing reports where the user asked."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from scanner import ui
from scanner.core import ScanError, Severity

F = TypeVar("F", bound=Callable[..., Any])


def _set_ui(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """The stderr/colour options given after the subcommand (``scanner gate -q ...``)."""
    if not value:
        return value
    name = param.name
    if name == "quiet":
        ui.configure(quiet=True)
    elif name == "verbose":
        ui.configure(verbose=int(value))
    elif name == "no_color":
        ui.configure(color="never")
    elif name == "color":
        ui.configure(color=str(value))
    elif name == "no_progress":
        ui.configure(progress=False)
    elif name == "debug":
        ui.configure(debug=True)
    return value


def ledger_options(ledger_help: str, no_ledger_help: str) -> Callable[[F], F]:
    """``--ledger FILE`` / ``--no-ledger`` (``SCANNER_LEDGER`` / ``SCANNER_NO_LEDGER``): where
    the command appends its decisions; each command words its own help."""

    def decorate(func: F) -> F:
        func = click.option("--no-ledger", is_flag=True, envvar="SCANNER_NO_LEDGER", help=no_ledger_help)(func)
        return click.option(
            "--ledger", type=click.Path(dir_okay=False, path_type=Path), envvar="SCANNER_LEDGER", help=ledger_help
        )(func)

    return decorate


def common_options(func: F) -> F:
    """-q / -v / --color / --no-color / --no-progress / --debug, also accepted after the
    subcommand (as before it)."""
    options: list[tuple[list[str], dict[str, Any]]] = [
        (["--debug"], {"is_flag": True, "help": "Show tracebacks for errors."}),
        (["--no-progress"], {"is_flag": True, "help": "Never draw a progress bar."}),
        (["--no-color"], {"is_flag": True, "help": "Same as --color never."}),
        (["--color"], {"type": click.Choice(ui.COLOR_MODES), "help": "auto, always or never."}),
        (["-v", "--verbose"], {"count": True, "help": "A line on stderr for each stage of the run."}),
        (["-q", "--quiet"], {"is_flag": True, "help": "Only errors on stderr."}),
    ]
    for decls, kwargs in options:
        func = click.option(*decls, expose_value=False, callback=_set_ui, **kwargs)(func)
    return func


def output_options(formats: Sequence[str], default: str = "table", fail_on: bool = True) -> Callable[[F], F]:
    """--format (repeatable, FMT or FMT=FILE), -o/--output and (unless the policy decides the
    exit code, as in ``gate``) --fail-on."""

    def decorate(func: F) -> F:
        func = (
            func
            if not fail_on
            else click.option(
                "--fail-on",
                default="low",
                show_default=True,
                envvar="SCANNER_FAIL_ON",
                metavar="SEVERITY",
                help="Exit 1 when a finding is at or above this severity (critical, high, medium, low, info, none).",
            )(func)
        )
        func = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, writable=True),
            envvar="SCANNER_OUTPUT",
            help="Write the report to this file instead of stdout.",
        )(func)
        func = click.option(
            "-f",
            "--format",
            "formats",
            multiple=True,
            envvar="SCANNER_FORMAT",
            metavar="FMT[=FILE]",
            help=f"Report format, repeatable; FMT=FILE writes to a file. One of: {', '.join(formats)} "
            f"(default {default}).",
        )(func)
        return func

    return decorate


def parse_fail_on(value: str) -> Severity | None:
    if value.strip().lower() == "none":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None


# every format some command writes: `-o json` is a format given where a file was expected
KNOWN_FORMATS = (
    "table", "json", "text", "cyclonedx-json", "cyclonedx-xml", "spdx-json", "markdown", "html", "sarif", "junit",
)  # fmt: skip
STDOUT = "-"


def format_hint(value: str, allowed: Sequence[str] = ()) -> str | None:
    """The hint for ``-o json`` (pip-audit's and trivy's habit), or None when ``value`` is a path."""
    if value.lower() not in KNOWN_FORMATS or Path(value).suffix:
        return None
    fmt = value.lower()
    if allowed and fmt not in allowed:
        return f"-o/--output takes a file path; this command's formats are {', '.join(allowed)} (choose with --format)"
    return (
        f"-o/--output takes a file path; to choose the format use --format {fmt}"
        f" (or --format {fmt}=FILE to write it to a file)"
    )


def plan_outputs(
    formats: Iterable[str], output: str | None, allowed: Sequence[str], default: str = "table"
) -> list[tuple[str, str | None]]:
    """Turn --format/--output into (format, file-or-None-for-stdout) pairs, checking them first so
    that a typo fails before any work is done. ``-`` as a file (``-o -``, ``json=-``) is stdout;
    a file name is taken whole (spaces and ``=`` included)."""
    if output is not None:
        hint = format_hint(output, allowed)
        if hint:
            raise click.UsageError(hint)
        if output == STDOUT:
            output = None
        elif not output:
            raise click.UsageError("-o/--output needs a file path (or - for stdout)")
    plan: list[tuple[str, str | None]] = []
    for item in formats or (default,):
        fmt, sep, dest = item.partition("=")
        fmt = fmt.strip().lower()
        if fmt not in allowed:
            raise click.BadParameter(
                f"unknown format {fmt!r} (choose from {', '.join(allowed)})", param_hint="--format"
            )
        if sep and not dest:
            raise click.BadParameter(f"{item!r}: a file path after = (or - for stdout)", param_hint="--format")
        plan.append((fmt, None if not sep or dest == STDOUT else dest))
    to_stdout = [p for p in plan if p[1] is None]
    if len(to_stdout) > 1:
        raise click.UsageError("only one format can go to stdout; give the others as FMT=FILE")
    if output:
        if len(to_stdout) != 1:
            raise click.UsageError("-o/--output needs exactly one --format without =FILE")
        plan = [(f, output if d is None else d) for f, d in plan]
    return plan


def check_writable(plan: Sequence[tuple[str, str | None]], *extra: str | Path | None) -> None:
    """Fail (exit 2) before anything is recorded when a report or evidence file cannot be
    written: a decision whose evidence is missing must not stand in the ledger as a promotion."""
    for dest in [d for _, d in plan if d not in (None, "-")] + [str(e) for e in extra if e and str(e) != "-"]:
        target = Path(dest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            with open(target, "a", encoding="utf-8"):
                pass
            if not existed:
                target.unlink()
        except OSError as exc:
            raise ScanError(f"cannot write report: {exc.strerror or exc}", dest) from None


def write_outputs(plan: Sequence[tuple[str, str | None]], render: Callable[[str], str | Iterable[str]]) -> list[Path]:
    """Write each planned output: a file whole or not at all (``scanner.atomic``: temporary file,
    fsync, rename; a failure is exit 2 naming the file), stdout as the text comes. ``render``
    returns the text, or its pieces. Returns the files written."""
    staged = stage_outputs(plan, render)
    try:
        write_stdout(plan, render)
        for item in staged:
            item.commit()
    finally:
        for item in staged:
            item.discard()  # those not in place
    return [item.path for item in staged]


def stage_outputs(plan: Sequence[tuple[str, str | None]], render: Callable[[str], str | Iterable[str]]) -> list[Any]:
    """The planned files written in full beside their destinations, not yet in place
    (``scanner.atomic.Staged``: ``commit`` or ``discard`` each). When one fails, those written
    before it are discarded and nothing is in place."""
    from scanner.atomic import stage

    staged: list[Any] = []
    try:
        for fmt, dest in plan:
            if dest is not None:
                text = render(fmt)
                pieces = [text] if isinstance(text, str) else text
                staged.append(stage(dest, pieces, f"{fmt} report", done=f"wrote {fmt} report to {dest}"))
    except BaseException:
        for item in staged:
            item.discard()
        raise
    return staged


def write_stdout(plan: Sequence[tuple[str, str | None]], render: Callable[[str], str | Iterable[str]]) -> None:
    """The planned output that goes to stdout, if any, as its pieces come."""
    for fmt, dest in plan:
        if dest is not None:
            continue
        text = render(fmt)
        try:
            for piece in [text] if isinstance(text, str) else text:
                sys.stdout.write(piece)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away (``| head``): exit 1, as every command does
        except OSError as exc:
            raise ScanError(f"cannot write the {fmt} report: {exc.strerror or exc}", "stdout") from None


def exceeds(findings: Iterable[dict[str, Any]], threshold: Severity | None) -> bool:
    """Whether any (unwaived) finding is at or above the threshold."""
    if threshold is None:
        return False
    return any(Severity(f["severity"]) >= threshold and not f.get("waived") for f in findings)


# Findings that say a check could not examine something: they make the run incomplete.
INCOMPLETE_RULES = frozenset(
    {
        "MODEL-UNSCANNABLE",
        "MODEL-NOTHING-TO-JUDGE",
        "MODEL-ARCHIVE-BOMB",
        "MODEL-ARCHIVE-DEPTH",
        "VULN-UNAUDITED",
        "VULN-NOTHING-TO-AUDIT",
    }
)


def incomplete(record: dict[str, Any]) -> list[str]:
    """Why the run did not examine everything: checks that say so, and open findings of
    ``INCOMPLETE_RULES``."""
    reasons = [f"the {c['check']} check" for c in record.get("checks") or [] if not c.get("complete", True)]
    rules = sorted(
        {f["id"] for f in record.get("findings") or [] if f["id"] in INCOMPLETE_RULES and not f.get("waived")}
    )
    return reasons + rules


def exit_code(record: dict[str, Any], threshold: Severity | None) -> int:
    """The exit code of ``scan`` and ``audit``: 1 when an open finding is at or above the
    threshold, and 1 whatever the threshold when something could not be examined (``--fail-on``
    never hides incompleteness); else 0."""
    if exceeds(record["findings"], threshold):
        return 1
    why = incomplete(record)
    if why:
        ui.warn("not everything could be examined (" + ", ".join(why) + "): exit 1 whatever --fail-on says")
        return 1
    return 0


def setting_sources(ctx: click.Context) -> dict[str, str]:
    """Where each option of this command came from (``flag``, ``env:NAME``, ``config:FILE`` or
    ``default``), for the evidence record."""
    from click.core import ParameterSource

    config = ctx.find_root().meta.get("scanner.config")
    sources: dict[str, str] = {}
    for param in ctx.command.params:
        name = param.name
        if not name or name in ("formats", "output", "quiet", "no_color", "debug"):
            continue
        source = ctx.get_parameter_source(name)
        if source == ParameterSource.COMMANDLINE:
            sources[name] = "flag"
        elif source == ParameterSource.ENVIRONMENT:
            sources[name] = f"env:{_envvar_read(ctx, param, name)}"
        elif source == ParameterSource.DEFAULT_MAP:
            sources[name] = f"config:{config}"
        else:
            sources[name] = "default"
    if ctx.find_root().meta.get("scanner.author"):
        sources["author"] = f"config:{config}"
    return sources


def _envvar_read(ctx: click.Context, param: click.Parameter, name: str) -> str:
    """The environment variable click took the value from: the option's own (the first set of
    several), else the automatic ``SCANNER_<COMMAND>_<OPTION>``."""
    import os

    own = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
    for var in own:
        if os.environ.get(var):
            return var
    if ctx.auto_envvar_prefix:
        return f"{ctx.auto_envvar_prefix}_{name.upper()}"
    return own[0] if own else f"SCANNER_{name.upper()}"


def user_config(ctx: click.Context) -> Path | None:
    """The user-level config when it was read without ``--config`` (the pipeline refuses it when
    it lies inside the scanned tree)."""
    found = ctx.find_root().meta.get("scanner.user_config")
    return Path(found) if found else None


def config_author(ctx: click.Context) -> str | None:
    """The ``author`` key of the config file, if any (who authors generated SBOMs)."""
    author = ctx.find_root().meta.get("scanner.author")
    return str(author) if author else None
