"""``scanner audit`` end to end: real pins against the bundled snapshot, every input kind,
unauditable dependencies, waivers, database age, and the gate's check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.vulns.audit import audit
from scanner.vulns.db import Database
from scanner.vulns.dependency import Dependency

# (pin, vuln_id, aliases that must be folded in, fixed_in, severity, cvss_score)
REAL_PINS = [
    ("requests==2.28.1", "PYSEC-2023-74", {"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"}, "2.31.0", "medium", None),
    ("urllib3==1.26.5", "PYSEC-2023-192", {"CVE-2023-43804", "GHSA-v845-jxx5-vc9f"}, "1.26.17", "high", 8.1),
    ("urllib3==1.26.5", "PYSEC-2023-212", {"CVE-2023-45803", "GHSA-g4mx-q9vg-27p4"}, "1.26.18", "medium", 4.2),
    ("PyYAML==5.3.1", "PYSEC-2021-142", {"CVE-2020-14343", "GHSA-8q59-q68h-6hv4"}, "5.4", "medium", None),
    ("Jinja2==2.11.2", "PYSEC-2021-66", {"CVE-2020-28493", "GHSA-g3rq-g295-4j3m"}, "2.11.3", "medium", None),
    ("pillow==9.0.0", "PYSEC-2022-168", {"CVE-2022-24303", "GHSA-9j59-75qj-795w"}, "9.0.1", "medium", None),
]


def _findings(run: Any) -> list[dict[str, Any]]:
    return json.loads(run.out)["findings"]


def _known(findings: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["evidence"]["package"], f["evidence"]["vuln_id"]): f for f in findings if f["id"] == "VULN-KNOWN"}


@pytest.mark.parametrize(
    ("pin", "vid", "aliases", "fixed", "severity", "score"), REAL_PINS, ids=[p[1] for p in REAL_PINS]
)
def test_real_pins(
    snapshot_db: Path, pin: str, vid: str, aliases: set[str], fixed: str, severity: str, score: float | None
) -> None:
    name, _, version = pin.partition("==")
    with Database(snapshot_db) as db:
        result = audit([Dependency(name.lower(), version, "test")], db)
    found = {f.evidence["vuln_id"]: f for f in result.findings}
    assert vid in found
    f = found[vid]
    assert f.id == "VULN-KNOWN" and f.check == "vulns" and f.severity.value == severity
    assert f.subject == f"pkg:pypi/{name.lower()}@{version}"
    ev = f.evidence
    assert set(ev["aliases"]) >= aliases and vid not in ev["aliases"]
    assert ev["fixed_in"] == fixed and ev["fix_available"] is True and ev["fixed_in"] != version
    assert ev["cvss_score"] == score and ev["severity_known"] is (score is not None)
    assert ("severity unknown" in f.message) is (score is None)
    assert f.fix == f"upgrade {name.lower()} to {fixed} or later"
    # one finding per vulnerability, never one per alias
    assert not any(a in found for a in ev["aliases"])


def test_fixed_and_unaffected_versions_are_clean(snapshot_db: Path) -> None:
    with Database(snapshot_db) as db:
        result = audit([Dependency("requests", "2.31.0", "t"), Dependency("urllib3", "2.2.3", "t")], db)
    ids = {(f.evidence["package"], f.evidence["vuln_id"]) for f in result.findings}
    assert ("requests", "PYSEC-2023-74") not in ids
    assert not any(p == "urllib3" for p, _ in ids)
    assert result.audited == 2 and result.unaudited == 0


def test_cli_requirements(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1 \\\n    --hash=sha256:abcd\nurllib3==1.26.5  # pinned\n")
    run = cli("audit", req, "--db", snapshot_db, "-f", "json")
    assert run.code == 1, run.err
    record = json.loads(run.out)
    known = _known(record["findings"])
    assert set(known) == {("requests", "PYSEC-2023-74"), ("urllib3", "PYSEC-2023-192"), ("urllib3", "PYSEC-2023-212")}
    assert known[("requests", "PYSEC-2023-74")]["evidence"]["source"] == f"{req}:1"
    db = record["vulnerability_db"]
    assert db["records"] == 2651 and db["snapshot_date"].startswith("2024-10-10") and db["age_days"] > 700
    assert "vulnerability database: bundled: PyPA advisory database" in run.err and "days old" in run.err
    assert record["command"] == "audit" and record["artifact"]["kind"] == "requirements"
    # --fail-on decides the exit code: the worst here is high
    assert cli("audit", req, "--db", snapshot_db, "--fail-on", "critical").code == 0
    assert cli("audit", req, "--db", snapshot_db, "--fail-on", "high").code == 1
    table = cli("audit", req, "--db", snapshot_db)
    assert table.code == 1 and "PYSEC-2023-192" in table.out and "VULN-KNOWN" in table.out


def test_default_database_is_the_bundled_snapshot(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1\n")
    run = cli("audit", req, "-f", "json")  # no --db: the cache database (the autouse cache dir)
    assert run.code == 1, run.err
    assert ("requests", "PYSEC-2023-74") in _known(_findings(run))
    assert json.loads(run.out)["vulnerability_db"]["source"].startswith("bundled:")


def test_stale_database_is_exit_2(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.31.0\n")
    run = cli("audit", req, "--db", snapshot_db, "--max-db-age", "30")
    assert run.code == 2 and run.out == ""
    assert "vulnerability database is" in run.err and "older than --max-db-age 30" in run.err
    assert cli("audit", req, "--db", snapshot_db, "--max-db-age", "100000").code == 0


def test_missing_database_is_exit_2(cli: Any, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.31.0\n")
    run = cli("audit", req, "--db", tmp_path / "none.sqlite")
    assert run.code == 2 and "no vulnerability database here" in run.err


def test_unauditable_dependencies_are_findings(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    (tmp_path / "base.txt").write_text("requests==2.28.1\n")
    req = tmp_path / "requirements.txt"
    req.write_text(
        "-r base.txt\n"
        "--index-url https://example.invalid/simple\n"
        "flask>=2\n"
        "six\n"
        "-e ./local-project\n"
        "pkg @ https://example.invalid/pkg-1.0.tar.gz\n"
        "weird===not.a/version\n"
        "this is not a requirement\n"
        "tomli==2.0.1; python_version < '3'\n"  # marker false: not installed, not reported
    )
    run = cli("audit", req, "--db", snapshot_db, "-f", "json", "--fail-on", "critical")
    assert run.code == 1, run.err  # only medium findings, but 0 of them audited: --fail-on never hides that
    findings = _findings(run)
    unaudited = {f["evidence"]["package"]: f["evidence"]["reason"] for f in findings if f["id"] == "VULN-UNAUDITED"}
    assert unaudited == {
        "flask": "not pinned to one version (>=2)",
        "six": "not pinned to one version (no version)",
        "./local-project": "editable requirement: no pinned version",
        "pkg": "URL requirement (https://example.invalid/pkg-1.0.tar.gz): no pinned version",
        "weird": "version 'not.a/version' is not a PEP 440 version",
        "this is not a requirement": unaudited["this is not a requirement"],
    }
    assert unaudited["this is not a requirement"].startswith("unparseable requirement:")
    assert all(f["severity"] == "medium" for f in findings if f["id"] == "VULN-UNAUDITED")
    assert ("requests", "PYSEC-2023-74") in _known(findings)  # from the -r include
    assert not any(f["evidence"].get("package") == "tomli" for f in findings)
    assert cli("audit", req, "--db", snapshot_db).code == 1  # unaudited counts at the default --fail-on low


def _waivers(tmp_path: Path, expires: str, finding: str = "CVE-2023-32681") -> Path:
    path = tmp_path / f"waivers-{expires}.yaml"
    path.write_text(
        "waivers:\n"
        "  - id: W-1\n"
        f"    selector: {{rule: VULN-KNOWN, finding: {finding}, purl: 'pkg:pypi/requests'}}\n"
        "    reason: proxies are not used\n"
        "    owner: platform\n"
        f"    expires: {expires}\n"
    )
    return path


def test_waiver_by_alias(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1\n")
    run = cli("audit", req, "--db", snapshot_db, "--waivers", _waivers(tmp_path, "2999-12-31"), "-f", "json")
    assert run.code == 0, run.err  # the only finding is waived
    record = json.loads(run.out)
    (finding,) = record["findings"]  # still in the report, marked
    assert finding["evidence"]["vuln_id"] == "PYSEC-2023-74"
    assert finding["waived"] == {
        "id": "W-1",
        "reason": "proxies are not used",
        "owner": "platform",
        "expires": "2999-12-31",
    }
    assert record["waivers"][0]["expired"] is False and record["waivers"][0]["matched"] == [0]
    assert "1 finding(s) waived: PYSEC-2023-74 on pkg:pypi/requests@2.28.1 by W-1" in run.err


def test_expired_waiver_stops_ignoring_and_says_so(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1\n")
    run = cli("audit", req, "--db", snapshot_db, "--waivers", _waivers(tmp_path, "2020-01-01"), "-f", "json")
    assert run.code == 1
    record = json.loads(run.out)
    assert record["findings"][0]["waived"] is None
    assert record["waivers"][0]["id"] == "W-1" and record["waivers"][0]["expired"] is True
    assert "waiver W-1 expired on 2020-01-01: it no longer ignores anything" in run.err


def _dist(site: Path, name: str, version: str | None) -> None:
    info = site / f"{name}-{version or 'x'}.dist-info"
    info.mkdir(parents=True)
    meta = f"Metadata-Version: 2.1\nName: {name}\n" + (f"Version: {version}\n" if version else "")
    (info / "METADATA").write_text(meta)


def test_environment_venv_and_site_packages(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (venv / "pyvenv.cfg").parent.mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    _dist(site, "Jinja2", "2.11.2")
    _dist(site, "requests", "2.32.3")
    _dist(site, "mystery", None)
    for target in (venv, site):
        run = cli("audit", target, "--db", snapshot_db, "-f", "json")
        assert run.code == 1, run.err
        findings = _findings(run)
        assert set(_known(findings)) == {("jinja2", "PYSEC-2021-66")}
        unaudited = [f["evidence"] for f in findings if f["id"] == "VULN-UNAUDITED"]
        assert [u["package"] for u in unaudited] == ["mystery"]
        assert unaudited[0]["reason"].startswith("installed, but cannot read the metadata of mystery-x.dist-info")
        assert json.loads(run.out)["artifact"]["kind"] == "environment"


def test_current_environment(cli: Any, snapshot_db: Path) -> None:
    run = cli("audit", "--db", snapshot_db, "-f", "json", "--fail-on", "none")
    assert run.code == 0, run.err
    names = {c["name"] for c in json.loads(run.out)["components"]}
    assert {"pip-audit", "click", "packaging"} <= names


def test_pyproject(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\nname = 'demo'\nversion = '1'\n"
        "dependencies = ['requests==2.28.1', 'click>=8']\n"
        "[project.optional-dependencies]\nyaml = ['PyYAML==5.3.1']\n"
        "[dependency-groups]\ndev = ['jinja2==2.11.2', {include-group = 'x'}]\n"
    )
    run = cli("audit", pyproject, "--db", snapshot_db, "-f", "json")
    assert run.code == 1, run.err
    findings = _findings(run)
    assert set(_known(findings)) == {
        ("requests", "PYSEC-2023-74"),
        ("pyyaml", "PYSEC-2021-142"),
        ("jinja2", "PYSEC-2021-66"),
    }
    (unaudited,) = [f for f in findings if f["id"] == "VULN-UNAUDITED"]
    assert unaudited["evidence"]["package"] == "click"
    assert unaudited["subject"] == str(pyproject)  # the inventory names the file, not the entry


def test_app_directory_audits_the_lockfile_and_the_requirements(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    """Every manifest of the directory is read: the lock file does not hide requirements.txt."""
    (tmp_path / "requirements.txt").write_text("requests==2.28.1\n")
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "urllib3"\nversion = "1.26.5"\n'
    )
    run = cli("audit", tmp_path, "--db", snapshot_db, "-f", "json")
    assert set(_known(_findings(run))) == {
        ("requests", "PYSEC-2023-74"),
        ("urllib3", "PYSEC-2023-192"),
        ("urllib3", "PYSEC-2023-212"),
    }


def test_sbom_round_trip(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    """Our SBOM in, the same findings out as auditing the requirements directly."""
    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1\nurllib3==1.26.5\nclick==8.1.7\nflask>=2\n")
    sbom = tmp_path / "sbom.json"
    made = cli("sbom", req, "-o", sbom)
    assert made.code == 0, made.err
    direct = _findings(cli("audit", req, "--db", snapshot_db, "-f", "json"))
    via_sbom = _findings(cli("audit", sbom, "--db", snapshot_db, "-f", "json"))
    assert (
        set(_known(via_sbom))
        == set(_known(direct))
        == {
            ("requests", "PYSEC-2023-74"),
            ("urllib3", "PYSEC-2023-192"),
            ("urllib3", "PYSEC-2023-212"),
        }
    )
    (unpinned,) = [f["evidence"] for f in via_sbom if f["id"] == "VULN-UNAUDITED"]
    assert unpinned["package"] == "flask"


def test_foreign_sbom(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    """An SBOM from another tool: purls with qualifiers and odd case, other ecosystems, nesting."""
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "Django", "version": "3.2", "purl": "pkg:pypi/Django@3.2"},
            {"type": "library", "name": "left-pad", "version": "1.0.0", "purl": "pkg:npm/left-pad@1.0.0"},
            {
                "type": "application",
                "name": "bundle",
                "components": [
                    {"type": "library", "name": "urllib3", "purl": "pkg:pypi/urllib3@1.26.5?file_name=urllib3.whl"}
                ],
            },
            {"type": "library", "name": "vendored-thing", "version": "1.0"},
            {"type": "file", "name": "README.md"},
        ],
    }
    path = tmp_path / "syft.cdx.json"
    path.write_text(json.dumps(bom))
    run = cli("audit", path, "--db", snapshot_db, "-f", "json")
    assert run.code == 1, run.err
    findings = _findings(run)
    known = _known(findings)
    assert ("django", "PYSEC-2021-7") in known and ("urllib3", "PYSEC-2023-192") in known
    assert not any(f["evidence"].get("package") == "left-pad" for f in findings)
    (unaudited,) = [f["evidence"] for f in findings if f["id"] == "VULN-UNAUDITED"]
    assert unaudited["package"] == "vendored-thing"
    assert unaudited["reason"] == "no package URL: ecosystem and version unknown"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bom.json", '{"bomFormat": "CycloneDX", "components": [', "not a JSON document"),
        ("requirements.txt", "-r missing.txt\n", "missing.txt: cannot read requirements file"),
        ("pyproject.toml", "[project\n", "malformed TOML"),
        ("pylock.toml", 'lock-version = "1.0"\n', "lock file has no package list"),
    ],
)
def test_bad_inputs_are_exit_2(
    cli: Any, tmp_path: Path, snapshot_db: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    run = cli("audit", path, "--db", snapshot_db, "--kind", _kind(name))
    assert run.code == 2 and message in run.err and "Traceback" not in run.err


def _kind(name: str) -> str:
    return {"bom.json": "sbom", "requirements.txt": "requirements", "pyproject.toml": "pyproject"}.get(name, "lockfile")


def test_gate_runs_the_vuln_check(cli: Any, tmp_path: Path, snapshot_db: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("urllib3==1.26.5\nflask>=2\n")
    saved = tmp_path / "input.json"
    run = cli("gate", req, "--db", snapshot_db, "--stage", "staging", "--save-input", saved, "-f", "json")
    assert run.code == 1, run.err  # a high vulnerability blocks staging
    record = json.loads(run.out)
    known = _known(record["findings"])
    assert ("urllib3", "PYSEC-2023-192") in known
    assert any(f["id"] == "VULN-UNAUDITED" and f["evidence"]["package"] == "flask" for f in record["findings"])
    assert any(d["rule"] == "vuln-fixable" and "PYSEC-2023-192" in d["message"] for d in record["decision"]["deny"])
    context = json.loads(saved.read_text())["context"]["vulnerability_db"]
    assert set(context) == {"source", "snapshot_date", "age_days", "records"} and context["records"] == 2651
    stale = cli("gate", req, "--db", snapshot_db, "--max-db-age", "1")
    assert stale.code == 2 and "older than --max-db-age 1" in stale.err


def test_version_reports_the_database(cli: Any, snapshot_db: Path) -> None:
    run = cli("version", "-f", "json")
    assert run.code == 0, run.err
    info = json.loads(run.out)["vulnerability_db"]
    assert info["source"].startswith("bundled: PyPA advisory database")
    assert info["snapshot_date"] == "2024-10-10T17:22:00.587279Z" and info["records"] == 2651


def test_fresh_process_audit_loads_no_heavy_modules(tmp_path: Path, snapshot_db: Path) -> None:
    """The audit path stays light: no pip-audit, rich, cvss or cyclonedx for a requirements file."""
    import subprocess
    import sys

    req = tmp_path / "requirements.txt"
    req.write_text("requests==2.28.1\n")
    code = (
        "import sys\nfrom scanner.cli import main\n"
        f"try:\n    main(['-q', 'audit', {str(req)!r}, '--db', {str(snapshot_db)!r}, '-f', 'json', '-o', "
        f"{str(tmp_path / 'out.json')!r}])\nexcept SystemExit as e:\n    assert e.code == 1, e.code\n"
        "heavy = [m for m in ('pip_audit', 'rich', 'cvss', 'cyclonedx', 'jinja2', 'numpy') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert "PYSEC-2023-74" in (tmp_path / "out.json").read_text()
