"""Model scanning: `scanner scan` against modelscan, picklescan, modelaudit and fickling on the same input.

    .venv/bin/python benchmarks/models.py [--small 400] [--big-mb 1024] [--skip-timing] [--skip-detection]
        [--venvs DIR] [--baseline OTHER_CHECKOUT]

Installs each peer in its own venv under ``--venvs`` (default benchmarks/.work/; pip, first run
only), generates a directory of many small model files plus one large torch checkpoint, and
prints wall time and peak RSS of every tool, as ratios to `scanner scan`. Then two detection
tables, each with a caught and a false-positive row per tool: the test corpus
(tests/models/corpus.py: which tool flags which malicious sample, false positives on its benign
twins) and the real-model set (tests/models/real_models.py: files the way scikit-learn/joblib,
gensim, numpy, Lightning, TFLite and nanoGPT write them, each with a malicious twin).
``--baseline`` adds a column for `scanner scan` run from another checkout (e.g. the landed main)
to show what changed. Timings are as measured on a shared machine: run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
sys.path.insert(0, str(REPO))

PEERS = {
    # numpy<2.3: modelscan's .npy scanner calls a function numpy 2.3 removed (see FACTS.md)
    "modelscan": (["modelscan", "numpy<2.3"], ["modelscan", "-p", "{path}"]),
    "picklescan": (["picklescan"], ["picklescan", "-p", "{path}"]),
    "modelaudit": (["modelaudit"], ["modelaudit", "scan", "{path}"]),
    # fickling 0.1.12 imports typing_extensions without declaring it (Python 3.11)
    "fickling": (["fickling", "typing_extensions"], ["fickling", "--check-safety", "{path}"]),
}
ENV = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}


def venv(name: str, packages: list[str], where: Path = WORK) -> Path:
    root = where / f"venv-{name}"
    marker = root / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run([str(root / "bin" / "pip"), "install", "-q", *packages], check=True, env=ENV)
        marker.touch()
    return root / "bin"


def run(cmd: list[str], timeout: float = 600, cwd: Path | None = None) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MB, exit code of one process (-9 when killed at the timeout).

    Peak RSS comes from /usr/bin/time: a child forked from this (large) Python process would
    report this process's RSS as its own maximum."""
    fd, stats = tempfile.mkstemp(prefix="time-", dir=WORK)
    os.close(fd)
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", stats, *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this script started, by its id
        proc.wait()
        code = -9
    wall = time.perf_counter() - start
    text = Path(stats).read_text().strip().splitlines()
    os.unlink(stats)
    rss = int(text[-1]) // 1024 if text and text[-1].isdigit() else -1
    return wall, rss, code


def generate(small: int, big_mb: int) -> tuple[Path, Path]:
    import joblib
    import numpy as np
    import torch

    many = WORK / f"models-many-{small}"
    if not many.exists():
        tmp = many.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for i in range(small):
            kind = i % 5
            if kind == 0:
                torch.save({"w": torch.randn(64, 64), "b": torch.zeros(64)}, tmp / f"m{i}.pt")
            elif kind == 1:
                torch.save({"w": torch.randn(32)}, tmp / f"m{i}.bin", _use_new_zipfile_serialization=False)
            elif kind == 2:
                joblib.dump({"coef": np.arange(256.0), "names": ["a", "b"]}, tmp / f"m{i}.joblib")
            elif kind == 3:
                np.save(tmp / f"m{i}.npy", np.arange(1024, dtype=np.float32))
            else:
                (tmp / f"m{i}.pkl").write_bytes(pickle.dumps({"vocab": {str(j): j for j in range(200)}}, protocol=4))
        tmp.rename(many)
    big = WORK / f"big-{big_mb}mb"
    if not big.exists():
        tmp = big.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        torch.save({"weight": torch.randn(big_mb * (1 << 20) // 4)}, tmp / "pytorch_model.bin")
        tmp.rename(big)
    return many, big


def scanner_cmd(checkout: Path) -> list[str]:
    """`scanner scan` with the code of ``checkout`` (this one, or a baseline), in this interpreter."""
    # -P: the working directory is not put on sys.path, so PYTHONPATH decides which code runs
    return ["env", f"PYTHONPATH={checkout}", sys.executable, "-P", "-m", "scanner", "scan", "{path}", "-f", "json"]


def commands(bins: dict[str, Path], baseline: Path | None = None) -> dict[str, list[str]]:
    base = [*scanner_cmd(REPO), "-o", os.devnull]
    out = {
        "scanner": base,
        "scanner --no-second-opinion": [*base, "--no-second-opinion"],
    }
    if baseline is not None:
        out["scanner@baseline"] = [*scanner_cmd(baseline), "-o", os.devnull]
    for name, (_, cmd) in PEERS.items():
        if name in bins:
            out[name] = [str(bins[name] / cmd[0]), *cmd[1:]]
    return out


def timing_table(label: str, path: Path, cmds: dict[str, list[str]], repeat: int) -> None:
    """Best wall time of ``repeat`` runs (one run for tools slower than a minute), peak RSS of the best."""
    print(f"\n## {label}: {path}")
    rows = {}
    for name, cmd in cmds.items():
        best = run([c.format(path=path) for c in cmd])
        for _ in range(repeat - 1 if best[0] < 60 else 0):
            again = run([c.format(path=path) for c in cmd])
            best = min(best, again)
        rows[name] = best
    base_t = rows["scanner"][0]
    print(f"{'tool':30} {'seconds':>9} {'peak MB':>8} {'time/scanner':>13} {'exit':>5}")
    for name, (t, m, code) in rows.items():
        print(f"{name:30} {t:9.2f} {m:8d} {t / base_t:13.2f} {code:5d}")


def engine_throughput(big: Path) -> None:
    """Our dispatcher alone (no artifact digest, no report) on the large checkpoint."""
    code = (
        "import time,sys,resource;from pathlib import Path;from scanner.models.dispatch import scan_path;"
        "t=time.perf_counter();r=scan_path(Path(sys.argv[1]));d=time.perf_counter()-t;"
        "n=sum(f.size for f in r.files);"
        "print(f'{n/2**30:.2f} GiB in {d:.3f} s = {n/2**30/d:.1f} GiB/s, findings={len(r.findings)}, '"
        "f'peak RSS (ru_maxrss, after exec) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024} MB')"
    )
    # started through /usr/bin/time so that the child's RSS is its own (not this process's at fork)
    out = subprocess.run(
        ["/usr/bin/time", "-f", "", "env", f"PYTHONPATH={REPO}", sys.executable, "-P", "-c", code, str(big)],
        capture_output=True,
        text=True,
    )
    print(f"\nengine only ({big.name}): {out.stdout.strip() or out.stderr.strip()}")


def detection(cmds: dict[str, list[str]]) -> None:
    from tests.models.corpus import build_corpus
    from tests.models.real_models import build_real_models

    root = WORK / "corpus"
    shutil.rmtree(root, ignore_errors=True)
    corpus = [(s.name, bool(s.expect)) for s in build_corpus(root)]
    detection_table("tests/models/corpus.py", root, corpus, cmds)
    real_root = WORK / "real-models"
    shutil.rmtree(real_root, ignore_errors=True)
    real = [(s.name, bool(s.expect)) for s in build_real_models(real_root)]
    detection_table("tests/models/real_models.py (files as ML libraries write them)", real_root, real, cmds)


def flagged_by(code: int) -> bool:
    """Every tool here exits 1 for "issues found" (fickling: "likely unsafe"), other codes for errors."""
    return code == 1


def modelaudit_verdicts(cmd: list[str], root: Path) -> dict[str, int]:
    """modelaudit takes about 9 CPU seconds per invocation here, so it runs once over the whole
    directory with JSON output; a file counts as flagged (1) when an issue of severity warning or
    critical is located in it (what makes its single-file run exit 1), else 0."""
    fd, out = tempfile.mkstemp(prefix="modelaudit-", suffix=".json", dir=WORK)
    os.close(fd)
    run(["sh", "-c", '"$0" "$@" > "' + out + '"', *[c.format(path=root) for c in cmd], "--format", "json"], 1800, WORK)
    try:
        doc = json.loads(Path(out).read_text() or "{}")
    except ValueError:
        doc = {}
    os.unlink(out)
    verdicts: dict[str, int] = {}
    for issue in doc.get("issues", []):
        where = str(issue.get("location", ""))
        if not where.startswith(str(root) + "/"):
            continue
        name = where[len(str(root)) + 1 :].split(":", 1)[0].split(" (", 1)[0]
        hit = int(issue.get("severity") in ("warning", "critical"))
        verdicts[name] = max(verdicts.get(name, 0), hit)
    return verdicts


def detection_table(title: str, root: Path, samples: list[tuple[str, bool]], cmds: dict[str, list[str]]) -> None:
    tools = [n for n in cmds if n != "scanner --no-second-opinion"]
    whole_dir = {t: modelaudit_verdicts(cmds[t], root) for t in tools if t == "modelaudit"}
    print(f"\n## detection over {title} (x = exit 1 'issues found', . = exit 0, errN = exit N)")
    print(f"{'sample':44} {'kind':9} " + " ".join(f"{t[:16]:>16}" for t in tools))
    caught = dict.fromkeys(tools, 0)
    false_pos = dict.fromkeys(tools, 0)
    errors = dict.fromkeys(tools, 0)
    for name, malicious in samples:
        marks = []
        for t in tools:
            if t in whole_dir:
                code = whole_dir[t].get(name, 0)
            else:
                # from .work: fickling writes safety_results.json into its working directory
                _, _, code = run([c.format(path=root / name) for c in cmds[t]], timeout=120, cwd=WORK)
            flagged = flagged_by(code)
            caught[t] += malicious and flagged
            false_pos[t] += not malicious and flagged
            errors[t] += code not in (0, 1)
            marks.append("timeout" if code == -9 else "x" if flagged else "." if code == 0 else f"err{code}")
        kind = "malicious" if malicious else "benign"
        print(f"{name[:44]:44} {kind:9} " + " ".join(f"{m:>16}" for m in marks))
    bad = sum(1 for _, m in samples if m)
    good = len(samples) - bad
    print(f"\n{'caught (of ' + str(bad) + ' malicious)':54} " + " ".join(f"{caught[t]:>16}" for t in tools))
    print(f"{'false positives (of ' + str(good) + ' benign)':54} " + " ".join(f"{false_pos[t]:>16}" for t in tools))
    print(f"{'errors/skips (exit not 0 or 1)':54} " + " ".join(f"{errors[t]:>16}" for t in tools))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=400, help="small files in the directory")
    ap.add_argument("--big-mb", type=int, default=1024, help="size of the large checkpoint")
    ap.add_argument("--skip-detection", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is shown")
    ap.add_argument("--peers", default="modelscan,picklescan,modelaudit,fickling")
    ap.add_argument("--venvs", type=Path, default=WORK, help="where each peer's venv is made (venv-NAME)")
    ap.add_argument("--baseline", type=Path, help="another checkout whose `scanner scan` gets a column")
    ap.add_argument(
        "--peer-bin", action="append", default=[], metavar="NAME=DIR", help="use NAME from this bin dir, no install"
    )
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    given = dict(item.split("=", 1) for item in args.peer_bin)
    bins = {}
    for name in [p for p in args.peers.split(",") if p]:
        if name in given:
            bins[name] = Path(given[name])
            continue
        try:
            bins[name] = venv(name, PEERS[name][0], args.venvs)
        except subprocess.CalledProcessError as exc:
            print(f"could not install {name}: {exc}")
    cmds = commands(bins, args.baseline)
    if args.skip_timing:
        if not args.skip_detection:
            detection(cmds)
        return
    many, big = generate(args.small, args.big_mb)
    for _ in range(2):  # warm the page cache
        subprocess.run(["cat", *map(str, big.iterdir())], stdout=subprocess.DEVNULL)
    if not args.skip_timing:
        timing_table(f"{args.small} small model files", many, cmds, args.repeat)
        timing_table(f"one {args.big_mb} MB torch checkpoint", big / "pytorch_model.bin", cmds, args.repeat)
        engine_throughput(big / "pytorch_model.bin")
    if not args.skip_detection:
        detection(cmds)


if __name__ == "__main__":
    main()
