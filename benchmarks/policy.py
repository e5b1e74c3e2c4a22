"""Gate decision time with 1,000 and 10,000 findings and 200 waivers (goals: < 10 ms, < 100 ms).

End to end as the gate does it, after the checks: waiver matching, building the policy input
(indexes included), making the engine (loading the compiled plan from the user cache, as every
gate after the first does) and evaluating the shipped policies with regopy. Compiling without the
cache is reported apart.

Also the decision of one small clean model directory (config.json, safetensors, a plain pickle:
what a batch worker judges most), with the engine reused as a batch worker reuses it: the
policy input built by a real `gate` of a generated directory, then only `evaluate` timed.

Usage: python benchmarks/policy.py [--runs N] [--sizes 1000,10000]   (the project's venv python)
Figures: best and median of N runs, with the 1-minute load average. No peer is timed: no real
OPA binary exists on these machines (see ../shared/FACTS.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scanner.check import CheckResult  # noqa: E402
from scanner.core import Artifact, ArtifactKind, Finding, Severity  # noqa: E402
from scanner.inventory.components import Component, Inventory  # noqa: E402
from scanner.waivers import Waiver  # noqa: E402

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]


def findings(n: int, rnd: random.Random) -> list[Finding]:
    out: list[Finding] = []
    for i in range(n):
        kind = i % 10
        sev = SEVERITIES[rnd.randrange(4)]
        if kind < 6:
            pkg = f"pkg{i % 500}"
            fix = rnd.random() < 0.6
            out.append(
                Finding(
                    "VULN-KNOWN",
                    "vulns",
                    sev,
                    f"pkg:pypi/{pkg}@1.{i % 7}.0",
                    f"PYSEC-2024-{i}: something bad",
                    {
                        "vuln_id": f"PYSEC-2024-{i}",
                        "aliases": [f"CVE-2024-{10000 + i}", f"GHSA-{i:04x}-abcd-efgh"],
                        "package": pkg,
                        "version": f"1.{i % 7}.0",
                        "purl": f"pkg:pypi/{pkg}@1.{i % 7}.0",
                        "cvss_vector": None,
                        "cvss_score": 7.5,
                        "severity_known": True,
                        "fixed_in": "2.0.0" if fix else None,
                        "fix_available": fix,
                        "summary": "something bad",
                    },
                )
            )
        elif kind == 6:
            out.append(
                Finding(
                    "MODEL-PICKLE-GLOBAL",
                    "model",
                    sev,
                    f"models/m{i}.bin",
                    "os.system",
                    {"global": "os.system", "offset": i, "format": "pickle"},
                )
            )
        elif kind == 7:
            el = ["SUPPLIER", "AUTHOR", "TIMESTAMP"][i % 3]
            out.append(
                Finding(
                    f"SBOM-NTIA-{el}",
                    "sbom",
                    Severity.MEDIUM,
                    "sbom",
                    f"missing {el}",
                    {"element": el.lower(), "components": [f"c{i}"], "count": 1},
                )
            )
        elif kind == 8:
            out.append(Finding("VULN-UNAUDITED", "vulns", Severity.MEDIUM, f"pkg{i}", "x", {"package": f"pkg{i}"}))
        else:
            out.append(Finding("SBOM-UNPINNED-REQUIREMENT", "sbom", Severity.MEDIUM, f"req{i}", "unpinned"))
    return out


def waivers(count: int, n_findings: int) -> list[Waiver]:
    out: list[Waiver] = []
    for k in range(count):
        expires = dt.date(2027, 6, 1) if k % 20 else dt.date(2026, 1, 1)  # every 20th expired
        i = (k * 37) % max(n_findings, 1)
        if k % 4 == 0:
            sel = {"finding": f"CVE-2024-{10000 + i}"}
        elif k % 4 == 1:
            sel = {"purl": f"pkg:pypi/pkg{k}"}
        elif k % 4 == 2:
            sel = {"rule": "MODEL-*", "path": f"models/m{i}.*"}
        else:
            sel = {"rule": "VULN-KNOWN", "finding": f"PYSEC-2099-{k}"}  # never matches: unused
        out.append(Waiver(f"W-{k:03d}", sel, "accepted", "team", expires, "lead"))
    return out


def inputs(n: int) -> tuple[Artifact, Inventory, list[CheckResult], list[Waiver]]:
    rnd = random.Random(n)
    found = findings(n, rnd)
    by_check: dict[str, list[Finding]] = {}
    for f in found:
        by_check.setdefault(f.check, []).append(f)
    results = [CheckResult(check=c, findings=fs) for c, fs in by_check.items()]
    results[0].context = {
        "vulnerability_db": {"source": "osv", "snapshot_date": "2026-11-20", "age_days": 3, "records": 1}
    }
    results.append(
        CheckResult(
            check="signature",
            section="signatures",
            data=[
                {
                    "type": "sigstore-bundle",
                    "subject": "app",
                    "bundle": "app.sigstore.json",
                    "verified": True,
                    "identity": "https://github.com/example-org/app/.github/workflows/release.yml@refs/tags/v1.0.0",
                    "issuer": "https://token.actions.githubusercontent.com",
                    "error": None,
                }
            ],
        )
    )
    licenses = ["MIT", "Apache-2.0", "BSD-3-Clause", "MIT OR AGPL-3.0-only", "(MIT AND GPL-2.0-only)"]
    inv = Inventory(
        components=[
            Component(f"pkg:pypi/pkg{i}@1.0", f"pkg{i}", "1.0", purl=f"pkg:pypi/pkg{i}@1.0", licenses=[licenses[i % 5]])
            for i in range(200)
        ]
    )
    art = Artifact(Path("app"), ArtifactKind.APP_DIR, "app", "sha256:" + "0" * 64)
    return art, inv, results, waivers(200, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()

    import json
    import tempfile

    from scanner.policy.engine import PolicyEngine
    from scanner.policy.input import build_input, match_waivers
    from scanner.resources import policies_dir

    os.environ["SCANNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="policy-bench-")  # a cold cache to start
    data = json.loads((policies_dir() / "data.json").read_text())
    cold = []
    for _ in range(3):
        start = time.perf_counter()
        PolicyEngine(policies_dir(), data, cache=False).evaluate({})
        cold.append((time.perf_counter() - start) * 1000)
    print(f"compile without the plan cache (every run before): {statistics.median(cold):.1f} ms")
    PolicyEngine(policies_dir(), data).evaluate({})  # fills the cache, as the first gate of a user does
    print("each run below starts a new engine, as a new process does: loading the cached plan is included")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'findings':>9} {'waivers':>8} {'match':>8} {'input':>8} {'engine+eval':>11} {'best':>8} {'median':>8}"
        f" {'goal':>6}  denies"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        art, inv, results, wv = inputs(n)
        rows = []
        decision = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            matched = match_waivers(results, wv, NOW)
            t1 = time.perf_counter()
            doc = build_input(art, "prod", inv, results, matched, now=NOW)
            t2 = time.perf_counter()
            decision = PolicyEngine(policies_dir(), data).evaluate(doc)
            t3 = time.perf_counter()
            rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        med = [statistics.median(r[k] for r in rows) * 1000 for k in range(4)]
        fastest = min(r[3] for r in rows) * 1000
        goal = 10 if n <= 1000 else 100
        assert decision is not None
        print(
            f"{n:>9} {len(wv):>8} {med[0]:>7.1f}ms {med[1]:>7.1f}ms {med[2]:>10.1f}ms {fastest:>7.1f}ms"
            f" {med[3]:>7.1f}ms {goal:>4}ms  {','.join(sorted(r.rule for r in decision.deny))}"
        )
    print(f"(match/input/engine+eval: medians of {args.runs} runs; other jobs may share the CPU)")
    small_model(args.runs * 20)
    print(f"load average {os.getloadavg()[0]:.2f}")


def small_model(runs: int) -> None:
    """One small clean model directory's decision, the engine reused (a batch worker's case)."""
    import os
    import pickle
    import tempfile

    import numpy as np
    from safetensors.numpy import save_file

    from scanner import pipeline
    from scanner.options import GateOptions
    from scanner.policy import rego

    root = Path(tempfile.mkdtemp(prefix="policy-bench-model-")) / "model"
    root.mkdir()
    (root / "config.json").write_text('{"model_type": "bert", "hidden_size": 64}')
    save_file({"w": np.zeros((64, 64), dtype=np.float32)}, str(root / "model.safetensors"))
    (root / "extra.pkl").write_bytes(pickle.dumps({"vocab": {f"t{j}": j for j in range(200)}}, protocol=4))
    options = GateOptions(stage="dev", now=NOW)
    policy = pipeline.prepare_policy(options)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
        outcome = pipeline.gate(root, options, policy=policy)
    doc, engine = outcome.policy_input, policy.engine
    assert doc is not None and outcome.decision is not None
    evaluate, view = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        decision = engine.evaluate(doc)
        t1 = time.perf_counter()
        rego._input(engine._references.view(doc))
        t2 = time.perf_counter()
        evaluate.append(t1 - t0)
        view.append(t2 - t1)
    assert decision == outcome.decision
    print(
        f"small clean model directory (dev, engine reused): evaluate best {min(evaluate) * 1000:.2f} ms, "
        f"median {statistics.median(evaluate) * 1000:.2f} ms (of which the engine's input "
        f"{min(view) * 1000:.2f} ms); allow={decision.allow}, warn={','.join(r.rule for r in decision.warn)}"
    )


if __name__ == "__main__":
    main()
