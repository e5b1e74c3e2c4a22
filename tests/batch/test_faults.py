"""Faults on the local pool: a worker killed mid-artifact, the time budget, Ctrl-C."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.batch.conftest import batch_process, clean_model, kill_worker_holding, slow_model


def test_killed_worker_is_replaced_retried_once_then_error(tmp_path: Path) -> None:
    slow = slow_model(tmp_path / "slow")
    clean = clean_model(tmp_path / "clean", 7)
    proc = batch_process(
        slow, clean, "--workers", "1", "--no-cache", "--no-ledger", "--records", tmp_path / "rec", "-f", "json"
    )
    try:
        first = kill_worker_holding(slow / "weights.bin", proc.pid, exclude=set())
        kill_worker_holding(slow / "weights.bin", proc.pid, exclude={first})  # the retry, on a new worker
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    doc = json.loads(out)
    slow_result, clean_result = doc["results"]
    assert slow_result["error"].startswith("the worker judging it died 2 times (last: signal 9)")
    assert slow_result["attempts"] == 2 and slow_result["allow"] is None
    assert clean_result["allow"] is True  # judged by a third, fresh worker
    assert doc["not_judged"] == [str(slow)]


def test_time_budget(cli, tmp_path: Path) -> None:
    slow = slow_model(tmp_path / "slow")
    clean = clean_model(tmp_path / "clean", 8)
    r = cli(
        "batch", slow, clean, "--workers", "2", "--time-budget", "1", "--no-cache", "--no-ledger", "-f", "json",
        "--records", tmp_path / "rec",
    )  # fmt: skip
    assert r.code == 2, r.err
    slow_result, clean_result = json.loads(r.out)["results"]
    assert slow_result["error"] == "time budget of 1 s exceeded"
    assert 1 <= slow_result["seconds"] < 10
    assert clean_result["allow"] is True


def test_ctrl_c_stops_cleanly_and_keeps_what_finished(tmp_path: Path) -> None:
    clean = clean_model(tmp_path / "clean", 9)
    slow = slow_model(tmp_path / "slow")
    ledger = tmp_path / "ledger.db"
    proc = batch_process(
        clean, slow, "--workers", "1", "--no-cache", "--ledger", ledger, "--records", tmp_path / "rec", "-f", "json"
    )
    try:
        assert proc.stderr is not None
        for text in proc.stderr:  # results stream on stderr as they finish
            if text.startswith("ALLOWED"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert doc["results"][0]["allow"] is True
    assert doc["results"][1]["error"] == "interrupted before it was judged"
    from scanner.evidence.ledger import Ledger

    with Ledger(ledger, create=False) as led:
        assert led.verify().ok and [e.artifact for e in led.entries()] == ["clean"]


def test_a_fifo_never_hangs_the_batch(cli, tmp_path: Path, monkeypatch) -> None:
    """A FIFO as the artifact: today's artifact detection blocks in open() on it, where the
    in-worker budget cannot interrupt it, so the driver kills the worker once the budget and the
    grace period are over. (Should detection refuse FIFOs up front, the artifact is an error
    naming it instead; either way it is never judged and never holds up the run.)"""
    import os

    from scanner.batch import local

    monkeypatch.setattr(local, "GRACE_S", 0.5)
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    clean = clean_model(tmp_path / "clean", 12)
    r = cli("batch", fifo, clean, "--workers", "2", "--time-budget", "0.5", "--no-cache", "--no-ledger", "-f", "json")
    assert r.code == 2, r.err
    stuck, judged = json.loads(r.out)["results"]
    assert stuck["allow"] is None
    assert stuck["error"] == "time budget of 0.5 s exceeded (worker stopped)" or "fifo" in stuck["error"].lower()
    assert judged["allow"] is True
