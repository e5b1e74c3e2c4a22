"""The inventory reads only the artifact: a manifest, a ``.dist-info`` or a ``site-packages``
that is a link leaving the artifact is never read (its content is not in the digest), in every
command. What it would have added is reported, never silently dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

OUTSIDE_PIN = "jinja2==2.11.2\n"
OUTSIDE_METADATA = "Metadata-Version: 2.1\nName: jinja2\nVersion: 2.11.2\n"


def _purls(record: dict) -> set[str]:
    """Every purl a record or a CycloneDX document names (as text: any nesting)."""
    return {word for word in json.dumps(record).split('"') if word.startswith("pkg:pypi/")}


def _run(cli, command: str, source: Path):
    args = [command, source, *(["--no-ledger"] if command == "gate" else [])]
    return cli(*args, *(["-f", "json"] if command != "sbom" else []))


@pytest.mark.parametrize("command", ["sbom", "audit", "gate"])
def test_requirements_file_linking_outside_is_not_read(cli, tmp_path: Path, command: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "req.txt").write_text(OUTSIDE_PIN)
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").symlink_to(outside / "req.txt")
    r = _run(cli, command, app)
    assert "internal error" not in r.err
    if r.code == 2:
        assert "requirements.txt" in r.err
        return
    record = json.loads(r.out)
    assert not any("jinja2" in p for p in _purls(record)), command
    assert r.code == 1  # something was not read: never a clean pass


@pytest.mark.parametrize("command", ["sbom", "audit", "gate"])
def test_dist_info_metadata_linking_outside_is_not_read(cli, tmp_path: Path, command: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "METADATA").write_text(OUTSIDE_METADATA)
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    info = site / "six-1.16.0.dist-info"
    info.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").symlink_to(outside / "METADATA")
    r = _run(cli, command, venv)
    assert "internal error" not in r.err
    if command == "sbom":  # sbom reports inventory findings as warnings, with exit 0
        assert "six-1.16.0.dist-info" in r.err and "link leaving the artifact" in r.err
    else:
        assert r.code in (1, 2), (r.code, r.err)
    if r.code == 2:
        return
    record = json.loads(r.out)
    assert not any("jinja2" in p for p in _purls(record)), command
    if command != "sbom":
        subjects = " ".join(f["subject"] for f in record["findings"])
        assert "six-1.16.0.dist-info" in subjects


def test_site_packages_linking_outside_is_not_read(cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside-site"
    info = outside / "jinja2-2.11.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(OUTSIDE_METADATA)
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.11").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "python3.11" / "site-packages").symlink_to(outside, target_is_directory=True)
    for command in ("sbom", "audit"):
        r = _run(cli, command, venv)
        assert "internal error" not in r.err
        if r.code == 2:
            continue
        assert not any("jinja2" in p for p in _purls(json.loads(r.out))), command
