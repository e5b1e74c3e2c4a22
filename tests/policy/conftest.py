"""Shared fixtures: the shipped policies compiled once, and inputs built by the real builder."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from scanner.check import CheckResult
from scanner.core import Artifact, ArtifactKind, Finding, Severity
from scanner.inventory.components import Component, Inventory
from scanner.policy.engine import PolicyEngine
from scanner.policy.input import build_input, match_waivers
from scanner.resources import policies_dir
from scanner.waivers import Waiver

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
STAGES = ("dev", "staging", "prod")
GOOD_SIGNATURE = {
    "type": "sigstore-bundle",
    "subject": "app",
    "bundle": "app.sigstore.json",
    "verified": True,
    "identity": "https://github.com/example-org/app/.github/workflows/release.yml@refs/tags/v1.2.0",
    "issuer": "https://token.actions.githubusercontent.com",
    "error": None,
}
GOOD_PROVENANCE = {
    "verified": True,
    "predicate_type": "https://slsa.dev/provenance/v1",
    "builder_id": "https://github.com/actions/runner/github-hosted",
    "build_type": "x",
    "source": {"repository": "https://github.com/example-org/app", "ref": "refs/tags/v1.2.0", "digest": None},
    "materials": [],
    "subject_matches": True,
    "trusted_builder": True,
    "error": None,
}
# the PASSED verification summary from staging that promotion to prod needs (stage-skipped)
STAGING_VSA = {
    "https://slsa.dev/verification_summary/v1": [
        {
            "source": "staging.vsa.json",
            "counted": True,
            "predicate_type": "https://slsa.dev/verification_summary/v1",
            "signer": "key:sha256:0123456789abcdef (gate.pub)",
            "result": "PASSED",
            "stage": "staging",
        }
    ]
}
FRESH_DB = {"vulnerability_db": {"source": "osv", "snapshot_date": "2026-11-22", "age_days": 1, "records": 10}}


def shipped_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((policies_dir() / "data.json").read_text())
    return data


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine(policies_dir(), shipped_data())


def vuln(
    vid: str = "PYSEC-2023-74",
    severity: Severity = Severity.HIGH,
    fix: bool = True,
    package: str = "requests",
    version: str = "2.28.1",
    aliases: Sequence[str] = ("CVE-2023-32681",),
) -> Finding:
    purl = f"pkg:pypi/{package}@{version}"
    return Finding(
        "VULN-KNOWN",
        "vulns",
        severity,
        purl,
        f"{vid} in {package}",
        {
            "vuln_id": vid,
            "aliases": list(aliases),
            "package": package,
            "version": version,
            "purl": purl,
            "cvss_vector": None,
            "cvss_score": None,
            "severity_known": True,
            "fixed_in": "2.31.0" if fix else None,
            "fix_available": fix,
            "summary": "s",
        },
    )


def model(rule: str = "MODEL-PICKLE-GLOBAL", severity: Severity = Severity.CRITICAL, subject: str = "m.pkl") -> Finding:
    return Finding(rule, "model", severity, subject, "os.system", {"global": "os.system", "offset": 12})


Build = Callable[..., dict[str, Any]]


@pytest.fixture
def make_input() -> Build:
    """An input document from the real builder: by default a clean, signed, audited app."""

    def build(
        stage: str = "prod",
        findings: Sequence[Finding] = (),
        *,
        kind: ArtifactKind = ArtifactKind.APP_DIR,
        signatures: list[dict[str, Any]] | None = None,
        provenance: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        licenses: Sequence[str] = ("MIT",),
        waivers: Sequence[Waiver] = (),
        complete: bool = True,
    ) -> dict[str, Any]:
        results = [
            CheckResult("findings", findings=list(findings), complete=complete, context=copy.deepcopy(FRESH_DB)),
            CheckResult(
                "signature",
                section="signatures",
                data=[GOOD_SIGNATURE] if signatures is None else signatures,
            ),
            CheckResult(
                "provenance",
                section="provenance",
                data=[GOOD_PROVENANCE] if provenance is None else provenance,
            ),
        ]
        if context is not None:
            results[0].context = context
        inv = Inventory(
            components=[
                Component(f"c{i}", f"lib{i}", "1.0", purl=f"pkg:pypi/lib{i}@1.0", licenses=[lic])
                for i, lic in enumerate(licenses)
            ]
        )
        art = Artifact(Path("app"), kind, "app", "sha256:" + "a" * 64)
        matched = match_waivers(results, list(waivers), NOW)
        evidence = {"attestations": copy.deepcopy(STAGING_VSA)}
        return build_input(art, stage, inv, results, matched, now=NOW, evidence=evidence)

    return build


def rules(reasons: Sequence[Any]) -> set[str]:
    return {r.rule for r in reasons}
