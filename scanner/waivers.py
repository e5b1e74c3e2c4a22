"""Waivers: accepted risks with an owner and an expiry, matched to findings once, the same way
for the gate, the audit and every report.

A waivers file is YAML::

    waivers:
      - id: W-001
        selector: {rule: VULN-KNOWN, finding: PYSEC-2023-74, purl: "pkg:pypi/requests@*", path: "models/*.bin"}
        reason: not reachable from our code
        owner: platform-team
        approved_by: security-lead
        expires: 2026-12-31

A selector needs at least one key; every key given must match (globs allowed). ``finding`` matches
a finding's ``evidence.vuln_id`` or any of its ``evidence.aliases``. An expired waiver waives
nothing and is itself reported.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.core import Finding
from scanner.errors import ScanError

SELECTOR_KEYS = ("rule", "finding", "purl", "path")
REQUIRED = ("id", "selector", "reason", "owner", "expires")


@dataclass(frozen=True)
class Waiver:
    id: str
    selector: dict[str, str]
    reason: str
    owner: str
    expires: dt.date
    approved_by: str | None = None

    def expired(self, today: dt.date) -> bool:
        """A waiver is valid through its expiry day and expired after it."""
        return today > self.expires

    def matches(self, finding: Finding) -> bool:
        sel = self.selector
        if "rule" in sel and not fnmatch.fnmatchcase(finding.id, sel["rule"]):
            return False
        if "finding" in sel:
            keys = [finding.evidence.get("vuln_id"), *finding.evidence.get("aliases", [])]
            if not any(isinstance(k, str) and fnmatch.fnmatchcase(k, sel["finding"]) for k in keys):
                return False
        if "purl" in sel:
            purl = finding.evidence.get("purl") or finding.subject
            if not _purl_matches(str(purl), sel["purl"]):
                return False
        return not ("path" in sel and not fnmatch.fnmatchcase(finding.subject, sel["path"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "selector": dict(self.selector),
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
        }


def _purl_matches(purl: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(purl, pattern):
        return True
    # a pattern without a version matches every version of that package
    return "@" not in pattern and purl.split("@", 1)[0] == pattern


@dataclass
class WaiverOutcome:
    """Findings annotated with the waiver that covers them (``waived`` key), plus the waivers
    that expired and those that matched nothing."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    all_waivers: list[Waiver] = field(default_factory=list)
    expired: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)
    used: dict[str, list[int]] = field(default_factory=dict)


def apply_waivers(findings: Sequence[Finding], waivers: Sequence[Waiver], today: dt.date) -> WaiverOutcome:
    out = WaiverOutcome(all_waivers=list(waivers))
    active = [w for w in waivers if not w.expired(today)]
    out.expired = [w for w in waivers if w.expired(today)]
    for i, f in enumerate(findings):
        d = f.to_dict()
        match = next((w for w in active if w.matches(f)), None)
        d["waived"] = (
            {"id": match.id, "reason": match.reason, "owner": match.owner, "expires": match.expires.isoformat()}
            if match
            else None
        )
        if match:
            out.used.setdefault(match.id, []).append(i)
        out.findings.append(d)
    out.unused = [w for w in active if w.id not in out.used]
    return out


def load_waivers(path: Path) -> list[Waiver]:
    from scanner import safeyaml

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScanError("waivers file not found", path) from None
    except OSError as exc:
        raise ScanError(f"cannot read waivers file: {exc.strerror}", path) from None
    doc = safeyaml.load(raw, str(path))
    if doc is None:
        return []
    entries = doc.get("waivers") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ScanError("expected a top-level 'waivers:' list", path)
    return parse_waivers(entries, str(path))


def parse_waivers(entries: Iterable[Any], source: str) -> list[Waiver]:
    waivers: list[Waiver] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, 1):
        where = f"waiver #{n}"
        if not isinstance(entry, dict):
            raise ScanError(f"{where}: expected a mapping", source)
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise ScanError(f"{where} ({entry.get('id', 'no id')}): missing {', '.join(missing)}", source)
        wid = str(entry["id"])
        if wid in seen:
            raise ScanError(f"duplicate waiver id {wid}", source)
        seen.add(wid)
        selector = entry["selector"]
        if not isinstance(selector, dict) or not selector:
            raise ScanError(f"waiver {wid}: selector must be a non-empty mapping", source)
        unknown = sorted(set(selector) - set(SELECTOR_KEYS))
        if unknown:
            raise ScanError(
                f"waiver {wid}: unknown selector key(s) {', '.join(unknown)} (known: {', '.join(SELECTOR_KEYS)})",
                source,
            )
        waivers.append(
            Waiver(
                id=wid,
                selector={k: str(v) for k, v in selector.items()},
                reason=str(entry["reason"]),
                owner=str(entry["owner"]),
                approved_by=str(entry["approved_by"]) if entry.get("approved_by") else None,
                expires=_date(entry["expires"], wid, source),
            )
        )
    return waivers


def _date(value: Any, wid: str, source: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScanError(f"waiver {wid}: expires must be a date (YYYY-MM-DD), got {value!r}", source) from None
