"""A large BOM: the ledger does not store the inventory again on every gate, and memory stays
bounded relative to the input."""

from __future__ import annotations

import json
import sqlite3

from tests.hostile.conftest import Hostile


def _bom(n: int) -> dict:
    comps = [
        {
            "type": "library",
            "bom-ref": f"pkg:pypi/pkg{i}@1.{i % 10}.0",
            "name": f"pkg{i}",
            "version": f"1.{i % 10}.0",
            "purl": f"pkg:pypi/pkg{i}@1.{i % 10}.0",
            "description": "x" * 120,
            "hashes": [{"alg": "SHA-256", "content": "ab" * 32}],
            "licenses": [{"license": {"id": "MIT"}}],
        }
        for i in range(n)
    ]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "big", "bom-ref": "root"}},
        "components": comps,
        "dependencies": [{"ref": "root", "dependsOn": [c["bom-ref"] for c in comps]}],
    }


def test_large_bom_is_not_copied_into_the_ledger(hostile: Hostile) -> None:
    bom = hostile.work / "bom.json"
    bom.write_text(json.dumps(_bom(6000)))  # about 2.7 MB
    size = bom.stat().st_size
    ledger = hostile.work / "ledger.db"
    for _ in range(2):
        out = hostile.run("gate", bom, "--ledger", ledger, "-f", "json", "-o", hostile.work / "rec.json", memory=False)
        assert out.code in (0, 1), out.err
    with sqlite3.connect(ledger) as db:
        bodies = [len(r[0]) for r in db.execute("SELECT record FROM decisions")]
    assert len(bodies) == 2 and max(bodies) < size / 20  # digests of the inventory, not copies
    record = json.loads((hostile.work / "rec.json").read_text())
    stored = json.loads(sqlite3.connect(ledger).execute("SELECT record FROM decisions").fetchone()[0])
    assert stored["sbom"]["items"] == 6000 and len(stored["sbom"]["sha256"]) == 64
    assert len(record["sbom"]["components"]) == 6000  # the evidence record keeps it whole
    assert out.max_rss_mb < 150 + 40 * size / 1e6, out.max_rss_mb
