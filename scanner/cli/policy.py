"""``scanner policy``: evaluate the gate policy on a saved input; run the policies' unit tests."""

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
    help="A saved policy input (gate --save-input; - reads standard input), checked against "
    "policies/input.schema.json.",
)
@click.option(
    "--policy", "policy_dir", type=click.Path(path_type=Path), envvar="SCANNER_POLICY", help="Policy directory."
)
@click.option("--data", type=click.Path(path_type=Path), envvar="SCANNER_DATA", help="Policy data JSON.")
@common_options
def eval_(input_path: Path, policy_dir: Path | None, data: Path | None) -> int:
    """Evaluate data.scanner.gate on INPUT; print the decision as JSON. Exit 1 when denied."""
    from scanner import stdin
    from scanner.jsonfile import load_policy_data, read_json
    from scanner.policy.engine import PolicyEngine
    from scanner.policy.schema import validate_input
    from scanner.resources import policies_dir

    directory = policy_dir or policies_dir()
    if stdin.is_stdin(input_path):
        with stdin.as_file("input.json") as saved:
            doc = read_json(saved, "input file")
        input_path = Path("-")
    else:
        doc = read_json(input_path, "input file")
    validate_input(doc, input_path)
    engine = PolicyEngine(directory, load_policy_data(data or directory / "data.json", data is not None))
    decision = engine.evaluate(doc)
    click.echo(json.dumps(decision.to_dict(), indent=2))
    return 0 if decision.allow else 1


@policy.command("test")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), help="Policy data JSON (default: data.json in the directory).")
@common_options
def test(directory: Path | None, data: Path | None) -> int:
    """Run the Rego unit tests (test_* rules in *_test.rego) of DIRECTORY (default: the shipped
    policies). Prints pass/fail per test; exit 1 when one fails."""
    from scanner.jsonfile import load_policy_data
    from scanner.policy.testing import run_tests
    from scanner.resources import policies_dir

    directory = directory or policies_dir()
    results = run_tests(directory, load_policy_data(data or directory / "data.json", data is not None))
    failed = [r for r in results if not r.passed]
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        click.echo(f"{status}  {r.name}" + ("" if r.passed else f"  ({r.detail}; {r.location})"))
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
