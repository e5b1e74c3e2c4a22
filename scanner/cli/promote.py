"""``scanner promote``: gate an artifact in a registry and, when allowed, promote it by digest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.audit import db_option, max_age_option
from scanner.cli.evidence_options import attestation_options
from scanner.cli.options import (
    common_options,
    config_author,
    ledger_options,
    output_options,
    plan_outputs,
    setting_sources,
    stage_outputs,
    write_outputs,
    write_stdout,
)
from scanner.cli.registry_options import from_context, registry_options
from scanner.cli.verify import gate_options, verify_options

if TYPE_CHECKING:
    from scanner.registry.promote import PromotionResult

FORMATS = ["table", "json"]


@click.command()
@click.argument("source", metavar="oci://SRC")
@click.argument("target", metavar="oci://DST:TAG")
@click.option(
    "--stage",
    required=True,
    envvar="SCANNER_STAGE",
    help="The stage DST stands for (the gate decides for this stage; the policy data defines the ladder).",
)
@click.option("--policy", type=click.Path(path_type=Path), envvar="SCANNER_POLICY", help="Policy directory.")
@click.option("--data", type=click.Path(path_type=Path), envvar="SCANNER_DATA", help="Policy data JSON.")
@click.option("--waivers", type=click.Path(path_type=Path), envvar="SCANNER_WAIVERS", help="Waivers YAML.")
@ledger_options(
    "Append the decision (with source, target and digest) to this ledger (default: the user state "
    "directory's, $XDG_STATE_HOME/scanner/ledger.db).",
    "Do not record the decision.",
)
@db_option
@max_age_option
@gate_options
@attestation_options
@registry_options
@output_options(FORMATS, fail_on=False)
@common_options
def promote(
    source: str,
    target: str,
    stage: str,
    policy: Path | None,
    data: Path | None,
    waivers: Path | None,
    ledger: Path | None,
    no_ledger: bool,
    db: Path | None,
    max_db_age: int | None,
    formats: tuple[str, ...],
    output: str | None,
    **verify_flags: Any,
) -> int:
    """Gate SOURCE for STAGE and, when allowed, make TARGET resolve to exactly the same manifest
    digest (blobs mounted inside a registry, streamed across registries), with the signed
    verification summary (--sign-key, or Sigstore keyless in CI), the SBOM and the evidence record
    attached as OCI referrers; SOURCE's own referrers are copied along to another repository.

    \b
    The decision goes to the ledger in the same transaction as the tag move: inserted before the
    tag is moved, committed after; the reports name that entry.

    \b
    Exit 0 promoted (or already there), 1 denied (TARGET untouched), 2 error (TARGET's tag left, or
    put back, where it was; the error says when it could not be).
    """
    from scanner import ui
    from scanner.cli.render import record_renderer
    from scanner.options import GateOptions, InventoryOptions, VulnOptions
    from scanner.registry.promote import promote as do_promote
    from scanner.registry.promote import summary_line
    from scanner.registry.reference import parse_reference
    from scanner.verify.attestation import AttestationOptions
    from scanner.waivers import load_waivers

    src = parse_reference(source, require="tag-or-digest")
    dst = parse_reference(target, require="tag")
    plan = plan_outputs(formats, output, FORMATS)
    ctx = click.get_current_context()
    registry = from_context()
    options = GateOptions(
        stage=stage,
        policy_dir=policy,
        data_file=data,
        waivers=tuple(load_waivers(waivers)) if waivers else (),
        waiver_file=waivers,
        inventory=InventoryOptions(author=config_author(ctx)),
        vulns=VulnOptions(db=db, max_db_age=max_db_age),
        verify=verify_options(verify_flags),
        registry=registry,
        # the baseline comes from the target tag's VSA (scanner.registry.promote), not the ledger
        attestations=AttestationOptions.from_flags(verify_flags),
        settings_sources=setting_sources(ctx),
    )
    staged: list[Any] = []

    def renderer(result: PromotionResult) -> Callable[[str], str]:
        record = result.outcome.record

        def render(fmt: str) -> str:
            # both name the ledger entry (seq, hash) committed with this promotion
            if fmt == "json":
                assert result.outcome.decision is not None
                doc = {
                    **result.to_dict(),
                    "decision": result.outcome.decision.to_dict(),
                    "ledger": record.get("ledger"),
                }
                return json.dumps(doc, indent=2) + "\n"
            return "".join(record_renderer(record)("table")) + _ledger_line(record.get("ledger"))

        return render

    def before_tag_move(result: PromotionResult) -> None:
        # inside the ledger's write transaction, the entry known but not committed: every report
        # file written in full before the tag moves (one that cannot be written stops the
        # promotion: exit 2, tag untouched, the ledger says not promoted), put in place after the
        # entry is committed (discarded when it is not)
        staged.extend(stage_outputs(plan, renderer(result)))

    try:
        result = do_promote(
            src,
            dst,
            options,
            registry,
            sign_key=verify_flags.get("sign_key"),
            ledger=ledger,
            record_ledger=not no_ledger,
            before_tag_move=before_tag_move,
        )
        ui.info(summary_line(result))
        render = renderer(result)
        if staged:
            write_stdout(plan, render)
            for item in staged:
                item.commit()
        else:  # denied: nothing was staged
            write_outputs(plan, render)
    finally:
        for item in staged:
            item.discard()  # those not in place
    return 0 if result.allowed else 1


def _ledger_line(entry: dict[str, Any] | None) -> str:
    """The table's last line: the entry (none with --no-ledger)."""
    if not entry:
        return ""
    return f"ledger: #{entry['seq']} {entry['hash']} in {entry['path']}\n"
