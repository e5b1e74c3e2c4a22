"""A non-editable install finds its policies and templates from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path


def test_wheel_ships_policies_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "scanner/_data/policies/gate.rego" in names
    assert "scanner/_data/policies/data.json" in names
    assert "scanner/_data/templates/report.md.j2" in names
    assert not any(n.startswith(("tests/", "policies/", "reports/")) for n in names)


def test_installed_wheel_gates_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (model / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import scanner.resources as r, sys; print(r.policies_dir()); print(r.templates_dir());"
        "from scanner.cli import main; main(['gate', sys.argv[1], '--format', 'markdown'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    lines = proc.stdout.splitlines()
    assert lines[0] == str(target / "scanner" / "_data" / "policies")
    assert lines[1] == str(target / "scanner" / "_data" / "templates")
    assert proc.returncode == 0, proc.stderr
    assert "promotion to dev allowed" in proc.stdout


def test_distribution_is_scanner_gate_with_the_scanner_command(wheel: Path) -> None:
    """`scanner` on PyPI is an unrelated project: ours is distributed as scanner-gate, while the
    import package and the command keep the name scanner."""
    archive = zipfile.ZipFile(wheel)
    meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    assert "\nName: scanner-gate\n" in archive.read(meta).decode()
    entry_points = archive.read(meta.replace("METADATA", "entry_points.txt")).decode()
    assert "scanner = scanner.cli:main" in entry_points
