"""Typed options for each stage and check of the pipeline (``scanner.pipeline``).

The command line maps flags, ``SCANNER_*`` variables and an explicit config file to these; checks
read them from ``GateContext.options``. Frozen, so a batch can share one set across many runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.core import ArtifactKind, Severity
from scanner.stage import Stage
from scanner.verify.attestation import AttestationOptions
from scanner.waivers import Waiver

DEFAULT_SECOND_OPINION_MAX_BYTES = 256 << 20


@dataclass(frozen=True)
class RegistryOptions:
    """How a registry is reached and how much may be fetched from it (``scanner.registry``).
    ``plain_http``: HTTP instead of HTTPS (a local registry without TLS); ``max_bytes``: the most
    bytes of blobs one artifact may bring (``--max-artifact-size``); ``max_manifest_size``: the most
    bytes of one manifest or index; ``timeout``: seconds to wait for the registry to connect or
    answer (not for a whole transfer)."""

    plain_http: bool = False
    max_bytes: int = 32 << 30
    max_manifest_size: int = 4 << 20  # what distribution itself accepts
    timeout: float = 30.0


@dataclass(frozen=True)
class InventoryOptions:
    """``input_type`` picks what a directory is read as (``scanner sbom --input-type``);
    ``verify_files`` compares every installed file of an environment with its RECORD;
    ``merges`` are CycloneDX BOMs merged into the result; ``author`` authors generated SBOMs."""

    input_type: str | None = None
    verify_files: bool = True
    merges: tuple[Path, ...] = ()
    author: str | None = None


@dataclass(frozen=True)
class ModelOptions:
    """``second_opinion`` also runs modelscan's engine on files up to ``second_opinion_max_bytes``;
    ``unknown_global_severity`` rates a pickle import on neither the safe nor the denied list."""

    second_opinion: bool = True
    second_opinion_max_bytes: int = DEFAULT_SECOND_OPINION_MAX_BYTES
    unknown_global_severity: Severity = Severity.MEDIUM

    def scan_settings(self) -> dict[str, Any]:
        """What the format scanners read (``FormatContext.settings``)."""
        return {"model_unknown_global_severity": self.unknown_global_severity}


@dataclass(frozen=True)
class VulnOptions:
    """``db``: the vulnerability database (default: the user cache one, built from the bundled
    snapshot); ``max_db_age``: days, an older snapshot stops the run (exit 2). ``opened``: that
    database already open (``scanner.vulns.db.Database``), for a caller that judges many artifacts
    with one connection (a batch worker); the check then neither opens nor closes it."""

    db: Path | None = None
    max_db_age: int | None = None
    opened: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class VerifyOptions:
    """Signature and provenance verification. Identities and trusted builders default to the
    policy data when no option names them."""

    bundles: tuple[Path, ...] = ()
    provenance: tuple[Path, ...] = ()
    key: Path | None = None
    cert_chain: tuple[Path, ...] = ()
    cert_identity: str | None = None
    cert_identity_regexp: str | None = None
    cert_oidc_issuer: str | None = None
    github_repository: str | None = None
    github_ref: str | None = None
    github_trigger: str | None = None
    github_sha: str | None = None
    trusted_root: Path | None = None
    staging: bool = False
    builder_ids: tuple[str, ...] = ()
    source_repo: str | None = None
    source_ref: str | None = None


@dataclass(frozen=True)
class GateOptions:
    """Everything a run needs besides the source. ``policy_data`` ``None`` reads ``data_file``
    (default: ``data.json`` in the policy directory); ``settings_sources`` names where each
    setting came from (flag, environment, config file, default) for the evidence record."""

    stage: str | Stage = "dev"
    policy_dir: Path | None = None
    policy_data: Mapping[str, Any] | None = None
    data_file: Path | None = None
    waivers: tuple[Waiver, ...] = ()
    waiver_file: Path | None = None
    kind: ArtifactKind | None = None
    inventory: InventoryOptions = field(default_factory=InventoryOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    vulns: VulnOptions = field(default_factory=VulnOptions)
    verify: VerifyOptions = field(default_factory=VerifyOptions)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    attestations: AttestationOptions = field(default_factory=AttestationOptions)
    settings_sources: Mapping[str, str] = field(default_factory=dict)
    now: dt.datetime | None = None
    user_config: Path | None = None  # the user-level config read without --config: never from the scanned tree
    # the caller keeps the policy input (``gate --save-input``): build it whole, ``sbom.components``
    # included even when no policy module reads them
    whole_policy_input: bool = False
