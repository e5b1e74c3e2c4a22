"""Fixtures for the report tests: one realistic, hostile evidence record built by the real
record builder from real files, findings, waivers and a decision."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.artifact import detect
from scanner.check import CheckResult
from scanner.core import ArtifactKind, Decision, Finding, Reason, Severity
from scanner.evidence.record import build_record
from scanner.inventory.components import Component, Inventory
from scanner.policy.input import build_input, match_waivers
from scanner.waivers import parse_waivers
from tests.report.browser import Browser, find_chromium

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone.utc)
EVIL_NAME = '"><img src=x onerror=alert(1)>.pt'
EVIL_CARD = "<script>alert('card')</script> **bold** [x](javascript:alert(2)) | pipe"
GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/models",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_ACTOR": "alice",
    "GITHUB_WORKFLOW": "promote",
    "GITHUB_JOB": "gate",
    "GITHUB_EVENT_NAME": "push",
}


def make_artifact_dir(root: Path) -> Path:
    app = root / "app"
    (app / "models").mkdir(parents=True)
    (app / "requirements.txt").write_text("requests==2.19.0\nflask>=2\nPyYAML==5.3\n")
    (app / "models" / "classifier.pt").write_bytes(b"PK\x03\x04 not really a zip, harmless bytes")
    (app / "models" / EVIL_NAME).write_bytes(b"\x80\x02cos\nsystem\nq\x00.")
    (app / "README.md").write_text(EVIL_CARD)
    return app


def make_results(app: Path) -> list[CheckResult]:
    evil = f"models/{EVIL_NAME}"
    model = [
        Finding(
            "MODEL-PICKLE-GLOBAL",
            "model",
            Severity.CRITICAL,
            f"{evil}!archive/data.pkl",
            "pickle imports os.system, which runs a shell command when loaded",
            {"global": "os.system", "member": "archive/data.pkl", "offset": 2, "format": "pytorch-zip"},
            fix="convert to safetensors",
        ),
        Finding(
            "MODEL-UNSCANNABLE",
            "model",
            Severity.HIGH,
            "models/classifier.pt",
            "truncated zip archive: central directory not found",
            {"format": "pytorch-zip"},
        ),
    ]
    vulns = [
        Finding(
            "VULN-KNOWN",
            "vulns",
            Severity.HIGH,
            "pkg:pypi/requests@2.19.0",
            "requests 2.19.0: Insufficiently Protected Credentials (GHSA-x84v-xcm2-53pg)",
            {
                "vuln_id": "GHSA-x84v-xcm2-53pg",
                "aliases": ["CVE-2018-18074", "PYSEC-2018-28"],
                "package": "requests",
                "version": "2.19.0",
                "purl": "pkg:pypi/requests@2.19.0",
                "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                "cvss_score": 7.5,
                "severity_known": True,
                "fixed_in": "2.20.0",
                "fix_available": True,
                "summary": EVIL_CARD,
            },
            fix="upgrade requests to 2.20.0",
        ),
        Finding(
            "VULN-KNOWN",
            "vulns",
            Severity.MEDIUM,
            "pkg:pypi/pyyaml@5.3",
            "pyyaml 5.3: arbitrary code execution in full_load (PYSEC-2020-96), severity unknown",
            {
                "vuln_id": "PYSEC-2020-96",
                "aliases": ["CVE-2020-1747"],
                "package": "pyyaml",
                "version": "5.3",
                "purl": "pkg:pypi/pyyaml@5.3",
                "cvss_vector": None,
                "cvss_score": None,
                "severity_known": False,
                "fixed_in": "5.3.1",
                "fix_available": True,
                "summary": "code execution",
            },
        ),
    ]
    sbom = [
        Finding(
            "SBOM-UNPINNED-REQUIREMENT",
            "sbom",
            Severity.MEDIUM,
            "requirements.txt:2",
            "flask>=2 is not pinned",
            {"line": 2, "requirement": "flask>=2"},
        ),
        Finding(
            "SBOM-NTIA-SUPPLIER",
            "sbom",
            Severity.LOW,
            "sbom",
            "3 component(s) without a supplier",
            {"element": "SUPPLIER", "components": ["pkg:pypi/requests@2.19.0"], "count": 3},
        ),
    ]
    signatures = [
        {
            "type": "sigstore-bundle",
            "subject": evil,
            "bundle": "models/classifier.pt.sigstore.json",
            "verified": False,
            "identity": "https://github.com/acme/models/.github/workflows/sign.yml@refs/heads/main",
            "issuer": "https://token.actions.githubusercontent.com",
            "error": "Bundle message digest mismatch <b>x</b>",
        }
    ]
    vuln_ctx = {
        "vulnerability_db": {"source": "osv-pypi", "snapshot_date": "2026-11-01", "age_days": 19, "records": 4711}
    }
    return [
        CheckResult("model", model, complete=False),
        CheckResult("vulns", vulns, context=vuln_ctx),
        CheckResult("sbom", sbom),
        CheckResult(
            "signature",
            [Finding("SIGNATURE-INVALID", "signature", Severity.HIGH, evil, "Bundle message digest mismatch", {})],
            data=signatures,
            section="signatures",
        ),
    ]


def make_inventory() -> Inventory:
    comps = [
        Component(
            "pkg:pypi/requests@2.19.0",
            "requests",
            "2.19.0",
            purl="pkg:pypi/requests@2.19.0",
            licenses=["Apache-2.0"],
            source="app/requirements.txt:1",
        ),
        Component("pkg:pypi/flask", "flask", None, source="app/requirements.txt:2"),
        Component("pkg:pypi/pyyaml@5.3", "PyYAML", "5.3", purl="pkg:pypi/pyyaml@5.3", licenses=["MIT"]),
        Component(
            "model:classifier",
            EVIL_NAME,
            "1",
            type="machine-learning-model",
            description=EVIL_CARD,
            supplier="<b>acme</b>",
        ),
    ]
    return Inventory(root=None, components=comps)


WAIVERS = [
    {
        "id": "W-7",
        "selector": {"rule": "VULN-KNOWN", "finding": "CVE-2020-1747"},
        "reason": 'not reachable: we only use safe_load "><script>alert(3)</script>',
        "owner": "platform-team",
        "approved_by": "security-lead",
        "expires": "2027-01-31",
    },
    {
        "id": "W-OLD",
        "selector": {"rule": "SBOM-*"},
        "reason": "legacy",
        "owner": "bob",
        "expires": "2026-01-01",
    },
]


def make_record(root: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    app = make_artifact_dir(root)
    artifact = detect(app, ArtifactKind.APP_DIR)
    inventory = make_inventory()
    results = make_results(app)
    waivers = parse_waivers(WAIVERS, "waivers.yaml")
    matched = match_waivers(results, waivers, NOW)
    policy_input = build_input(artifact, "prod", inventory, results, matched, now=NOW)
    waiver_file = root / "waivers.yaml"
    waiver_file.write_text("waivers: []\n")
    decision = Decision(
        allow=False,
        deny=(
            Reason("model-unsafe", f"critical finding MODEL-PICKLE-GLOBAL in {EVIL_NAME}", "convert to safetensors"),
            Reason("waiver-expired", "waiver W-OLD expired on 2026-01-01"),
        ),
        warn=(Reason("db-age", "vulnerability database is 19 days old"),),
    )
    from scanner.resources import policies_dir

    return build_record(
        command="gate",
        artifact=artifact,
        inventory=inventory,
        results=results,
        findings=matched.findings,
        waivers=policy_input["waivers"],
        decision=decision,
        stage="prod",
        now=NOW,
        policy_dir=policies_dir(),
        data_file=policies_dir() / "data.json",
        waiver_file=waiver_file,
        environ=env if env is not None else GITHUB_ENV,
    )


@pytest.fixture(scope="session")
def sample_record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_record(tmp_path_factory.mktemp("record"))


ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = find_chromium()
    if exe is None:
        message = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{message}: the browser test must run in CI")
        pytest.skip(message)
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(exe) as b:
        yield b
