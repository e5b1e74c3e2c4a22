"""The evidence record: one JSON document every report format renders.

It answers what was checked (the artifact, the sha256 of each of its files, the SBOM), by what
(tool version, vulnerability database snapshot, digests of the policy directory, the policy data
and the waivers file, the sha256 of the signature, provenance and attestation files as verified,
the referrer and layer digests of the evidence attached in a registry as verified), where and
when (timestamp and CI context), what was found (findings with their ``waived`` annotation),
which waivers applied, and what was decided with every reason.
The schema is versioned (``schema``) and documented in ``docs/evidence-schema.json``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.check import CheckResult
from scanner.core import Artifact, Decision, ScanError, Severity
from scanner.evidence.ci import ci_context
from scanner.files import FileSet
from scanner.inventory.components import Inventory
from scanner.stage import Stage

SCHEMA_VERSION = "2"
SCHEMA_ID = f"scanner-evidence/{SCHEMA_VERSION}"


def build_record(
    *,
    command: str,
    artifact: Artifact,
    inventory: Inventory | None,
    results: Sequence[CheckResult],
    findings: list[dict[str, Any]] | None = None,
    waivers: list[dict[str, Any]] | None = None,
    decision: Decision | None = None,
    stage: Stage | str | None = None,
    extra: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    policy_dir: Path | None = None,
    data_file: Path | None = None,
    waiver_file: Path | None = None,
    sbom: dict[str, Any] | None = None,
    components: Sequence[dict[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    settings_sources: Mapping[str, str] | None = None,
    files: FileSet | None = None,
    digests: Mapping[Path, str] | None = None,
) -> dict[str, Any]:
    """``findings`` are the waiver-annotated dicts when waivers were applied; otherwise the
    results' findings, unwaived. ``sbom`` is the CycloneDX document of the inventory, when the
    caller has one; ``components`` the inventory's component dicts when the caller already made
    them. The record carries the inventory once: as the ``sbom`` when there is one (gate, sbom),
    else as the ``components`` list (scan, audit). ``digests`` are digests the caller already
    took of ``policy_dir`` / ``data_file`` / ``waiver_file`` when it read them (a prepared policy
    judging many artifacts), so they are not hashed again for every record."""
    if findings is None:
        findings = [{**f.to_dict(), "waived": None} for r in results for f in r.findings]
    if isinstance(stage, str):
        stage = Stage.parse(stage)
    now = now or dt.datetime.now(dt.timezone.utc)
    context: dict[str, Any] = {}
    for r in results:
        context.update(r.context)
    record: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "command": command,
        "timestamp": now.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": {"name": "scanner", "version": __version__},
        "artifact": {**artifact.to_dict(), "files": artifact_files(artifact.path, files)},
        "stage": stage.name if stage else None,
        "promotion": stage.promotion() if stage else None,
        "inputs": {
            "policy": _dir_input(policy_dir, digests),
            "data": _file_input(data_file, digests),
            "waivers": _file_input(waiver_file, digests),
            "vulnerability_db": context.get("vulnerability_db"),
            "settings": dict(settings_sources or {}),
            "signature_files": signature_files(results),
            "attached_evidence": attached_evidence(results),
        },
        "ci": ci_context(os.environ if environ is None else environ),
        "inventory": inventory.summary() if inventory else None,
        **_inventory_once(inventory, sbom, components),
        "checks": [
            {
                "check": r.check,
                "complete": r.complete,
                "findings": len(r.findings),
                "summary": r.summary,
            }
            for r in results
        ],
        "sections": {r.section: r.data for r in results if r.section},
        "context": context,
        "findings": findings,
        "counts": severity_counts(findings),
        "waivers": waivers or [],
        "decision": decision.to_dict() if decision else None,
    }
    if extra:
        record.update(extra)
    return record


def signature_files(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The files from outside the artifact the checks read (signatures and provenance beside it
    or named by an option, attestations named by ``--attestation``), each once, with the sha256
    of exactly the bytes that were verified (``CheckResult.inputs``): not hashed again here,
    where the file could have changed since."""
    listed: dict[str, dict[str, Any]] = {}
    for r in results:
        for item in r.inputs:
            listed.setdefault(str(item.path), item.to_dict())
    return list(listed.values())


def attached_evidence(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The signatures and attestations attached in a registry that the checks read (OCI
    referrers), each layer once: the referrer manifest's digest and the digest and size of the
    layer whose bytes were verified (``CheckResult.attached``)."""
    listed: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        for item in r.attached:
            listed.setdefault((item.ref, item.layer), item.to_dict())
    return list(listed.values())


def _inventory_once(
    inventory: Inventory | None, sbom: dict[str, Any] | None, components: Sequence[dict[str, Any]] | None
) -> dict[str, Any]:
    """The inventory, carried once: the CycloneDX ``sbom`` when the run made one (``components``
    is then absent: every component, with its ``scanner:source`` property, is in the SBOM), else
    the ``components`` list."""
    if sbom is not None:
        return {"sbom": sbom}
    if inventory is None:
        return {"components": [], "sbom": None}
    listed = list(components) if components is not None else [c.to_dict() for c in inventory.components]
    return {"components": listed, "sbom": None}


def severity_counts(findings: Sequence[Mapping[str, Any]], *, include_waived: bool = True) -> dict[str, int]:
    """Finding counts by severity, most severe first (only severities that occur)."""
    counts: dict[str, int] = {}
    for f in findings:
        if include_waived or not f.get("waived"):
            counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return {s.value: counts[s.value] for s in reversed(Severity) if s.value in counts}


def artifact_files(root: Path, files: FileSet | None = None) -> list[dict[str, Any]]:
    """Every file of the artifact with its sha256, from the run's ``files`` (each file was hashed
    once, from the descriptor the checks read). A link leaving the tree is listed, never read."""
    fileset = files if files is not None else FileSet(root)
    listed: list[dict[str, Any]] = []
    try:
        entries = fileset.entries
    except (OSError, ScanError):
        return listed
    for entry in entries:
        item: dict[str, Any] = {"path": entry.rel, "sha256": None, "size": None}
        if entry.is_symlink:
            item["symlink"] = True
        if entry.escapes:
            item["escapes"] = True
        elif entry.problem is not None:
            item["not_read"] = entry.problem
        else:
            try:
                digest = fileset.digest(entry)
                item["size"] = digest.size
                item["sha256"] = digest.sha256
            except (OSError, ScanError) as exc:
                item["error"] = getattr(exc, "strerror", None) or str(exc)
        listed.append(item)
    return listed


def _file_input(path: Path | None, known: Mapping[Path, str] | None = None) -> dict[str, Any] | None:
    from scanner.files import sha256_file

    if path is None or not path.is_file():
        return None
    return {"path": str(path), "sha256": (known or {}).get(path) or sha256_file(path)}


def _dir_input(path: Path | None, known: Mapping[Path, str] | None = None) -> dict[str, Any] | None:
    from scanner.files import directory_digest

    if path is None or not path.is_dir():
        return None
    return {"path": str(path), "digest": (known or {}).get(path) or directory_digest(path)}
