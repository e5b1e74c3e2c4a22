"""Shared test helpers: run the real CLI in-process and capture its streams."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the vulnerability database (built on first use) out of the user's cache: one per
    xdist worker, shared by its tests and the processes they start."""
    import os

    cache = tmp_path_factory.mktemp("scanner-cache")
    old = os.environ.get("SCANNER_CACHE_DIR")
    os.environ["SCANNER_CACHE_DIR"] = str(cache)
    # and the user's own config (~/.config/scanner/config.toml) out of the tests
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    # and the user state directory (a default ledger for `gate .`) too
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield cache
    if old is None:
        os.environ.pop("SCANNER_CACHE_DIR", None)
    else:
        os.environ["SCANNER_CACHE_DIR"] = old


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Call ``scanner ARGS...`` in this process; returns its exit code, stdout and stderr."""
    from scanner import ui
    from scanner.cli import main

    monkeypatch.delenv("NO_COLOR", raising=False)

    def run(*args: str | Path) -> Run:
        ui.configure(quiet=False, no_color=False, debug=False)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def run_process(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m scanner`` in a fresh process (for import-time and stream behaviour)."""
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(autouse=True)
def _ledger_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scanner gate` appends to a ledger (default .scanner/ledger.db in the working directory):
    keep every test's ledger out of the repository and apart from other tests."""
    monkeypatch.setenv("SCANNER_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.db"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel, once per test process (packaging and CI-template tests)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("scanner_gate-*.whl")
    return whl
