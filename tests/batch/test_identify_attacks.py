"""Attacks on the hashing children of a warm run (``batch.identify``) and on the driver's other
processes: a driver ended by a signal while they work, Ctrl-C from the terminal, a real terminal
with its progress bar running, full pipes and awkward source names. Real processes, real files,
real signals."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scanner.batch.identify import FORK_AT, identities
from tests.batch.conftest import batch_process, clean_model, processes_holding, slow_model

psutil = pytest.importorskip("psutil")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and PR_SET_PDEATHSIG: Linux")


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _command_line(pid: int) -> str:
    """A process's command line; empty once it has ended (a child that finished its part may be a
    zombie until the driver reaps it: it has none to read)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.NoSuchProcess:  # (ZombieProcess too)
        return ""


def _running(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still running after ``seconds`` (then killed, so no test leaves one behind)."""
    deadline = time.monotonic() + seconds
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _running(pids)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _end(proc: subprocess.Popen) -> tuple[str, str]:
    """Kill the driver if it still runs and read what it wrote, never waiting on a pipe that a
    process left behind still holds open."""
    proc.kill()
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        return "", ""


def _wait_for_reader(path: Path, root: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := processes_holding(path, root):
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing opened {path} within {timeout} s")


@pytest.fixture
def estate(tmp_path: Path) -> tuple[list[Path], Path]:
    """FORK_AT + 2 cached clean models and a large sparse one, last (hashing it takes seconds)."""
    sources = [clean_model(tmp_path / f"m{i:02d}", i) for i in range(FORK_AT + 2)]
    # filled by a process like the ones under test: this process's state (a tool digest or a
    # database cached by earlier tests in the same worker) must not make their context another
    run = batch_process(*sources, "--cache", tmp_path / "cache", "--no-ledger", "--records", tmp_path / "r0", "-q")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    slow = slow_model(tmp_path / "zz-slow")
    return [*sources, slow], slow / "weights.bin"


@linux_only
@pytest.mark.parametrize(
    ("stage", "sig"),
    [("hashing", signal.SIGTERM), ("hashing", signal.SIGKILL), ("judging", signal.SIGTERM)],
    ids=["hashing-SIGTERM", "hashing-SIGKILL", "judging-SIGTERM"],
)
def test_a_driver_ended_by_a_signal_leaves_no_process_behind(estate, tmp_path: Path, stage: str, sig: int) -> None:
    """A cancelled CI job (SIGTERM) or SIGKILL ends the driver without its ``finally`` blocks: the
    child hashing the 16 GiB file (``hashing``: a warm run) or the worker judging it (``judging``:
    no cache) went on alone for minutes. Now every descendant dies with the driver."""
    sources, weights = estate
    cache = ("--cache", tmp_path / "cache") if stage == "hashing" else ("--no-cache",)
    proc = batch_process(*sources, *cache, "--no-ledger", "--records", tmp_path / "r1", "-q", "--workers", "2")
    try:
        reader = _wait_for_reader(weights, proc.pid)
        family = _descendants(proc.pid)
        assert reader in family
        if stage == "hashing":
            assert not any("scanner-batch-worker" in _command_line(p) for p in family)
        proc.send_signal(sig)
        proc.wait(30)
    finally:
        left = _gone_within(family, 10)
        _end(proc)
    assert left == []


@linux_only
def test_ctrl_c_from_the_terminal_while_children_hash_ends_the_run_with_its_summary(estate, tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground process group: the children ignore it (the driver stops
    them), the driver ends with exit 130 and its summary, and nothing is left running."""
    sources, weights = estate
    proc = batch_process(
        *sources, "--cache", tmp_path / "cache", "--ledger", tmp_path / "l.db", "--records", tmp_path / "r1",
        "-f", "json", start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_reader(weights, proc.pid)
        family = _descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    finally:
        left = _gone_within(family, 10)
        out, err = _end(proc)
    assert proc.returncode == 130, err
    results = json.loads(out)["results"]
    assert sum(1 for r in results if r.get("cached")) >= 1
    assert "Traceback" not in err
    assert left == []


@linux_only
def test_a_warm_run_on_a_real_terminal_with_its_progress_bar_does_not_hang(cli, tmp_path: Path) -> None:
    """stderr a pty: rich's bar and its refresh thread (holding the console's lock as it draws)
    run while the children are forked; a child that touched the console would wait forever."""
    sources = [clean_model(tmp_path / f"m{i:02d}", i) for i in range(3 * FORK_AT)]
    args = ("--cache", tmp_path / "cache", "--ledger", tmp_path / "l.db", "-f", "json")
    assert cli("batch", *sources, *args, "--records", tmp_path / "r0", "-q").code == 0
    master, slave = pty.openpty()
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color"}
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    for attempt in range(3):  # a hang is a race: a few runs
        proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", "batch", *map(str, sources), *map(str, args), "--records",
             tmp_path / f"r{attempt + 1}"],
            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env,
        )  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=90)
        finally:
            proc.kill()
        assert proc.returncode == 0, bytes(seen[-2000:])
        assert all(r["cached"] for r in json.loads(out)["results"])
    os.close(slave)
    reader.join(5)
    os.close(master)
    assert b"Traceback" not in seen


def _awkward(root: Path, count: int) -> list[str]:
    """Tiny model directories whose names hold a newline, bytes that are not UTF-8, quotes and
    backslashes, or run to 240 characters."""
    names = []
    for i in range(count):
        kind = i % 4
        name = [f"m{i}\nsecond line", f"m{i}-\udcff\udcfe", f'm{i}-"q"\\', f"m{i}-" + "x" * 230][kind]
        d = root / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"model_type": "bert", "i": i}))
        names.append(str(d))
    return names


@linux_only
def test_thousands_of_sources_with_awkward_names_fill_the_pipes_and_every_key_comes_back_right(
    tmp_path: Path,
) -> None:
    """2,000 sources: the children's pipes fill while the driver is still on the first (each
    child then waits to write); every source comes back once, with the key the driver computes."""
    from scanner.batch.job import source_identity
    from scanner.batch.model import BatchOptions, PolicySnapshot

    options = BatchOptions(run_id="x", stage="dev", policy=PolicySnapshot(policy_files=(), policy_path="-"))
    sources = _awkward(tmp_path, 2000)

    def identify(source: str) -> tuple[str | None, float]:
        return source_identity(source, options)[1], 0.0

    start = time.monotonic()
    got = {}
    for n, (source, (key, _)) in enumerate(identities(sources, identify, patience=60)):
        if n == 1:
            time.sleep(1.0)  # the children run ahead until their pipes are full
        assert source not in got
        got[source] = key
    assert time.monotonic() - start < 60
    assert sorted(got) == sorted(sources)
    for source in sources[:: max(1, len(sources) // 200)] + sources[-4:]:
        assert got[source] == identify(source)[0], repr(source)


def test_awkward_names_give_the_same_answers_with_children_as_without(cli, tmp_path: Path) -> None:
    """A warm run of FORK_AT + 4 sources (hashed by children) and the same sources in runs of
    fewer than FORK_AT (hashed by the driver) give the same verdicts, digests and record bodies,
    whatever the names hold (a newline, bytes that are not UTF-8, quotes, 240 characters)."""
    (tmp_path / "src").mkdir()
    sources = _awkward(tmp_path / "src", FORK_AT + 4)
    args = ("--cache", tmp_path / "cache", "--ledger", tmp_path / "l.db", "-f", "json")
    first = cli("batch", *sources, *args, "--records", tmp_path / "r0")
    assert first.code in (0, 1), first.err

    def results(run) -> list[dict]:
        assert run.code == first.code, run.err
        return json.loads(run.out)["results"]

    together = results(cli("batch", *sources, *args, "--records", tmp_path / "r1"))
    half = len(sources) // 2
    apart = [
        *results(cli("batch", *sources[:half], *args, "--records", tmp_path / "r2")),
        *results(cli("batch", *sources[half:], *args, "--records", tmp_path / "r3")),
    ]
    assert half < FORK_AT and len(sources) - half < FORK_AT
    assert all(r["cached"] for r in together + apart)

    def body(r: dict) -> dict:
        doc = json.loads(Path(r["record"]).read_text())
        return {k: v for k, v in doc.items() if k not in ("batch", "ledger")}

    for a, b in zip(together, apart, strict=True):
        assert (a["source"], a["digest"], a["allow"]) == (b["source"], b["digest"], b["allow"])
        assert body(a) == body(b)
