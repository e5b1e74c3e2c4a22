"""Offline dependency audit: scanner vs pip-audit on 1,000 pinned packages, same OSV data.

What is measured (each in a fresh process, wall time and peak RSS from wait4):
  1. ``scanner db import`` of the full bundled snapshot (goal < 5 s);
  2. ``scanner audit requirements.txt`` against that database (goals < 0.5 s, < 100 MB);
  3. ``pip-audit -s osv --osv-url http://127.0.0.1:PORT/v1/query -r requirements.txt --no-deps
     --disable-pip``, pointed at a small OSV-compatible server this script runs on 127.0.0.1,
     answering ``/v1/query`` from the same snapshot.
pip-audit is installed into its own venv under ``benchmarks/.work/`` on first run.

Usage: .venv/bin/python benchmarks/audit.py [--runs N]
The local server shares the machine's cores with pip-audit: its answer time is part of
pip-audit's figure, as osv.dev's network time would be.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work" / "audit"
SNAPSHOT = REPO / "scanner" / "data" / "osv" / "pypa-osv.jsonl.gz"
PIP_AUDIT = "pip-audit==2.10.1"
N_PACKAGES = 1000


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS in MB, CPU seconds (user + system) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # pip-audit exits 1 when it finds vulnerabilities
        raise SystemExit(f"{cmd[0]} failed ({code}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def load_records() -> list[dict[str, Any]]:
    with gzip.open(SNAPSHOT, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def requirements(records: list[dict[str, Any]], path: Path) -> None:
    """Every package of the snapshot pinned to a version listed as affected (so most have hits),
    filled up to 1,000 with packages the database does not know."""
    from scanner.vulns.osv import normalize_name, parse_version

    pins: dict[str, str] = {}
    for rec in records:
        for aff in rec.get("affected", []):
            name = normalize_name(aff["package"]["name"])
            listed = [v for v in aff.get("versions", []) if parse_version(v) is not None]
            if name not in pins and listed:
                pins[name] = listed[len(listed) // 2]
    names = sorted(pins)[:N_PACKAGES]
    lines = [f"{n}=={pins[n]}" for n in names]
    lines += [f"bench-unknown-package-{i:04d}==1.0.0" for i in range(N_PACKAGES - len(lines))]
    path.write_text("\n".join(lines) + "\n")


def osv_server(records: list[dict[str, Any]]) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A minimal OSV ``/v1/query`` endpoint over the snapshot (withdrawn records excluded)."""
    from packaging.version import Version

    from scanner.vulns.osv import normalize_name, parse_affected

    index: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for rec in records:
        if rec.get("withdrawn"):
            continue
        for aff in rec.get("affected", []):
            parsed = parse_affected(aff)
            if parsed is not None:
                index.setdefault(parsed.name, []).append((parsed, rec))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = normalize_name(body["package"]["name"])
            version = Version(body["version"])
            vulns = {rec["id"]: rec for parsed, rec in index.get(name, []) if parsed.contains(version)}
            data = json.dumps({"vulns": list(vulns.values())} if vulns else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1/query"


def pip_audit_exe() -> Path:
    venv = WORK.parent / "pip-audit-venv"
    exe = venv / "bin" / "pip-audit"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", PIP_AUDIT], check=True)
    return exe


def pairs_scanner(path: Path) -> set[tuple[str, str]]:
    record = json.loads(path.read_text())
    return {(f["evidence"]["package"], f["evidence"]["vuln_id"]) for f in record["findings"] if f["id"] == "VULN-KNOWN"}


def pairs_pip_audit(path: Path) -> set[tuple[str, str]]:
    doc = json.loads(path.read_text())
    return {(d["name"], v["id"]) for d in doc["dependencies"] for v in d.get("vulns", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    scanner = str(Path(sys.executable).with_name("scanner"))
    records = load_records()
    req = WORK / "requirements.txt"
    requirements(records, req)
    db = WORK / "osv.sqlite"
    env = {**os.environ, "SCANNER_CACHE_DIR": str(WORK / "cache")}

    rows: list[tuple[str, list[tuple[float, float, float]]]] = []
    rows.append(
        (
            "scanner db import (full snapshot)",
            [run([scanner, "-q", "db", "import", str(SNAPSHOT), "--db", str(db)], env) for _ in range(args.runs)],
        )
    )
    out_s = WORK / "scanner.json"
    audit_cmd = [scanner, "-q", "audit", str(req), "--db", str(db), "-f", "json", "-o", str(out_s), "--fail-on", "none"]
    rows.append(("scanner audit (1,000 pins)", [run(audit_cmd, env) for _ in range(args.runs)]))

    exe = pip_audit_exe()
    server, url = osv_server(records)
    out_p = WORK / "pip-audit.json"
    pa_cmd = [str(exe), "-s", "osv", "--osv-url", url, "-r", str(req), "--no-deps", "--disable-pip"]
    pa_cmd += ["-f", "json", "-o", str(out_p), "--progress-spinner", "off", "--cache-dir", str(WORK / "pa-cache")]
    try:
        rows.append(("pip-audit -s osv --osv-url (local)", [run(pa_cmd) for _ in range(max(1, args.runs // 2))]))
    finally:
        server.shutdown()

    print(f"{len(req.read_text().splitlines())} pinned packages, snapshot {SNAPSHOT.name} ({len(records)} records)")
    print(f"{'command':<38}{'median s':>10}{'min s':>8}{'CPU s':>8}{'peak MB':>9}")
    medians = {}
    for label, results in rows:
        walls = [r[0] for r in results]
        medians[label] = statistics.median(walls)
        cpu = statistics.median(r[2] for r in results)
        print(f"{label:<38}{medians[label]:>10.3f}{min(walls):>8.3f}{cpu:>8.3f}{max(r[1] for r in results):>9.1f}")
    ours, theirs = pairs_scanner(out_s), pairs_pip_audit(out_p)
    audit_s = min(r[0] for r in rows[1][1])
    ratio = medians["pip-audit -s osv --osv-url (local)"] / medians["scanner audit (1,000 pins)"]
    print(f"\npip-audit / scanner audit median time: {ratio:.1f}x")
    print(f"(package, vulnerability) pairs: scanner {len(ours)}, pip-audit {len(theirs)}, both {len(ours & theirs)}")
    for label, pairs in (("only scanner", ours - theirs), ("only pip-audit", theirs - ours)):
        if pairs:
            print(f"  {label}: {len(pairs)}, e.g. {sorted(pairs)[:5]}")
    peak = max(r[1] for r in rows[1][1])
    print(
        f"goals: audit < 0.5 s: best {audit_s:.3f} s; < 100 MB: {peak:.1f} MB; "
        f"import < 5 s: {medians[rows[0][0]]:.3f} s"
    )
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
