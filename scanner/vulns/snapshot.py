"""Where the vulnerability database lives, and the bundled snapshot it starts from.

The wheel ships the PyPA advisory database as ``scanner/data/osv/pypa-osv.jsonl.gz`` (780 kB,
CC-BY-4.0, attribution in ``README.md`` beside it). On first use it is imported into
``<cache>/osv-pypi.sqlite``; when a newer scanner ships a different snapshot, a database built
from the old bundled snapshot is rebuilt. A database imported by the user (``db import`` or
``db update``) is never replaced behind their back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner import ui
from scanner.errors import ScanError
from scanner.resources import data_dir
from scanner.userdirs import cache_dir

BUNDLED_PREFIX = "bundled:"
DB_NAME = "osv-pypi.sqlite"


def bundled_dump() -> Path:
    return data_dir() / "osv" / "pypa-osv.jsonl.gz"


def bundled_meta() -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((data_dir() / "osv" / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta


def bundled_source() -> str:
    meta = bundled_meta()
    commit = str(meta.get("source_commit", ""))[:12]
    return f"{BUNDLED_PREFIX} PyPA advisory database {meta.get('source_repository', '')}@{commit}".strip()


def default_db_path() -> Path:
    return cache_dir() / DB_NAME


def resolve_db(path: Path | None) -> Path:
    """The database an audit reads: ``path`` when given (it must exist), else the default one,
    built from the bundled snapshot when missing or built from an older bundled snapshot."""
    if path is not None:
        return path
    target = default_db_path()
    if _needs_build(target):
        build_default(target)
    return target


def _needs_build(target: Path) -> bool:
    from scanner.vulns.db import open_info

    if not target.is_file():
        return True
    try:
        info = open_info(target)
    except ScanError:
        return True  # an unreadable or old-schema cache file is ours to rebuild
    if not info.source.startswith(BUNDLED_PREFIX):
        return False
    expected = bundled_meta().get("files", {}).get(bundled_dump().name, {}).get("sha256")
    return bool(expected) and info.meta.get("source_sha256") != expected


def build_default(target: Path) -> None:
    from scanner.vulns.db import import_dump

    dump = bundled_dump()
    if not dump.is_file():
        raise ScanError("the bundled OSV snapshot is missing from this installation; use --db", dump)
    ui.info(f"building the vulnerability database from the bundled snapshot into {target} (first use)")
    try:
        import_dump(dump, target, source=bundled_source())
    except OSError as exc:
        raise ScanError(f"cannot create the vulnerability database: {exc.strerror or exc} (use --db)", target) from None


def describe_default() -> dict[str, Any]:
    """Source, date and records of the database an audit would use, without building it."""
    from scanner.vulns.db import open_info

    target = default_db_path()
    if target.is_file():
        try:
            info = open_info(target)
            return {"source": info.source, "snapshot_date": info.snapshot_date, "records": info.records}
        except ScanError:
            pass
    meta = bundled_meta()
    return {
        "source": bundled_source(),
        "snapshot_date": meta.get("max_modified"),
        "records": meta.get("advisories", 0) - meta.get("withdrawn", 0),
    }
