"""``scanner gate``: decide whether an artifact may be promoted to a stage."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click

from scanner.cli.audit import db_option, max_age_option
from scanner.cli.evidence_options import attestation_options
from scanner.cli.options import (
    check_writable,
    common_options,
    config_author,
    ledger_options,
    output_options,
    plan_outputs,
    setting_sources,
    stage_outputs,
    user_config,
    write_stdout,
)
from scanner.cli.registry_options import from_context, registry_options
from scanner.cli.render import record_renderer
from scanner.cli.verify import emit_attestation, gate_options, verify_options
from scanner.core import ArtifactKind
from scanner.report import FORMATS


@click.command()
@click.argument("source")
@click.option(
    "--stage",
    default="dev",
    show_default=True,
    envvar="SCANNER_STAGE",
    help="The stage the artifact is promoted to (the policy data defines the ladder; default dev, staging, prod).",
)
@click.option(
    "--policy",
    type=click.Path(path_type=Path),
    envvar="SCANNER_POLICY",
    help="Policy directory (default: shipped policies).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    envvar="SCANNER_DATA",
    help="Policy data JSON (default: data.json in the policy directory).",
)
@click.option(
    "--waivers", type=click.Path(path_type=Path), envvar="SCANNER_WAIVERS", help="Waivers YAML (accepted risks)."
)
@click.option("--kind", type=click.Choice([k.value for k in ArtifactKind]), help="Override artifact detection.")
@click.option(
    "--save-input", type=click.Path(dir_okay=False, path_type=Path), help="Also write the policy input document here."
)
@ledger_options(
    "Append the decision to this SQLite ledger, where the quality baseline is also read (default: the user "
    "state directory's, $XDG_STATE_HOME/scanner/ledger.db, never one in the working directory or the artifact; "
    "keep it as a CI artifact).",
    "Do not record the decision in a ledger.",
)
@db_option
@max_age_option
@gate_options
@attestation_options
@output_options(list(FORMATS), fail_on=False)
@registry_options
@common_options
def gate(
    source: str,
    stage: str,
    policy: Path | None,
    data: Path | None,
    waivers: Path | None,
    kind: str | None,
    save_input: Path | None,
    ledger: Path | None,
    no_ledger: bool,
    db: Path | None,
    max_db_age: int | None,
    formats: tuple[str, ...],
    output: str | None,
    **verify_flags: Any,
) -> int:
    """Inventory SOURCE, run every check, and decide promotion with the policy.

    SOURCE is a file or directory, oci://REGISTRY/REPO[:TAG|@DIGEST], or - (standard input:
    an SBOM or requirements file piped in, told apart by content; anything else is judged as a
    model file; --kind says what it is).
    Exit 0 when the promotion is allowed, 1 when it is denied, 2 when the gate could not decide.
    """
    from scanner import pipeline
    from scanner.atomic import stage as stage_file
    from scanner.evidence.ledger import default_path
    from scanner.options import GateOptions, InventoryOptions, VulnOptions
    from scanner.verify.attestation import AttestationOptions
    from scanner.waivers import load_waivers

    ctx = click.get_current_context()
    plan = plan_outputs(formats, output, list(FORMATS))
    # one ledger: the quality baseline is read from the ledger the decision goes to (by default
    # the user state directory's, whatever the source: ``default_path``)
    ledger = ledger or default_path(source)
    options = GateOptions(
        registry=from_context(),
        stage=stage,
        policy_dir=policy,
        data_file=data,
        waivers=tuple(load_waivers(waivers)) if waivers else (),
        waiver_file=waivers,
        kind=ArtifactKind(kind) if kind else None,
        inventory=InventoryOptions(author=config_author(ctx)),
        vulns=VulnOptions(db=db, max_db_age=max_db_age),
        verify=verify_options(verify_flags),
        attestations=AttestationOptions.from_flags(verify_flags, ledger=ledger),
        settings_sources=setting_sources(ctx),
        user_config=user_config(ctx),
        whole_policy_input=save_input is not None,
    )
    outcome = pipeline.gate(source, options)
    assert outcome.decision is not None
    # A report or evidence file that cannot be written fails early when that is visible (a
    # missing directory, no permission) ...
    check_writable(plan, save_input, verify_flags.get("attestation_output"))
    # ... and otherwise while it is written (a full disk): every file is written whole
    # (temporary file, fsync, rename) inside the ledger's write transaction, and the entry is
    # committed only after the last of them. A run whose report or evidence could not be written
    # exits 2 and is never recorded as a promotion.
    written: list[Path] = []
    with _ledger_entry(None if no_ledger else ledger, outcome.record, source, written):
        staged = []
        try:
            if save_input:
                text = json.dumps(outcome.policy_input, indent=2)
                staged.append(stage_file(save_input, [text], "the policy input"))
            attestation = emit_attestation(outcome, verify_flags)
            if attestation is not None:
                staged.append(attestation)
            render = record_renderer(outcome.record)
            staged += stage_outputs(plan, render)
            write_stdout(plan, render)
            for item in staged:  # every file is whole: put them in place
                item.commit()
                if item.placed is not None:  # a regular file this run replaced (not /dev/stdout)
                    written.append(item.placed)
        finally:
            for item in staged:
                item.discard()  # those not in place
    _announce(outcome.decision, stage, table_shown=("table", None) in plan)
    return 0 if outcome.decision.allow else 1


@contextlib.contextmanager
def _ledger_entry(ledger: Path | None, record: dict[str, Any], source: str, written: list[Path]) -> Any:
    """The ledger entry around the writing of the outputs (``ledger`` None: none). When no entry
    is committed after some files were put in place (a later one or the commit failed), those
    files, which name the entry, are removed."""
    if ledger is None:
        yield
        return
    from scanner.evidence.ledger import recording

    try:
        with recording(ledger, record, source):
            yield
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def _announce(decision: Any, stage: str, *, table_shown: bool) -> None:
    """The policy's warnings on stderr, where a CI log shows them even when every report went to
    a file (the table on stdout already lists them): a critical vulnerability with a fix warns at
    dev, the default stage, instead of passing silently."""
    from scanner import ui

    if table_shown or not decision.warn:
        return
    verdict = "allowed" if decision.allow else "denied"
    ui.warn(f"promotion to {stage} {verdict} with {len(decision.warn)} warning(s):")
    for reason in decision.warn:
        ui.warn(f"[{reason.rule}] {reason.message}")
