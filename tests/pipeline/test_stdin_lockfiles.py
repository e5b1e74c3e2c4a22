"""A lock file piped on standard input (``--kind lockfile``): a pipe has no file name, so the lock
file's format is told from what the formats require of their content — exactly one must match,
else the run stops naming ``stdin``. What is judged equals what the same file judged by name
gives, and no output names the private temporary file. Each test runs ``python -m scanner``
with real piped input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.test_every_manifest import PIPFILE_LOCK, POETRY_LOCK, PYLOCK, UV_LOCK
from tests.pipeline.test_stdin_shown import TEMP, _run

VULNERABLE = ("jinja2", "2.11.2")  # advisories in the bundled snapshot
LOCKS = {
    "uv.lock": UV_LOCK,
    "poetry.lock": POETRY_LOCK,
    "pylock.toml": PYLOCK,
    "Pipfile.lock": PIPFILE_LOCK,
}


def _vulnerable(text: str) -> bytes:
    if text.startswith("{"):  # Pipfile.lock (JSON)
        return text.replace('"six"', '"jinja2"').replace("1.16.0", "2.11.2").encode()
    return text.replace('name = "six"', 'name = "jinja2"').replace('version = "1.16.0"', 'version = "2.11.2"').encode()


def _purls(sbom: dict) -> set[str]:
    return {c["purl"] for c in sbom.get("components") or [] if c.get("purl")}


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_a_piped_lock_file_is_judged_as_the_same_file_named(tmp_path: Path, name: str) -> None:
    data = _vulnerable(LOCKS[name])
    named = tmp_path / "named" / name
    named.parent.mkdir()
    named.write_bytes(data)
    piped = _run(tmp_path, data, "sbom", "-", "--input-type", "lockfile")
    assert piped.returncode == 0, piped.stderr.decode()
    by_name = _run(tmp_path, b"", "sbom", named)
    assert by_name.returncode == 0, by_name.stderr.decode()
    assert _purls(json.loads(piped.stdout)) == _purls(json.loads(by_name.stdout)) == {"pkg:pypi/jinja2@2.11.2"}
    audit = _run(tmp_path, data, "audit", "-", "--kind", "lockfile", "-f", "json", "-o", "-")
    assert audit.returncode == 1, audit.stderr.decode()  # the vulnerable pin is found
    report = json.loads(audit.stdout)
    assert {f["subject"] for f in report["findings"] if f["id"] == "VULN-KNOWN"} == {"pkg:pypi/jinja2@2.11.2"}
    gate = _run(tmp_path, data, "gate", "-", "--kind", "lockfile", "--stage", "dev", "--no-ledger", "-f", "sarif")
    assert gate.returncode in (0, 1), gate.stderr.decode()  # (dev only warns of known vulnerabilities)
    results = json.loads(gate.stdout)["runs"][0]["results"]
    assert any(r["ruleId"] == "VULN-KNOWN" for r in results)
    for out in (piped, audit, gate):
        assert TEMP.encode() not in out.stdout + out.stderr


@pytest.mark.parametrize(
    "content",
    [
        # a uv.lock and a poetry.lock at once: which packages count would be the content's choice
        UV_LOCK + '\n[metadata]\nlock-version = "2.0"\ncontent-hash = "x"\n',
        # a pylock.toml and a uv.lock at once
        'version = 1\nlock-version = "1.0"\ncreated-by = "x"\n\n[[package]]\nname = "six"\nversion = "1.16.0"\n\n'
        '[[packages]]\nname = "jinja2"\nversion = "2.11.2"\n',
        # none of them
        'title = "not a lock file"\n',
    ],
    ids=["uv-and-poetry", "uv-and-pylock", "none"],
)
def test_a_piped_lock_file_whose_format_is_not_one_is_an_error_naming_stdin(tmp_path: Path, content: str) -> None:
    proc = _run(tmp_path, content.encode(), "audit", "-", "--kind", "lockfile", "-f", "json", "-o", "-")
    assert proc.returncode == 2, proc.stdout.decode() + proc.stderr.decode()
    err = proc.stderr.decode()
    assert "stdin" in err and "lock file" in err and TEMP not in err


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_piped_pipfile_lock_with_a_byte_order_mark_is_read_as_when_named(tmp_path: Path, encoding: str) -> None:
    """A Pipfile.lock saved with a byte order mark (an editor, a shell that re-encodes what it
    pipes) is read by name: piped, it is the same JSON, never taken for malformed TOML."""
    data = _vulnerable(PIPFILE_LOCK).decode().encode(encoding)
    named = tmp_path / "named" / "Pipfile.lock"
    named.parent.mkdir()
    named.write_bytes(data)
    by_name = _run(tmp_path, b"", "sbom", named)
    assert by_name.returncode == 0, by_name.stderr.decode()
    piped = _run(tmp_path, data, "sbom", "-", "--input-type", "lockfile")
    assert piped.returncode == 0, piped.stderr.decode()
    assert _purls(json.loads(piped.stdout)) == _purls(json.loads(by_name.stdout)) == {"pkg:pypi/jinja2@2.11.2"}
