"""Fixtures for running the CI templates: an environment in which pip installs scanner from this
checkout without the network (its dependencies come from the test environment via PYTHONPATH)."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def ci_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "PIP_", "GITHUB_", "CI_", "NO_COLOR"))}
    env.update(
        PYTHONPATH=sysconfig.get_paths()["purelib"],  # the dependencies, not scanner itself (see test)
        PIP_NO_DEPS="1",
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling: build with the hatchling found above
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    if "SCANNER_CACHE_DIR" in os.environ:  # the session's database cache (tests/conftest.py)
        env["SCANNER_CACHE_DIR"] = os.environ["SCANNER_CACHE_DIR"]
    return env


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
