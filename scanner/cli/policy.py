"""``scanner policy``: evaluate the gate policy on a saved input."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.cli.options import common_options


@click.group()
def policy() -> None:
    """Evaluate and test Rego policies."""


@policy.command("eval")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="A saved policy input (gate --save-input).",
)
@click.option(
    "--policy", "policy_dir", type=click.Path(path_type=Path), envvar="SCANNER_POLICY", help="Policy directory."
)
@click.option("--data", type=click.Path(path_type=Path), envvar="SCANNER_DATA", help="Policy data JSON.")
@common_options
def eval_(input_path: Path, policy_dir: Path | None, data: Path | None) -> int:
    """Evaluate data.scanner.gate on INPUT; print the decision as JSON. Exit 1 when denied."""
    from scanner.cli.gate import _load_data
    from scanner.core import ScanError
    from scanner.policy.engine import PolicyEngine
    from scanner.resources import policies_dir

    directory = policy_dir or policies_dir()
    try:
        doc = json.loads(input_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScanError("input file not found", input_path) from None
    except json.JSONDecodeError as exc:
        raise ScanError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", input_path) from None
    decision = PolicyEngine(directory, _load_data(data or directory / "data.json", data is not None)).evaluate(doc)
    click.echo(json.dumps(decision.to_dict(), indent=2))
    return 0 if decision.allow else 1
