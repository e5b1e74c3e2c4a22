"""The local vulnerability database: OSV records in SQLite (stdlib ``sqlite3``).

One row per vulnerability (``vulns``) after de-duplication by alias, one row per affected PyPI
package (``affected``, keyed by the PEP 503 name, holding the ``affected[]`` entry compiled for
matching: see ``osv.Affected.to_compiled``), and
the facts about the snapshot (``meta``: source, snapshot date, counts). Severity is computed once
at import from the CVSS vector, so an audit never imports the CVSS library.

An import writes a new file beside the target and renames it into place: readers never see a
half-written database, and concurrent first uses do not corrupt each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import ScanError

if TYPE_CHECKING:  # (imported where used: reading the database's identity needs neither)
    from packaging.version import Version

    from scanner.vulns import osv

SCHEMA_VERSION = "3"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE vulns (
    id TEXT PRIMARY KEY,
    aliases TEXT NOT NULL,
    summary TEXT,
    modified TEXT,
    cvss_vector TEXT,
    cvss_score REAL,
    severity TEXT,
    withdrawn TEXT
);
-- entry: osv.Affected.to_compiled() as JSON; listed: osv.Affected.listed; fixed_listed: the
-- listed versions (of any entry of this vulnerability and package) that a range calls fixed
CREATE TABLE affected (
    name TEXT NOT NULL, vuln_id TEXT NOT NULL, entry TEXT NOT NULL, listed TEXT NOT NULL, fixed_listed TEXT NOT NULL
);
"""
_INDEX = "CREATE INDEX affected_name ON affected(name);"
# Preferred ids when records duplicate each other through aliases: PYSEC is the PyPA database's own.
_PREFERENCE = ("PYSEC-", "GHSA-")
_CVSS_ORDER = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


@dataclass(frozen=True)
class Vulnerability:
    """A vulnerability as stored, with its parsed affected entries for one package."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    cvss_vector: str | None
    cvss_score: float | None
    severity: str | None
    entries: tuple[osv.Affected, ...]


@dataclass(frozen=True)
class DbInfo:
    path: Path
    source: str
    snapshot_date: str
    imported_at: str
    records: int
    meta: dict[str, str]

    def snapshot_datetime(self) -> dt.datetime:
        return _parse_time(self.snapshot_date) or dt.datetime.fromtimestamp(0, dt.timezone.utc)

    def age_days(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.timezone.utc)
        return max(0, (now - self.snapshot_datetime()).days)

    def to_dict(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """The contract shape (``context.vulnerability_db``), plus where it is."""
        return {
            "source": self.source,
            "snapshot_date": self.snapshot_date,
            "age_days": self.age_days(now),
            "records": self.records,
            "path": str(self.path),
        }


# ---------------------------------------------------------------- import


def import_records(
    records: Iterable[tuple[str, dict[str, Any]]], target: Path, *, source: str, source_sha256: str | None = None
) -> DbInfo:
    """Load OSV records into a new database at ``target`` (replacing it atomically)."""
    kept: dict[str, dict[str, Any]] = {}
    for _where, record in records:
        kept[record["id"]] = _slim(record, kept.get(record["id"]))
    if not kept:
        raise ScanError("no OSV records found", source)
    groups = _group_by_alias(kept)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _write(tmp, kept, groups, source=source, source_sha256=source_sha256)
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        raise ScanError(f"cannot write the vulnerability database: {exc}", target) from None
    finally:
        tmp.unlink(missing_ok=True)
    return open_info(target)


def import_dump(path: Path, target: Path, *, source: str | None = None) -> DbInfo:
    """Import a directory, zip or ``.jsonl.gz`` of OSV records (see ``scanner.vulns.sources``)."""
    from scanner.vulns.sources import read_dump

    sha = sha256_of(path) if path.is_file() else None
    return import_records(read_dump(path), target, source=source or str(path.resolve()), source_sha256=sha)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _slim(record: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Keep what matching and reporting need. A record seen twice (a dump holding the same id in
    two files) keeps the one modified last."""
    slim = {
        "id": record["id"],
        "aliases": sorted({a for a in record.get("aliases") or [] if isinstance(a, str)}),
        "summary": _summary(record),
        "modified": _time_text(record.get("modified")),
        "withdrawn": _time_text(record.get("withdrawn")) or None,
        "severity": [s for s in record.get("severity") or [] if isinstance(s, dict)],
        "affected": [
            a
            for a in record.get("affected") or []
            if isinstance(a, dict) and isinstance(a.get("package"), dict) and a["package"].get("ecosystem") == "PyPI"
        ],
    }
    if previous is not None and (previous["modified"] or "") > (slim["modified"] or ""):
        return previous
    return slim


def _summary(record: dict[str, Any]) -> str:
    summary = record.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary.strip()
    details = record.get("details")
    if isinstance(details, str) and details.strip():
        first = details.strip().split("\n\n", 1)[0].replace("\n", " ")
        return first if len(first) <= 300 else first[:297] + "..."
    return ""


def _time_text(value: Any) -> str:
    if isinstance(value, dt.datetime):  # YAML records parse timestamps
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    return value if isinstance(value, str) else ""


def _group_by_alias(kept: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Records that name each other in ``aliases`` (a GHSA duplicating a PYSEC) form one group.
    Records merely sharing a CVE are not merged: the PyPA database has one record per package."""
    parent = {vid: vid for vid in kept if not kept[vid]["withdrawn"]}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for vid in parent:
        for alias in kept[vid]["aliases"]:
            if alias in parent:
                a, b = find(vid), find(alias)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for vid in parent:
        groups.setdefault(find(vid), []).append(vid)
    return [sorted(g, key=_preference) for g in groups.values()]


def _preference(vid: str) -> tuple[int, str]:
    for rank, prefix in enumerate(_PREFERENCE):
        if vid.startswith(prefix):
            return (rank, vid)
    return (len(_PREFERENCE), vid)


def _write(
    tmp: Path,
    kept: dict[str, dict[str, Any]],
    groups: list[list[str]],
    *,
    source: str,
    source_sha256: str | None,
) -> dict[str, int]:
    from scanner.vulns import osv
    from scanner.vulns.severity import score_vector

    con = sqlite3.connect(tmp)
    try:
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        stats = {"unparseable_versions": 0, "skipped_ranges": 0, "invalid_cvss": 0, "merged_duplicates": 0}
        vuln_rows: list[tuple[Any, ...]] = []
        affected_rows: list[tuple[str, str, str, str, str]] = []
        packages: set[str] = set()
        for group in sorted(groups, key=lambda g: g[0]):
            chosen, members = group[0], [kept[v] for v in group]
            stats["merged_duplicates"] += len(group) - 1
            aliases = sorted({a for m in members for a in (m["id"], *m["aliases"])} - {chosen})
            vector, score, severity, invalid = _severity(members, score_vector)
            stats["invalid_cvss"] += invalid
            summary = next((m["summary"] for m in members if m["summary"]), "")
            modified = max(m["modified"] for m in members)
            vuln_rows.append((chosen, json.dumps(aliases), summary, modified, vector, score, severity, None))
            by_name: dict[str, dict[str, osv.Affected]] = {}
            for member in members:
                for entry in member["affected"]:
                    parsed = osv.parse_affected(entry)
                    if parsed is None:
                        continue
                    text = json.dumps(parsed.to_compiled(), sort_keys=True, separators=(",", ":"))
                    same = by_name.setdefault(parsed.name, {})
                    if text + parsed.listed in same:
                        continue  # identical entries (a GHSA repeating its PYSEC) fold into one
                    same[text + parsed.listed] = parsed
                    stats["unparseable_versions"] += parsed.unparseable
                    stats["skipped_ranges"] += len(parsed.skipped_ranges)
            for name, parsed_entries in sorted(by_name.items()):
                packages.add(name)
                entries = list(parsed_entries.values())
                fixed_listed = _fixed_listed(entries)
                for key, parsed in parsed_entries.items():
                    text = key[: len(key) - len(parsed.listed)]
                    affected_rows.append((name, chosen, text, parsed.listed, fixed_listed))
        withdrawn = sorted((v for v in kept.values() if v["withdrawn"]), key=lambda v: v["id"])
        for w in withdrawn:
            row = (w["id"], json.dumps(w["aliases"]), w["summary"], w["modified"], None, None, None, w["withdrawn"])
            vuln_rows.append(row)
        con.executemany("INSERT INTO vulns VALUES (?,?,?,?,?,?,?,?)", vuln_rows)
        con.executemany("INSERT INTO affected VALUES (?,?,?,?,?)", affected_rows)
        con.execute(_INDEX)
        snapshot = max((v["modified"] for v in kept.values() if v["modified"]), default="")
        meta = {
            "schema_version": SCHEMA_VERSION,
            "source": source,
            "source_sha256": source_sha256 or "",
            "snapshot_date": snapshot,
            "imported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "records": str(len(groups)),
            "input_records": str(len(kept)),
            "withdrawn": str(len(withdrawn)),
            "packages": str(len(packages)),
            **{k: str(v) for k, v in stats.items()},
        }
        con.executemany("INSERT INTO meta VALUES (?,?)", sorted(meta.items()))
        con.commit()
        return stats
    finally:
        con.close()


def _fixed_listed(entries: Sequence[osv.Affected]) -> str:
    """Fixed versions that a listed ``versions`` entry still calls affected: the only listed
    versions the fix search ever needs (see ``Database.lookup``)."""
    from scanner.vulns import osv

    fixed = {osv.canonical(v) for e in entries for v in e.fixed_versions()}
    return " " + "".join(f"{v} " for v in sorted(fixed) if any(f" {v} " in e.listed for e in entries))


def _severity(members: Sequence[dict[str, Any]], score_vector: Any) -> tuple[str | None, float | None, str | None, int]:
    """The first valid CVSS vector (v3, then v4, then v2) across the group, scored."""
    invalid = 0
    for kind in _CVSS_ORDER:
        for member in members:
            for entry in member["severity"]:
                if entry.get("type") != kind or not isinstance(entry.get("score"), str):
                    continue
                scored = score_vector(kind, entry["score"])
                if scored is None:
                    invalid += 1
                    continue
                return entry["score"], scored[0], scored[1], invalid
    return None, None, None, invalid


# ---------------------------------------------------------------- reading


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ScanError("no vulnerability database here (create it with `scanner db import` or `db update`)", path)
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        con.execute("SELECT 1 FROM meta LIMIT 1")
    except sqlite3.Error as exc:
        raise ScanError(f"not a scanner vulnerability database ({exc})", path) from None
    return con


def open_info(path: Path) -> DbInfo:
    con = _connect(path)
    try:
        return _info(con, path)
    finally:
        con.close()


def _info(con: sqlite3.Connection, path: Path) -> DbInfo:
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as exc:
        raise ScanError(f"not a scanner vulnerability database ({exc})", path) from None
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ScanError(
            f"vulnerability database schema {meta.get('schema_version')!r}, this scanner reads {SCHEMA_VERSION!r}: "
            "re-import it with `scanner db import`",
            path,
        )
    return DbInfo(
        path=path,
        source=meta.get("source", ""),
        snapshot_date=meta.get("snapshot_date", ""),
        imported_at=meta.get("imported_at", ""),
        records=int(meta.get("records", "0")),
        meta=meta,
    )


class Database:
    """A read-only handle for audits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = _connect(path)
        self.info = _info(self._con, path)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def lookup(self, installed: Iterable[tuple[str, Version]]) -> dict[tuple[str, Version], list[Vulnerability]]:
        """Candidate vulnerabilities for each (PEP 503 name, version), not withdrawn.

        The listed ``versions`` of an entry (hundreds for some packages) never leave SQLite: the
        entry comes back with only the listed versions that matter here, the installed one when
        listed and those its ranges call fixed. Matching (``osv.is_affected``, ``osv.smallest_fix``)
        gives the same answers as with the full list, for a fraction of the decoding.
        """
        from scanner.vulns import osv

        pairs = sorted({(osv.normalize_name(n), v) for n, v in installed})
        canon = {pair: osv.canonical(pair[1]) for pair in pairs}
        out: dict[tuple[str, Version], list[Vulnerability]] = {}
        meta: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(pairs, 400):
            values = ",".join("(?,?)" for _ in chunk)
            params = [x for pair in chunk for x in (pair[0], canon[pair])]
            query = (
                f"WITH q(name, canon) AS (VALUES {values}) "
                "SELECT q.name, q.canon, a.vuln_id, a.entry, a.fixed_listed, "
                "instr(a.listed, ' ' || q.canon || ' ') > 0, "
                "v.aliases, v.summary, v.cvss_vector, v.cvss_score, v.severity "
                "FROM q JOIN affected a ON a.name = q.name JOIN vulns v ON v.id = a.vuln_id "
                "WHERE v.withdrawn IS NULL ORDER BY q.name, q.canon, a.vuln_id"
            )
            try:
                result = self._con.execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise ScanError(f"cannot read the vulnerability database: {exc}", self.path) from None
            by_pair = {(name, canon[(name, v)]): (name, v) for name, v in chunk}
            grouped: dict[tuple[tuple[str, Version], str], list[osv.Affected]] = {}
            for name, c, vid, entry, fixed_listed, hit, *vuln in result:
                listed = f"{fixed_listed}{c} " if hit else fixed_listed
                parsed = osv.Affected.from_compiled(json.loads(entry), listed)
                grouped.setdefault((by_pair[(name, c)], vid), []).append(parsed)
                meta[vid] = tuple(vuln)
            for (pair, vid), entries in grouped.items():
                out.setdefault(pair, []).append(self._vulnerability(vid, meta[vid], entries))
        return out

    def vulnerabilities(self, name: str) -> list[Vulnerability]:
        """Every non-withdrawn vulnerability of one package, entries complete (for inspection)."""
        from scanner.vulns import osv

        query = (
            "SELECT a.vuln_id, a.entry, a.listed, v.aliases, v.summary, v.cvss_vector, v.cvss_score, v.severity "
            "FROM affected a JOIN vulns v ON v.id = a.vuln_id WHERE a.name = ? AND v.withdrawn IS NULL "
            "ORDER BY a.vuln_id"
        )
        grouped: dict[str, list[osv.Affected]] = {}
        meta: dict[str, tuple[Any, ...]] = {}
        for vid, entry, listed, *vuln in self._con.execute(query, (osv.normalize_name(name),)):
            grouped.setdefault(vid, []).append(osv.Affected.from_compiled(json.loads(entry), listed))
            meta[vid] = tuple(vuln)
        return [self._vulnerability(vid, meta[vid], entries) for vid, entries in grouped.items()]

    @staticmethod
    def _vulnerability(vid: str, vuln: tuple[Any, ...], entries: list[osv.Affected]) -> Vulnerability:
        aliases, summary, vector, score, severity = vuln
        return Vulnerability(
            id=vid,
            aliases=tuple(json.loads(aliases)),
            summary=summary or "",
            cvss_vector=vector,
            cvss_score=score,
            severity=severity,
            entries=tuple(entries),
        )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _parse_time(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:  # Python 3.10 reads only 0, 3 or 6 fraction digits: the day and time are enough
            value = dt.datetime.fromisoformat(text[:19])
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
