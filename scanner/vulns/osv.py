"""OSV affected-version semantics for PyPI, exactly as the OSV schema defines them.

A version is affected by an ``affected[]`` entry when it is in the entry's explicit ``versions``
list (PEP 440 equality, so ``3.2`` equals ``3.2.0``) or inside any of its ``ECOSYSTEM`` ranges.
A range is evaluated over its events sorted by PEP 440 version (whatever their order in the
file; ``introduced: "0"`` sorts first): ``introduced`` at or below the version opens it, ``fixed``
at or below closes it (exclusive), ``last_affected`` strictly below closes it (inclusive), and a
version at or above every ``limit`` is outside. ``GIT`` (and other non-version) ranges are skipped.
Versions in records that PEP 440 cannot parse are skipped and counted, never fatal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

ECOSYSTEM = "PyPI"
_NAME_RE = re.compile(r"[-_.]+")

# Evaluation order of events that share a version: an introduced-then-fixed pair at the same
# version is an empty range.
_KIND_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: runs of ``-``, ``_`` and ``.`` become ``-``, lower case."""
    return _NAME_RE.sub("-", name).lower()


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


@functools.lru_cache(maxsize=16384)
def _version(text: str) -> Version:
    """Versions already validated at import; the same boundaries recur across records."""
    return Version(text)


@functools.lru_cache(maxsize=16384)
def canonical(version: Version) -> str:
    """The PEP 440 canonical text: equal versions (``3.2`` and ``3.2.0``) give equal text."""
    from packaging.utils import canonicalize_version  # (imported when first needed: it is slow to import)

    return canonicalize_version(version, strip_trailing_zero=True)


@dataclass(frozen=True)
class Range:
    """One ECOSYSTEM range: events as (kind, version) sorted for evaluation; ``None`` is the
    ``introduced: "0"`` sentinel, below every version. ``limits`` empty means no limit."""

    events: tuple[tuple[str, Version | None], ...]
    limits: tuple[Version, ...] = ()
    unlimited: bool = True

    def contains(self, version: Version) -> bool:
        if not self.unlimited and not any(version < lim for lim in self.limits):
            return False
        affected = False
        for kind, at in self.events:
            if kind == "introduced":
                if at is None or at <= version:
                    affected = True
            elif kind == "fixed":
                if at is not None and at <= version:
                    affected = False
            elif kind == "last_affected" and at is not None and at < version:
                affected = False
        return affected

    def fixed_versions(self) -> list[Version]:
        return [at for kind, at in self.events if kind == "fixed" and at is not None]

    def to_compiled(self) -> dict[str, Any]:
        return {
            "events": [[kind, "0" if at is None else str(at)] for kind, at in self.events],
            "limits": [str(v) for v in self.limits],
            "unlimited": self.unlimited,
        }

    @classmethod
    def from_compiled(cls, data: Mapping[str, Any]) -> Range:
        events = tuple(
            (kind, None if kind == "introduced" and text == "0" else _version(text)) for kind, text in data["events"]
        )
        return cls(events=events, limits=tuple(_version(v) for v in data["limits"]), unlimited=data["unlimited"])


@dataclass(frozen=True)
class Affected:
    """One ``affected[]`` entry of a record, parsed for matching."""

    name: str
    # canonical text of each listed version, space-separated with a space at both ends: membership
    # is a substring search (the database runs it in SQL, see ``scanner.vulns.db``)
    listed: str = " "
    raw_versions: frozenset[str] = frozenset()  # listed versions PEP 440 cannot parse, lower case
    ranges: tuple[Range, ...] = ()
    unparseable: int = 0
    skipped_ranges: tuple[str, ...] = field(default=())  # types of ranges not evaluated (GIT, ...)

    def contains(self, version: Version, raw: str | None = None) -> bool:
        if f" {canonical(version)} " in self.listed:
            return True
        if raw is not None and raw.strip().lower() in self.raw_versions:
            return True
        return any(r.contains(version) for r in self.ranges)

    def fixed_versions(self) -> list[Version]:
        return [v for r in self.ranges for v in r.fixed_versions()]

    def to_compiled(self) -> dict[str, Any]:
        """JSON for the database, without the (often long) listed versions, stored apart."""
        return {
            "name": self.name,
            "raw_versions": sorted(self.raw_versions),
            "ranges": [r.to_compiled() for r in self.ranges],
            "unparseable": self.unparseable,
            "skipped_ranges": list(self.skipped_ranges),
        }

    @classmethod
    def from_compiled(cls, data: Mapping[str, Any], listed: str = " ") -> Affected:
        return cls(
            name=data["name"],
            listed=listed,
            raw_versions=frozenset(data["raw_versions"]),
            ranges=tuple(Range.from_compiled(r) for r in data["ranges"]),
            unparseable=data["unparseable"],
            skipped_ranges=tuple(data["skipped_ranges"]),
        )


def parse_affected(entry: Mapping[str, Any]) -> Affected | None:
    """Parse one ``affected[]`` entry; ``None`` when it is not a PyPI package entry."""
    package = entry.get("package")
    if not isinstance(package, Mapping) or package.get("ecosystem") != ECOSYSTEM:
        return None
    name = package.get("name")
    if not isinstance(name, str) or not name:
        return None
    unparseable = 0
    versions: set[str] = set()
    raw_versions: set[str] = set()
    for text in _strings(entry.get("versions")):
        parsed = parse_version(text)
        if parsed is None:
            unparseable += 1
            raw_versions.add(text.strip().lower())
        else:
            versions.add(canonical(parsed))
    ranges: list[Range] = []
    skipped: list[str] = []
    raw_ranges = entry.get("ranges")
    for raw_range in raw_ranges if isinstance(raw_ranges, list) else []:
        if not isinstance(raw_range, Mapping):
            unparseable += 1
            continue
        if raw_range.get("type") != "ECOSYSTEM":
            skipped.append(str(raw_range.get("type")))
            continue
        parsed_range, bad = _parse_range(raw_range.get("events"))
        unparseable += bad
        if parsed_range is not None:
            ranges.append(parsed_range)
    return Affected(
        name=normalize_name(name),
        listed=" " + "".join(f"{v} " for v in sorted(versions)),
        raw_versions=frozenset(raw_versions),
        ranges=tuple(ranges),
        unparseable=unparseable,
        skipped_ranges=tuple(skipped),
    )


def _parse_range(events: Any) -> tuple[Range | None, int]:
    bad = 0
    parsed: list[tuple[str, Version | None]] = []
    limits: list[Version] = []
    star = False
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, Mapping) or len(event) != 1:
            bad += 1
            continue
        ((kind, text),) = event.items()
        if not isinstance(text, str):
            bad += 1
            continue
        if kind == "limit":
            if text == "*":
                star = True
                continue
            limit = parse_version(text)
            if limit is None:
                bad += 1
                continue
            limits.append(limit)
            continue
        if kind not in _KIND_ORDER:
            bad += 1
            continue
        if kind == "introduced" and text == "0":
            parsed.append((kind, None))
            continue
        version = parse_version(text)
        if version is None:
            bad += 1
            continue
        parsed.append((kind, version))
    if not parsed:
        return None, bad
    parsed.sort(key=_event_key)
    return Range(events=tuple(parsed), limits=tuple(limits), unlimited=star or not limits), bad


def _event_key(event: tuple[str, Version | None]) -> tuple[int, Version, int]:
    kind, at = event
    if at is None:
        return (0, Version("0"), _KIND_ORDER[kind])
    return (1, at, _KIND_ORDER[kind])


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def is_affected(entries: Iterable[Affected], version: Version, raw: str | None = None) -> bool:
    return any(a.contains(version, raw) for a in entries)


def smallest_fix(entries: Iterable[Affected], version: Version) -> Version | None:
    """The smallest ``fixed`` version above ``version`` across all ranges that is not itself
    affected; ``None`` when there is none. Never ``version`` itself."""
    entries = list(entries)
    candidates = sorted({v for a in entries for v in a.fixed_versions() if v > version})
    for candidate in candidates:
        if not is_affected(entries, candidate):
            return candidate
    return None
