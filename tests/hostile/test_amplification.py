"""A large BOM: the ledger does not store the inventory again on every gate, the evidence record
carries it once, and peak memory stays a small multiple of the input."""

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
    assert len(record["sbom"]["components"]) == 6000  # the evidence record keeps it whole ...
    assert "components" not in record and "components" not in stored  # ... once, as the SBOM
    assert (hostile.work / "rec.json").stat().st_size <= 1.5 * size


# Measured on this machine (CPython 3.11): a 11 MB BOM (25,000 components) gated to a JSON record
# grows the gate's peak RSS by about 62 MB over a gate of a 44 KB BOM (5.5x the input; 5.3x for
# 25 MB, 134 MB over the same base), in 3 s. The bound leaves room for allocator noise.
GROWTH_BOUND = 8.0


def test_peak_memory_is_a_small_multiple_of_the_input(hostile: Hostile) -> None:
    small, big = hostile.work / "small.json", hostile.work / "big.json"
    small.write_text(json.dumps(_bom(100)))
    big.write_text(json.dumps(_bom(25_000)))  # about 11 MB
    size = big.stat().st_size
    for _ in range(2):  # the first run compiles the policies into the cache, as a CI's first gate would
        base = hostile.run("gate", small, "--no-ledger", "-f", "json", "-o", hostile.work / "small.out", memory=False)
        assert base.code == 0, base.err
    args = ("gate", big, "--ledger", hostile.work / "ledger.db", "-f", "json", "-o", hostile.work / "rec.json")
    out = hostile.run(*args, memory=False)
    assert out.code == 0, out.err
    growth = (out.max_rss_mb - base.max_rss_mb) * (1 << 20)
    assert growth <= GROWTH_BOUND * size, f"{growth / size:.1f}x the input ({out.max_rss_mb:.0f} MB peak)"
    assert out.max_rss_mb < 500 and out.seconds < 30
    assert (hostile.work / "rec.json").stat().st_size <= 1.5 * size  # the inventory carried once
