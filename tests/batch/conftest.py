"""Real artifacts for batch runs (generated here) and a real Dask cluster on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def clean_model(d: Path, seed: int = 0) -> Path:
    """A small model directory that passes the default policy at dev."""
    import numpy as np
    from safetensors.numpy import save_file

    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": "bert", "seed": seed}))
    save_file({"w": np.full((4, 4), seed, dtype=np.float32)}, str(d / "model.safetensors"))
    return d


def malicious_model(d: Path) -> Path:
    """A model directory whose pickle calls os.system('true') when loaded."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (d / "model.pkl").write_bytes(pickle.dumps(_Payload(), protocol=4))
    return d


def slow_model(d: Path, size: int = 16 << 30) -> Path:
    """A model directory holding a large sparse file: no disk space, but hashing it takes many
    seconds (a real artifact that keeps a worker busy long enough to be killed or to overrun a
    budget; no test waits for it to finish)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with open(d / "weights.bin", "wb") as fh:
        fh.truncate(size)
    return d


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default outputs (records under .scanner/batch/, the ledger) land in the test's directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("estate")
    return {
        "clean-a": clean_model(root / "clean-a", 1),
        "clean-b": clean_model(root / "clean-b", 2),
        "evil": malicious_model(root / "evil"),
    }


def processes_holding(path: Path, root_pid: int) -> list[int]:
    """Descendants of ``root_pid`` that have ``path`` open (the worker judging it)."""
    import psutil

    found = []
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for proc in children:
        try:
            if any(f.path == str(path) for f in proc.open_files()):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def kill_worker_holding(path: Path, root_pid: int, *, exclude: set[int], timeout: float = 60) -> int:
    """Wait until a worker (not in ``exclude``) reads ``path``, then SIGKILL it."""
    import signal

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in processes_holding(path, root_pid) if p not in exclude]
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"no worker opened {path} within {timeout} s")


def batch_process(*args: str | Path, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scanner", "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real OCI registry (docker-registry on 127.0.0.1; skipped where it is not installed)."""
    from tests.registry.conftest import launch

    reg = launch(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.kill()


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A real scheduler and two worker processes on 127.0.0.1 (one thread each). A worker that
    dies is restarted by its nanny; a task is retried once after a death (allowed-failures 1)."""
    pytest.importorskip("distributed")
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
    ):
        yield cluster.scheduler_address
