"""Where SARIF locates findings of local artifacts, through the real CLI: every location is a file
relative to the working directory, at its line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.report.test_formats import SARIF_SCHEMA


def _located(out: str) -> list[tuple[str, str, int | None, list[str]]]:
    doc = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    return [
        (
            res["ruleId"],
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"].get("region", {}).get("startLine"),
            [x["kind"] for x in loc.get("logicalLocations", [])],
        )
        for res in doc["runs"][0]["results"]
        for loc in res["locations"]
    ]


def test_a_finding_in_an_included_requirements_file_is_located_in_it(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``app/requirements.txt`` includes ``more.txt`` (``-r``): an unpinned line 4 of
    ``more.txt`` is at ``app/more.txt`` line 4, not at line 4 of the requirements file."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("requests==2.31.0\n-r more.txt\n")
    (app / "more.txt").write_text("# c\n\njinja2==2.11.2\nflask>=1\n")
    monkeypatch.chdir(tmp_path)
    r = cli("gate", "app/requirements.txt", "--stage", "dev", "--no-ledger", "-f", "sarif")
    assert r.code in (0, 1), r.err
    located = _located(r.out)
    assert ("VULN-UNAUDITED", "app/more.txt", 4, []) in located, located
    assert ("VULN-KNOWN", "app/more.txt", 3, ["package"]) in located, located


def test_a_result_about_a_directory_given_relative_is_located_at_the_directory(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SBOM completeness finding's subject is the artifact's name; for ``gate m1`` that is
    also its path: located at the directory (``m1/``, the artifact as a logical location), as
    for ``gate /abs/m1`` and the policy's reasons, not at a bare ``m1``."""
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for given in ("m1", str(tmp_path / "m1")):
        r = cli("gate", given, "--stage", "dev", "--no-ledger", "-f", "sarif")
        assert r.code in (0, 1), r.err
        ntia = {(uri, tuple(kinds)) for rule, uri, _, kinds in _located(r.out) if rule.startswith("SBOM-NTIA")}
        assert ntia == {("m1/", ("artifact",))}, (given, ntia)


def test_a_directory_outside_the_working_directory_keeps_its_trailing_slash(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory not under the working directory is a ``file://`` URI that still ends in ``/``
    (a directory, as ``Locator.artifact_location`` says), as ``m1/`` does under it."""
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "config.json").write_text("{}")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = cli("gate", tmp_path / "m1", "--stage", "dev", "--no-ledger", "-f", "sarif")
    assert r.code in (0, 1), r.err
    uris = {uri for rule, uri, _, _ in _located(r.out) if rule.startswith(("SBOM-NTIA", "POLICY/"))}
    assert uris == {(tmp_path / "m1").as_uri() + "/"}, uris


@pytest.mark.parametrize("files", [["pyproject.toml", "a.py"], ["requirements-dev.txt", "a.py"]])
def test_a_pulled_package_without_a_source_is_located_at_the_manifest_inside_the_reference(files: list[str]) -> None:
    """A package finding no component names a source for points at the artifact's manifest: for
    a pulled artifact, inside its reference (``oci://…/pyproject.toml``), never a path-folded
    ``oci:/…``."""
    from scanner.report.sarif import to_sarif

    ref = "oci://127.0.0.1:5000/app@sha256:" + "a" * 64
    record = {
        "artifact": {"path": ref, "kind": "app-dir", "name": "app", "files": [{"path": p} for p in files]},
        "findings": [
            {"id": "VULN-KNOWN", "check": "vulns", "severity": "high", "subject": "pkg:pypi/x@1", "message": "m"}
        ],
    }
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in to_sarif(record)["runs"][0]["results"]
        for loc in r["locations"]
    }
    assert uris == {f"{ref}/{files[0]}"}
