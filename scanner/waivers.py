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
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.core import Finding, Severity
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
    until: dt.datetime | None = None  # an expiry given as a time (with its zone): that instant
    source: str = ""  # the waivers file

    @property
    def ends(self) -> dt.datetime:
        """The first instant (UTC) the waiver no longer applies: the given time, or the end of
        the expiry day (UTC) when only a date was given."""
        if self.until is not None:
            return self.until
        return dt.datetime.combine(self.expires + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)

    def expired(self, now: dt.date | dt.datetime) -> bool:
        """A waiver is valid through its expiry day (or up to its expiry time) and expired after."""
        if not isinstance(now, dt.datetime):
            now = dt.datetime.combine(now, dt.time(), tzinfo=dt.timezone.utc)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=dt.timezone.utc)
        return now >= self.ends

    @property
    def catch_all(self) -> bool:
        """Every selector key is a bare wildcard (``*``): it matches any finding."""
        return all(_WILDCARD.fullmatch(v.strip()) for v in self.selector.values())

    def matches(self, finding: Finding) -> bool:
        return _Selector.of(self).matches(finding)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "selector": dict(self.selector),
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "expires": self.expires_text,
        }

    @property
    def expires_text(self) -> str:
        return self.until.isoformat().replace("+00:00", "Z") if self.until else self.expires.isoformat()


@dataclass
class WaiverOutcome:
    """Findings annotated with the waiver that covers them (``waived`` key), plus the waivers
    that expired and those that matched nothing."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    all_waivers: list[Waiver] = field(default_factory=list)
    expired: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)
    used: dict[str, list[int]] = field(default_factory=dict)


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[Waiver], today: dt.date | dt.datetime
) -> WaiverOutcome:
    """Annotate every finding with the first active waiver (in file order) that covers it.

    Waivers are indexed by the literal part of their selector (rule id, vulnerability id, package
    name), so matching costs about one dictionary lookup per finding instead of one glob test per
    finding and waiver; only waivers whose every selector key is a glob are tried on each finding.
    """
    out = WaiverOutcome(all_waivers=list(waivers))
    out.expired = [w for w in waivers if w.expired(today)]
    index = _WaiverIndex([w for w in waivers if not w.expired(today)])
    for i, f in enumerate(findings):
        d = f.to_dict()
        match = index.first_match(f)
        if match is not None and match.catch_all and f.severity >= Severity.CRITICAL:
            raise ScanError(
                f"waiver {match.id}: a catch-all selector ({_shown(match.selector)}) cannot waive the critical "
                f"finding {f.id} on {f.subject}; name the rule and the file or package it accepts",
                match.source or None,
            )
        d["waived"] = (
            {"id": match.id, "reason": match.reason, "owner": match.owner, "expires": match.expires_text}
            if match
            else None
        )
        if match:
            out.used.setdefault(match.id, []).append(i)
        out.findings.append(d)
    out.unused = [w for w in index.waivers if w.id not in out.used]
    return out


_GLOB = re.compile(r"[*?\[]")
_WILDCARD = re.compile(r"[*?/]*|pkg:[*?]*(/[*?]*)?")


def _shown(selector: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v!r}" for k, v in selector.items())


def _is_glob(pattern: str) -> bool:
    return bool(_GLOB.search(pattern))


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _package(purl: str) -> str:
    """``pkg:pypi/requests@2.31.0?x=y#sub`` → ``pkg:pypi/requests`` (the purl without version)."""
    return purl.split("@", 1)[0].split("?", 1)[0].split("#", 1)[0]


def _finding_keys(finding: Finding) -> list[str]:
    aliases = finding.evidence.get("aliases") or []
    keys = [finding.evidence.get("vuln_id"), *(aliases if isinstance(aliases, (list, tuple)) else [])]
    return [k for k in keys if isinstance(k, str)]


def _finding_purl(finding: Finding) -> str:
    return str(finding.evidence.get("purl") or finding.subject)


@dataclass(frozen=True)
class _Selector:
    """A waiver's selector with its globs compiled once."""

    rule: re.Pattern[str] | None
    finding: re.Pattern[str] | None
    purl: str | None
    path: re.Pattern[str] | None
    # the path pattern's text before its first glob character: a subject that does not start
    # with it cannot match (tested first: a string comparison instead of a call and a regex)
    path_prefix: str = ""

    @classmethod
    def of(cls, waiver: Waiver) -> _Selector:
        sel = waiver.selector
        return cls(
            rule=_compile(sel["rule"]) if "rule" in sel else None,
            finding=_compile(sel["finding"]) if "finding" in sel else None,
            purl=sel.get("purl"),
            path=_compile(sel["path"]) if "path" in sel else None,
            path_prefix=_GLOB.split(sel["path"], 1)[0] if "path" in sel else "",
        )

    def matches(self, finding: Finding) -> bool:
        if self.rule is not None and not self.rule.match(finding.id):
            return False
        if self.finding is not None and not any(self.finding.match(k) for k in _finding_keys(finding)):
            return False
        if self.purl is not None and not _purl_matches(_finding_purl(finding), self.purl):
            return False
        return self.path is None or bool(self.path.match(finding.subject))


def _purl_matches(purl: str, pattern: str) -> bool:
    if _compile(pattern).match(purl):
        return True
    # a pattern without a version matches every version of that package
    return "@" not in pattern and _package(purl) == pattern


def _rule_may_match(pattern: re.Pattern[str] | None, rule: str) -> bool:
    return pattern is None or bool(pattern.match(rule))


class _WaiverIndex:
    """Active waivers bucketed by a literal selector value; ``first_match`` keeps file order."""

    def __init__(self, waivers: Sequence[Waiver]):
        self.waivers = list(waivers)
        self.selectors = [_Selector.of(w) for w in self.waivers]
        self.by_rule: dict[str, list[int]] = {}
        self.by_finding: dict[str, list[int]] = {}
        self.by_package: dict[str, list[int]] = {}
        self.always: list[int] = []
        self._by_id: dict[str, list[int]] = {}  # finding id → candidates that do not depend on more
        for n, w in enumerate(self.waivers):
            sel = w.selector
            # bucket by the most selective literal: a vulnerability id, a package, a rule id
            if "finding" in sel and not _is_glob(sel["finding"]):
                self.by_finding.setdefault(sel["finding"], []).append(n)
            elif "purl" in sel and not _is_glob(_package(sel["purl"])):
                self.by_package.setdefault(_package(sel["purl"]), []).append(n)
            elif "rule" in sel and not _is_glob(sel["rule"]):
                self.by_rule.setdefault(sel["rule"], []).append(n)
            else:
                self.always.append(n)

    def first_match(self, finding: Finding) -> Waiver | None:
        candidates = self._by_id.get(finding.id)
        if candidates is None:
            # glob-only waivers whose rule pattern rejects this id never need trying again
            candidates = self._by_id[finding.id] = [
                n for n in self.always if _rule_may_match(self.selectors[n].rule, finding.id)
            ] + self.by_rule.get(finding.id, [])
        candidates = list(candidates)
        for key in _finding_keys(finding):
            candidates += self.by_finding.get(key, ())
        if self.by_package:
            candidates += self.by_package.get(_package(_finding_purl(finding)), ())
        subject = finding.subject
        for n in sorted(set(candidates)):
            selector = self.selectors[n]
            if subject.startswith(selector.path_prefix) and selector.matches(finding):
                return self.waivers[n]
        return None


def load_waivers(path: Path) -> list[Waiver]:
    from scanner import safeyaml
    from scanner.safeio import read_bounded

    if not path.exists():
        raise ScanError("waivers file not found", path)
    try:
        raw = read_bounded(path, safeyaml.MAX_BYTES, what="waivers file", follow=True)  # never a FIFO
    except ScanError as exc:
        raise ScanError(f"cannot read waivers file: {exc.message}", path) from None
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
        expires, until = _expiry(entry["expires"], wid, source)
        waivers.append(
            Waiver(
                id=wid,
                selector={k: str(v) for k, v in selector.items()},
                reason=str(entry["reason"]),
                owner=str(entry["owner"]),
                approved_by=str(entry["approved_by"]) if entry.get("approved_by") else None,
                expires=expires,
                until=until,
                source=source,
            )
        )
    return waivers


def _expiry(value: Any, wid: str, source: str) -> tuple[dt.date, dt.datetime | None]:
    """(expiry day, exact instant in UTC or None): a date is valid through that day (UTC); a time
    keeps its zone (``2026-12-31T18:00:00+05:30``), a time without one is UTC."""
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        day = value
    else:
        text = str(value).strip()
        try:
            if "T" in text or " " in text:
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                day = dt.date.fromisoformat(text)
        except ValueError:
            raise ScanError(
                f"waiver {wid}: expires must be a date (YYYY-MM-DD) or a time "
                f"(YYYY-MM-DDTHH:MM:SS+HH:MM), got {value!r}",
                source,
            ) from None
    if when is not None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        try:
            when = when.astimezone(dt.timezone.utc)
        except OverflowError:
            when = None
            day = dt.date.max
        else:
            day = when.date()
    if day >= LATEST_EXPIRY:
        raise ScanError(
            f"waiver {wid}: expires {day.isoformat()} is not an expiry (on or after {LATEST_EXPIRY.isoformat()}); "
            "a waiver must end: give a real date",
            source,
        )
    return day, when


# A waiver that never ends is not a waiver; the last day a calendar can add one day to is far off.
LATEST_EXPIRY = dt.date(9999, 1, 1)
