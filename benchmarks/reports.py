"""Report rendering and ledger throughput on a synthetic large record.

    .venv/bin/python benchmarks/reports.py [FINDINGS]

Builds one evidence record with FINDINGS findings (default 5000) across four checks, renders it in
every format (time and output size), then appends 200 records to a fresh ledger and verifies it.
No peer tool renders our evidence record, so this reports our own figures only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scanner.evidence.ledger import Ledger
from scanner.report import FORMATS, render

SEVERITIES = ("critical", "high", "medium", "low", "info")
CHECKS = ("model", "vulns", "sbom", "license")


def big_record(n: int) -> dict[str, Any]:
    findings = [
        {
            "id": f"{CHECKS[i % 4].upper()}-RULE-{i % 23}",
            "check": CHECKS[i % 4],
            "severity": SEVERITIES[i % 5],
            "subject": f"models/part-{i:05d}.bin" if i % 4 == 0 else f"pkg:pypi/pkg{i}@1.{i % 9}",
            "message": f"finding {i}: something worth a look in a longer sentence " * 2,
            "evidence": {"vuln_id": f"PYSEC-2026-{i}", "package": f"pkg{i}", "cvss_score": 7.5},
            "fix": None,
            "waived": {"id": "W-1", "reason": "accepted", "owner": "team", "expires": "2027-01-01"}
            if i % 17 == 0
            else None,
        }
        for i in range(n)
    ]
    return {
        "schema": "scanner-evidence/2",
        "command": "gate",
        "timestamp": "2026-11-20T09:30:00Z",
        "tool": {"name": "scanner", "version": "0.1.0"},
        "artifact": {
            "name": "big",
            "kind": "model-dir",
            "digest": "sha256:" + "0" * 64,
            "path": "big",
            "files": [{"path": f"models/part-{i:05d}.bin", "sha256": "a" * 64, "size": 1} for i in range(n // 4)],
        },
        "stage": "prod",
        "components": [
            {"name": f"pkg{i}", "version": "1", "type": "library", "purl": f"pkg:pypi/pkg{i}@1"} for i in range(500)
        ],
        "checks": [{"check": c, "complete": True, "findings": n // 4, "summary": {}} for c in CHECKS],
        "findings": findings,
        "counts": {},
        "waivers": [],
        "decision": {"allow": False, "deny": [{"rule": "r", "message": "m", "remediation": None}], "warn": []},
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    record = big_record(n)
    print(f"record with {n} findings")
    for fmt in FORMATS:
        if fmt == "cyclonedx-json":
            continue  # renders the record's SBOM, which this synthetic record does not carry
        start = time.perf_counter()
        out = render(fmt, record)
        print(f"  {fmt:9s} {time.perf_counter() - start:7.3f} s  {len(out.encode()) / 1e6:7.2f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ledger.db"
        small = {**record, "findings": record["findings"][:50], "artifact": {**record["artifact"], "files": []}}
        start = time.perf_counter()
        with Ledger(db) as ledger:
            for _ in range(200):
                ledger.append(small)
        append = time.perf_counter() - start
        start = time.perf_counter()
        with Ledger(db) as ledger:
            ok = ledger.verify().ok
        verify = time.perf_counter() - start
        print(f"ledger: 200 appends {append:.3f} s ({200 / append:.0f}/s), verify {verify:.3f} s, ok={ok}")


if __name__ == "__main__":
    main()
