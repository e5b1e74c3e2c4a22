"""What is piped on standard input is read from a private temporary file (``scanner.stdin``), but
every output names it ``stdin`` (``stdin:LINE`` where a file has lines), never that file: a report
must not name a path that does not exist, and the same bytes give the same inventory. Each test
runs ``python -m scanner`` with real piped input."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

TEMP = "scanner-stdin-"
REQUIREMENTS = b"requests==2.0.0\n"  # three advisories in the bundled snapshot
PYPROJECT = b'[project]\nname = "x"\nversion = "1"\ndependencies = ["requests==2.0.0"]\n'
APP = REPO / "examples" / "app" / "requirements.txt"


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("true",)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANNER_") or k == "SCANNER_CACHE_DIR"}
    env.update(PYTHONPATH=str(REPO), XDG_STATE_HOME=str(tmp_path / "state"), NO_COLOR="1")
    return env


def _run(tmp_path: Path, data: bytes, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    work = cwd or tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "scanner", *map(str, args)],
        input=data,
        capture_output=True,
        cwd=work,
        env=_env(tmp_path),
        timeout=180,
    )


def _sign_key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "vsa.key"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _ledger_text(ledger: Path) -> str:
    with sqlite3.connect(ledger) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))


def _sources(bom: dict[str, Any]) -> set[str]:
    """Every ``scanner:source`` of the BOM's components and of its subject."""
    subject = (bom.get("metadata") or {}).get("component")
    return {
        p["value"]
        for c in [*(bom.get("components") or []), *([subject] if subject else [])]
        for p in c.get("properties") or []
        if p.get("name") == "scanner:source"
    }


PIPED = {
    "requirements": (REQUIREMENTS, ()),
    "pickle": (pickle.dumps(_Payload(), protocol=4), ()),
    "pyproject": (PYPROJECT, ("--kind", "pyproject")),
}


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
@pytest.mark.parametrize("content", sorted(PIPED))
def test_every_gate_output_names_piped_content_stdin(tmp_path: Path, content: str, name: str) -> None:
    data, extra = PIPED[content]
    out = tmp_path / "out"
    out.mkdir()
    ledger = tmp_path / "ledger.db"
    formats = ["json", "sarif", "html", "markdown", "table", "cyclonedx-json", "junit"]
    proc = _run(
        tmp_path,
        data,
        "gate",
        name,
        *extra,
        *[a for f in formats for a in ("-f", f"{f}={out / f}")],
        "--save-input",
        out / "input.json",
        "--ledger",
        ledger,
        "--attestation-output",
        out / "vsa.json",
        "--sign-key",
        _sign_key(tmp_path),
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    for written in sorted(out.iterdir()):
        assert TEMP not in written.read_text(), written.name
    assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
    assert TEMP not in _ledger_text(ledger)

    record = json.loads((out / "json").read_text())
    assert record["artifact"]["path"] == "stdin" and record["artifact"]["name"] == "stdin"
    assert record["artifact"]["source_ref"] == "-"
    policy_input = json.loads((out / "input.json").read_text())
    assert policy_input["artifact"]["path"] == "stdin"
    sarif = json.loads((out / "sarif").read_text())
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for run in sarif["runs"]
        for result in run["results"]
        for loc in result.get("locations") or []
    }
    assert uris == {"stdin"}
    bom = json.loads((out / "cyclonedx-json").read_text())
    if content == "pickle":
        assert {f["subject"] for f in record["findings"] if f["id"].startswith("MODEL-PICKLE")} == {"stdin"}
        assert _sources(bom) == {"stdin"}
    else:
        expected = "stdin:1" if content == "requirements" else "stdin"
        assert _sources(bom) == {expected}
        vulns = [f for f in record["findings"] if f["id"] == "VULN-KNOWN"]
        assert vulns and {f["evidence"]["source"] for f in vulns} == {expected}


@pytest.mark.parametrize(
    ("command", "data", "formats"),
    [
        ("audit", REQUIREMENTS, ["json", "sarif", "html", "markdown", "table", "junit"]),
        ("scan", pickle.dumps(_Payload(), protocol=4), ["json", "sarif", "html", "markdown", "table", "junit"]),
        ("sbom", REQUIREMENTS, ["cyclonedx-json", "cyclonedx-xml", "spdx-json"]),
    ],
)
def test_audit_scan_and_sbom_of_piped_content_name_it_stdin(
    tmp_path: Path, command: str, data: bytes, formats: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _run(tmp_path, data, command, "-", *[a for f in formats for a in ("-f", f"{f}={out / f}")])
    assert proc.returncode in (0, 1), proc.stderr.decode()
    assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
    for written in sorted(out.iterdir()):
        text = written.read_text()
        assert TEMP not in text, written.name
        assert "stdin" in text, written.name
    if command == "sbom":
        assert _sources(json.loads((out / "cyclonedx-json").read_text())) == {"stdin:1"}


def test_verify_of_piped_content_names_it_stdin(tmp_path: Path) -> None:
    proc = _run(tmp_path, REQUIREMENTS, "verify", "-", "-f", "json")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "no signature found" in err
    assert TEMP not in err + proc.stdout.decode()
    assert err.startswith("scanner: error: stdin:"), err


def test_the_same_piped_bytes_give_the_same_sbom(tmp_path: Path) -> None:
    data = APP.read_bytes()

    def bom() -> dict[str, Any]:
        proc = _run(tmp_path, data, "sbom", "-", "-f", "cyclonedx-json")
        assert proc.returncode == 0, proc.stderr.decode()
        doc = json.loads(proc.stdout)
        doc.pop("serialNumber")
        doc["metadata"].pop("timestamp")
        return doc

    first, second = bom(), bom()
    assert TEMP not in json.dumps(first)
    assert first == second


def test_piped_text_naming_the_temporary_folder_is_kept_as_written(tmp_path: Path) -> None:
    """Only the artifact's own path is named ``stdin``: text inside it that happens to name the
    private folder is the artifact's and is reported as written, never rewritten."""
    url = "file:///tmp/scanner-stdin-abcd1234/stdin"
    data = REQUIREMENTS + f"foo @ {url}\n".encode()
    proc = _run(tmp_path, data, "gate", "-", "--no-ledger", "-f", "json")
    assert proc.returncode in (0, 1), proc.stderr.decode()
    record = json.loads(proc.stdout)
    (foo,) = [c for c in record["sbom"]["components"] if c["name"] == "foo"]
    props = {p["name"]: p["value"] for p in foo["properties"]}
    assert props["scanner:direct-url"] == url and props["scanner:source"] == "stdin:2"
    assert record["artifact"]["path"] == "stdin"


def test_a_file_called_stdin_in_the_working_directory_is_not_what_is_judged(tmp_path: Path) -> None:
    """The bytes judged are the piped ones, read from the private copy, whatever the working
    directory holds under the name the reports use."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "stdin").write_bytes(b"Jinja2==2.11.2\n")
    (work / "other.txt").write_bytes(b"Jinja2==2.11.2\n")
    proc = _run(tmp_path, REQUIREMENTS, "gate", "-", "--no-ledger", "-f", "json", cwd=work)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    record = json.loads(proc.stdout)
    assert {c["name"] for c in record["sbom"]["components"]} == {"requests"}

    # an include names a file beside the piped bytes: there is none, and none is read from here
    proc = _run(tmp_path, REQUIREMENTS + b"-r other.txt\n", "gate", "-", "--no-ledger", "-f", "json", cwd=work)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert TEMP not in err and "other.txt" in err


def test_piped_text_with_nothing_to_judge_names_it_stdin(tmp_path: Path) -> None:
    """Text that is neither a requirements file nor a BOM is judged as a model file and denied as
    ``MODEL-NOTHING-TO-JUDGE`` (docs/usage.md): that finding names ``stdin`` too."""
    proc = _run(tmp_path, b"hello, this is no model\n", "gate", "-", "--no-ledger", "-f", "json")
    assert proc.returncode == 1, proc.stderr.decode()
    assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
    record = json.loads(proc.stdout)
    assert {f["subject"] for f in record["findings"] if f["id"] == "MODEL-NOTHING-TO-JUDGE"} == {"stdin"}


def test_signatures_and_provenance_named_on_the_command_line_name_piped_content_stdin(tmp_path: Path) -> None:
    """A signature or provenance document given with ``--bundle``/``--provenance`` is about the
    piped bytes: what it is checked against is named ``stdin``, in the gate and in verify."""
    bundle = tmp_path / "b.sigstore.json"
    bundle.write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}')
    provenance = tmp_path / "provenance.json"
    provenance.write_text('{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}')
    flags = ("--bundle", bundle, "--provenance", provenance)
    proc = _run(tmp_path, REQUIREMENTS, "gate", "-", "--no-ledger", "-f", "json", *flags)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
    record = json.loads(proc.stdout)
    failed = {f["id"]: f["subject"] for f in record["findings"] if f["check"] in ("signature", "provenance")}
    assert failed == {"SIGNATURE-INVALID": "stdin", "PROVENANCE-INVALID": "stdin"}
    assert {s["subject"] for s in record["sections"]["signatures"]} == {"stdin"}

    proc = _run(tmp_path, REQUIREMENTS, "verify", "-", "-f", "json", "--bundle", bundle)
    assert proc.returncode == 1, proc.stderr.decode()
    assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
    assert {s["subject"] for s in json.loads(proc.stdout)["signatures"]} == {"stdin"}


def test_a_piped_pyproject_without_a_project_table_is_named_stdin(tmp_path: Path) -> None:
    """A pyproject.toml with no ``[project]`` (only dependency groups) is named after its folder;
    piped, it has none but the private one, which is never named: its root is ``stdin``, and the
    same bytes give the same SBOM."""
    data = b'[dependency-groups]\ndev = ["requests==2.0.0"]\n'

    def bom() -> dict[str, Any]:
        proc = _run(tmp_path, data, "sbom", "-", "--input-type", "pyproject", "-f", "cyclonedx-json")
        assert proc.returncode == 0, proc.stderr.decode()
        assert TEMP not in proc.stdout.decode() + proc.stderr.decode()
        doc = json.loads(proc.stdout)
        doc.pop("serialNumber")
        doc["metadata"].pop("timestamp")
        return doc

    first = bom()
    assert first["metadata"]["component"]["name"] == "stdin"
    assert first == bom()
