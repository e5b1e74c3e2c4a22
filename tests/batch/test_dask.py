"""The Dask executor against a real scheduler and two worker processes on 127.0.0.1.

One test function on purpose: pytest-xdist may give each test of a module to another process,
and each would start its own cluster (seconds each); the scenarios below share one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.batch.conftest import batch_process, clean_model, kill_worker_holding, slow_model


def _verdicts(doc: dict) -> list[tuple]:
    return [(x["source"], x["digest"], x["allow"], tuple(d["rule"] for d in x["deny"])) for x in doc["results"]]


def test_dask_cluster(cli, estate, dask_cluster: str, registry, tmp_path: Path) -> None:
    _same_verdicts_locally_and_on_dask_then_cache_hits(cli, estate, dask_cluster, tmp_path / "a")
    _oci_sources_pulled_by_the_workers(cli, registry, dask_cluster, tmp_path / "d")
    _time_budget_on_dask(cli, dask_cluster, tmp_path / "b")
    _worker_death_on_dask(dask_cluster, tmp_path / "c")
    _many_hits_on_dask_fork_nothing_in_the_driver(cli, dask_cluster, tmp_path / "e")


def _same_verdicts_locally_and_on_dask_then_cache_hits(cli, estate, dask_cluster: str, tmp_path: Path) -> None:
    sources = [estate["clean-a"], estate["evil"], estate["clean-b"]]
    local = cli("batch", *sources, "--workers", "2", "--no-cache", "--no-ledger", "-f", "json")
    cache = tmp_path / "cache"
    ledger = tmp_path / "ledger.db"
    args = ["--cache", cache, "--ledger", ledger, "--records", tmp_path / "rec", "-f", "json"]
    on_dask = cli("batch", *sources, "--scheduler", dask_cluster, *args)
    assert on_dask.code == local.code == 1, on_dask.err
    doc = json.loads(on_dask.out)
    assert doc["executor"] == "dask" and doc["workers"] == 2
    assert _verdicts(doc) == _verdicts(json.loads(local.out))
    assert all(Path(x["record"]).is_file() for x in doc["results"])
    # second run on the cluster: every verdict from the driver's cache, the workers only hashed
    again = json.loads(cli("batch", *sources, "--scheduler", dask_cluster, *args).out)
    assert [x["cached"] for x in again["results"]] == [True, True, True]
    assert _verdicts(again) == _verdicts(doc)
    from scanner.evidence.ledger import Ledger

    with Ledger(ledger, create=False) as led:  # the driver alone appended, in one chain
        assert led.verify().ok and len(led.entries()) == 6


def _oci_sources_pulled_by_the_workers(cli, registry, dask_cluster: str, tmp_path: Path) -> None:
    """Registry artifacts need no filesystem shared with the driver: each worker pulls its own."""
    from tests.batch.test_oci import pushed

    refs = pushed(cli, registry, tmp_path)
    args = ["--plain-http", "--no-cache", "--no-ledger", "-f", "json"]
    local = json.loads(cli("batch", refs["clean"], refs["evil"], "--workers", "1", *args).out)
    on_dask = cli("batch", refs["clean"], refs["evil"], "--scheduler", dask_cluster, *args)
    assert on_dask.code == 1, on_dask.err
    assert _verdicts(json.loads(on_dask.out)) == _verdicts(local)
    assert [x["allow"] for x in local["results"]] == [True, False]
    # cached by manifest digest and referrers, which the driver learns from the registry (no
    # pull, no filesystem shared with the workers): the second run on the cluster is answered
    cached = ["--plain-http", "--cache", tmp_path / "cache", "--no-ledger", "-f", "json"]
    first = json.loads(cli("batch", refs["clean"], refs["evil"], "--scheduler", dask_cluster, *cached).out)
    again = json.loads(cli("batch", refs["clean"], refs["evil"], "--scheduler", dask_cluster, *cached).out)
    assert [x["cached"] for x in first["results"]] == [False, False]
    assert [x["cached"] for x in again["results"]] == [True, True]
    assert _verdicts(again) == _verdicts(local)


def _time_budget_on_dask(cli, dask_cluster: str, tmp_path: Path) -> None:
    slow = slow_model(tmp_path / "slow")
    r = cli("batch", slow, "--scheduler", dask_cluster, "--time-budget", "1", "--no-cache", "--no-ledger", "-f", "json")
    assert r.code == 2
    assert json.loads(r.out)["results"][0]["error"] == "time budget of 1 s exceeded"


def _worker_death_on_dask(dask_cluster: str, tmp_path: Path) -> None:
    """A worker killed while judging: the scheduler retries on another worker (allowed-failures
    1); killed again, the artifact is recorded as an error while the others are judged."""
    clean = clean_model(tmp_path / "clean", 11)
    slow = slow_model(tmp_path / "slow")
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": dask_cluster}  # the scheduler from the environment
    proc = batch_process(clean, slow, "--no-cache", "--no-ledger", "--records", tmp_path / "rec", "-f", "json", env=env)
    try:
        # the workers are children of this process (LocalCluster): kill whichever reads the file
        first = kill_worker_holding(slow / "weights.bin", os.getpid(), exclude=set())
        kill_worker_holding(slow / "weights.bin", os.getpid(), exclude={first})
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    doc = json.loads(out)
    assert doc["executor"] == "dask"
    clean_result, slow_result = doc["results"]
    assert "the workers judging it died" in slow_result["error"]
    assert clean_result["allow"] is True
    assert doc["not_judged"] == [str(slow)]


_FORKS: list[int] = []  # pids forked by this process while counting (a hook cannot be removed)
_COUNTING = [False]
os.register_at_fork(before=lambda: _COUNTING[0] and _FORKS.append(os.getpid()))


def _many_hits_on_dask_fork_nothing_in_the_driver(cli, dask_cluster: str, tmp_path: Path) -> None:
    """Enough sources for the hashing children (``identify.FORK_AT``): on a cluster the workers
    hash (they may not see the driver's paths), so the driver forks nothing, and every hit is
    still answered from the cache."""
    from scanner.batch.identify import FORK_AT

    sources = [clean_model(tmp_path / f"m{i:02d}", i) for i in range(FORK_AT + 2)]
    args = ["--scheduler", dask_cluster, "--cache", tmp_path / "cache", "--no-ledger", "-f", "json"]
    assert cli("batch", *sources, *args, "--records", tmp_path / "r1").code == 0
    _COUNTING[0] = True
    try:
        again = cli("batch", *sources, *args, "--records", tmp_path / "r2")
    finally:
        _COUNTING[0] = False
    assert again.code == 0, again.err
    assert all(x["cached"] for x in json.loads(again.out)["results"])
    assert _FORKS == []
