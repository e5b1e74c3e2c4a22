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
        "batch", slow, clean, "--workers", "2", "--time-budget", "4", "--no-cache", "--no-ledger", "-f", "json",
        "--records", tmp_path / "rec",
    )  # fmt: skip
    assert r.code == 2, r.err
    slow_result, clean_result = json.loads(r.out)["results"]
    assert slow_result["error"] == "time budget of 4 s exceeded"
    assert 4 <= slow_result["seconds"] < 9  # stopped by the in-worker budget, before the driver's backstop
    assert clean_result["allow"] is True, clean_result  # a budget generous enough for it on a busy machine


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


def test_a_frozen_worker_is_killed_at_the_budget_and_grace(cli, tmp_path: Path, monkeypatch) -> None:
    """A worker that stops answering (here: SIGSTOP while it hashes; in life a hang inside native
    code, where the in-worker budget cannot interrupt it) is killed by the driver once the budget
    and the grace period are over; the artifact is an error, the others are judged."""
    import os
    import threading

    from scanner.batch import local
    from tests.batch.conftest import processes_holding

    monkeypatch.setattr(local, "GRACE_S", 0.5)
    slow = slow_model(tmp_path / "slow")
    clean = clean_model(tmp_path / "clean", 12)
    frozen: list[int] = []

    def freeze() -> None:
        for _ in range(1200):
            pids = processes_holding(slow / "weights.bin", os.getpid())
            if pids:
                os.kill(pids[0], signal.SIGSTOP)
                frozen.append(pids[0])
                return
            threading.Event().wait(0.05)

    watcher = threading.Thread(target=freeze, daemon=True)
    watcher.start()
    r = cli("batch", slow, clean, "--workers", "2", "--time-budget", "4", "--no-cache", "--no-ledger", "-f", "json")
    watcher.join(timeout=5)
    assert frozen, "the worker was never seen reading the slow artifact"
    assert r.code == 2, r.err
    stuck, judged = json.loads(r.out)["results"]
    assert stuck["error"] == "time budget of 4 s exceeded (worker stopped)"
    assert judged["allow"] is True
