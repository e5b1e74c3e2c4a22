"""Shared fixtures: the real snapshot imported once per worker, and hand-written OSV records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from scanner.vulns.db import import_records


def record(
    vid: str,
    name: str,
    *,
    events: Sequence[dict[str, str]] | None = None,
    versions: Sequence[str] | None = None,
    aliases: Sequence[str] = (),
    severity: str | None = None,
    withdrawn: str | None = None,
    modified: str = "2024-01-02T03:04:05Z",
    summary: str = "",
    ranges: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One OSV record for one PyPI package, as the PyPA database writes them."""
    affected: dict[str, Any] = {"package": {"name": name, "ecosystem": "PyPI", "purl": f"pkg:pypi/{name}"}}
    if ranges is not None:
        affected["ranges"] = ranges
    elif events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": list(events)}]
    if versions is not None:
        affected["versions"] = list(versions)
    rec: dict[str, Any] = {
        "id": vid,
        "modified": modified,
        "aliases": list(aliases),
        "details": f"details of {vid}",
        "affected": [affected],
    }
    if summary:
        rec["summary"] = summary
    if severity:
        rec["severity"] = [{"type": "CVSS_V3", "score": severity}]
    if withdrawn:
        rec["withdrawn"] = withdrawn
    return rec


@pytest.fixture
def make_db(tmp_path: Path) -> Callable[..., Path]:
    """Build a database from hand-written records; returns its path."""
    counter = iter(range(1000))

    def build(records: Sequence[dict[str, Any]]) -> Path:
        target = tmp_path / f"db{next(counter)}.sqlite"
        import_records(((r["id"], r) for r in records), target, source="test records")
        return target

    return build


@pytest.fixture(scope="session")
def snapshot_db(_user_cache: Path) -> Path:
    """The bundled snapshot, imported once per worker into the worker's cache directory."""
    from scanner.vulns.snapshot import resolve_db

    return resolve_db(None)
