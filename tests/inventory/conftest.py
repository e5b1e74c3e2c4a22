"""A real virtual environment with a few real packages from the machine's local wheel mirror,
made once per test session (offline: ``--no-index --find-links``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WHEELS = Path("/opt/pypi/files")
PACKAGES = [
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "certifi==2026.7.22",
    "charset-normalizer==3.5.2",
    "PySocks==1.7.1",
    "packaging==26.3",
    "chardet==7.6.0",
    "six==1.17.0",
    "rpds-py==2026.6.3",
    "pip==26.2.1",
]


@pytest.fixture(scope="session")
def test_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not WHEELS.is_dir():
        pytest.skip("no local wheel mirror on this machine")
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(WHEELS),
            "--no-deps",
            "--no-compile",
            *PACKAGES,
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return venv


@pytest.fixture
def venv_copy(test_venv: Path, tmp_path: Path) -> Path:
    """A private copy of the session venv that a test may change."""
    dest = tmp_path / "env"
    shutil.copytree(test_venv, dest, symlinks=True)
    return dest


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))
