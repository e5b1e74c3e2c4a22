"""OSV affected-version semantics, case by case, over hand-written ``affected[]`` entries."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import Version

from scanner.vulns.osv import Affected, is_affected, normalize_name, parse_affected, smallest_fix


def entry(*ranges: list[dict[str, str]], versions: list[str] | None = None, git: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "package": {"name": "demo", "ecosystem": "PyPI"},
        "ranges": [{"type": "ECOSYSTEM", "events": events} for events in ranges],
    }
    if git:
        out["ranges"].insert(0, {"type": "GIT", "repo": "https://example.invalid/x", "events": GIT_EVENTS})
    if versions is not None:
        out["versions"] = versions
    return out


GIT_EVENTS = [{"introduced": "0"}, {"fixed": "8f4e2a1c0b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"}]

CASES = [
    # (case, affected entry, installed version, affected?)
    ("explicit version, PEP 440 equal", entry(versions=["3.2"]), "3.2.0", True),
    ("explicit version listed as 3.2.0", entry(versions=["3.2.0"]), "3.2", True),
    ("explicit list, other version", entry(versions=["3.2"]), "3.2.1", False),
    ("introduced 0: first releases", entry([{"introduced": "0"}, {"fixed": "1.5"}]), "0.0.1", True),
    ("introduced 0: dev release below 0", entry([{"introduced": "0"}, {"fixed": "1.5"}]), "0.dev1", True),
    ("fixed is exclusive", entry([{"introduced": "0"}, {"fixed": "1.5"}]), "1.5", False),
    ("fixed equal after normalisation", entry([{"introduced": "0"}, {"fixed": "1.5"}]), "1.5.0", False),
    ("just below fixed", entry([{"introduced": "0"}, {"fixed": "1.5"}]), "1.4.99", True),
    ("pre-release of the fix is affected", entry([{"introduced": "0"}, {"fixed": "2.0"}]), "2.0rc1", True),
    ("introduced is inclusive", entry([{"introduced": "1.0"}, {"fixed": "2.0"}]), "1.0", True),
    ("below introduced", entry([{"introduced": "1.0"}, {"fixed": "2.0"}]), "0.9", False),
    ("events out of order", entry([{"fixed": "2.0"}, {"introduced": "1.0"}]), "1.5", True),
    ("events out of order, after fix", entry([{"fixed": "2.0"}, {"introduced": "1.0"}]), "2.0", False),
    ("PEP 440 order, not string order", entry([{"introduced": "1.9"}, {"fixed": "1.10"}]), "1.9.5", True),
    ("PEP 440 order: 1.10 is fixed", entry([{"introduced": "1.9"}, {"fixed": "1.10"}]), "1.10", False),
    ("epoch sorts above", entry([{"introduced": "0"}, {"fixed": "1!1.0"}]), "5.0", True),
]
PAIRS = [{"fixed": "2.3"}, {"introduced": "2.0"}, {"fixed": "1.2"}, {"introduced": "1.0"}]  # shuffled on purpose
CASES += [
    ("two pairs: first", entry(PAIRS), "1.1", True),
    ("two pairs: first fixed", entry(PAIRS), "1.2", False),
    ("two pairs: gap", entry(PAIRS), "1.9", False),
    ("two pairs: second introduced", entry(PAIRS), "2.0", True),
    ("two pairs: second", entry(PAIRS), "2.2.5", True),
    ("two pairs: second fixed", entry(PAIRS), "2.3", False),
    ("last_affected is inclusive", entry([{"introduced": "1.0"}, {"last_affected": "1.4"}]), "1.4", True),
    ("last_affected equal normalised", entry([{"introduced": "1.0"}, {"last_affected": "1.4"}]), "1.4.0", True),
    ("above last_affected", entry([{"introduced": "1.0"}, {"last_affected": "1.4"}]), "1.4.1", False),
    ("post release above last_affected", entry([{"introduced": "1.0"}, {"last_affected": "1.4"}]), "1.4.post1", False),
    ("below limit", entry([{"introduced": "0"}, {"limit": "2.0"}]), "1.9", True),
    ("limit is exclusive", entry([{"introduced": "0"}, {"limit": "2.0"}]), "2.0", False),
    ("above limit", entry([{"introduced": "0"}, {"limit": "2.0"}]), "3.0", False),
    ("limit * is no limit", entry([{"introduced": "0"}, {"limit": "*"}]), "99.0", True),
    ("only introduced: every later version", entry([{"introduced": "1.0"}]), "99.0", True),
    (
        "versions OR ranges: in list only",
        entry([{"introduced": "2.0"}, {"fixed": "3.0"}], versions=["1.1"]),
        "1.1",
        True,
    ),
    (
        "versions OR ranges: in range only",
        entry([{"introduced": "2.0"}, {"fixed": "3.0"}], versions=["1.1"]),
        "2.5",
        True,
    ),
    ("versions OR ranges: neither", entry([{"introduced": "2.0"}, {"fixed": "3.0"}], versions=["1.1"]), "1.5", False),
    (
        "GIT range skipped, ECOSYSTEM still evaluated",
        entry([{"introduced": "0"}, {"fixed": "1.0"}], git=True),
        "0.5",
        True,
    ),
    ("GIT range skipped, not affected", entry([{"introduced": "0"}, {"fixed": "1.0"}], git=True), "1.0", False),
    ("GIT range only: never by version", entry(git=True), "0.1", False),
    ("two ECOSYSTEM ranges", entry([{"introduced": "0"}, {"fixed": "1.0"}], [{"introduced": "3.0"}]), "3.1", True),
]


@pytest.mark.parametrize(("case", "raw", "version", "expected"), CASES, ids=[c[0] for c in CASES])
def test_affected(case: str, raw: dict[str, Any], version: str, expected: bool) -> None:
    parsed = parse_affected(raw)
    assert parsed is not None
    assert parsed.contains(Version(version)) is expected
    # the compiled form the database stores behaves the same
    assert Affected.from_compiled(parsed.to_compiled(), parsed.listed).contains(Version(version)) is expected


def test_git_ranges_are_counted_as_skipped() -> None:
    parsed = parse_affected(entry([{"introduced": "0"}, {"fixed": "1.0"}], git=True))
    assert parsed is not None and parsed.skipped_ranges == ("GIT",) and len(parsed.ranges) == 1


def test_unparseable_versions_tolerated_and_counted() -> None:
    raw = entry(
        [{"introduced": "garbage version"}, {"fixed": "2.0"}],
        [{"introduced": "1.0"}, {"fixed": "not/a/version"}, {"unknown_event": "1.0"}],
        versions=["1.5", "totally bogus!", 7],  # type: ignore[list-item]
    )
    parsed = parse_affected(raw)
    assert parsed is not None
    assert parsed.unparseable == 4  # introduced, fixed, unknown event kind, listed version
    assert parsed.contains(Version("1.5"))  # listed
    assert parsed.contains(Version("3.0"))  # second range: introduced 1.0, its fix unreadable
    assert not parsed.contains(Version("0.5"))  # first range lost its introduced: never opens
    assert parsed.contains(Version("0"), raw="Totally Bogus!")  # raw text compared as written


def test_malformed_entries_do_not_crash() -> None:
    assert parse_affected({"package": {"name": "x", "ecosystem": "npm"}}) is None
    assert parse_affected({"package": "nope"}) is None
    parsed = parse_affected({"package": {"name": "x", "ecosystem": "PyPI"}, "ranges": ["bad", {"type": "ECOSYSTEM"}]})
    assert parsed is not None and parsed.ranges == () and parsed.unparseable == 1
    assert not parsed.contains(Version("1.0"))


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("Django", "django"),
        ("PyYAML", "pyyaml"),
        ("zope.interface", "zope-interface"),
        ("Foo__Bar-.baz", "foo-bar-baz"),
    ],
)
def test_pep503_names(name: str, normal: str) -> None:
    assert normalize_name(name) == normal
    raw = entry(versions=["1.0"])
    raw["package"]["name"] = name
    parsed = parse_affected(raw)
    assert parsed is not None and parsed.name == normal


FIX_CASES = [
    # (case, entries, installed, smallest fix)
    ("single range", [entry([{"introduced": "0"}, {"fixed": "1.5"}])], "1.0", "1.5"),
    ("second pair", [entry(PAIRS)], "2.1", "2.3"),
    ("first pair, not the later one", [entry(PAIRS)], "1.1", "1.2"),
    ("last_affected only: no fix", [entry([{"introduced": "0"}, {"last_affected": "1.4"}])], "1.0", None),
    ("introduced only: no fix", [entry([{"introduced": "1.0"}])], "1.0", None),
    (
        "a fix that is affected by another range is skipped",
        [entry([{"introduced": "0"}, {"fixed": "1.5"}]), entry([{"introduced": "1.5"}, {"fixed": "1.8"}])],
        "1.0",
        "1.8",
    ),
    (
        "never the installed version itself",
        [entry([{"introduced": "0"}, {"fixed": "2.0"}], [{"introduced": "2.0"}, {"fixed": "2.5"}])],
        "2.0",
        "2.5",
    ),
    (
        "backport branches: the old branch's fix",
        [entry([{"introduced": "0"}, {"fixed": "1.2.5"}], [{"introduced": "2.0"}, {"fixed": "2.1.3"}])],
        "1.0",
        "1.2.5",
    ),
    (
        "backport branches: the new branch's fix",
        [entry([{"introduced": "0"}, {"fixed": "1.2.5"}], [{"introduced": "2.0"}, {"fixed": "2.1.3"}])],
        "2.0.5",
        "2.1.3",
    ),
    (
        "overlapping ranges: a fix another range still covers is no fix",
        [entry([{"introduced": "1.0"}, {"fixed": "3.1"}], [{"introduced": "1.0"}, {"fixed": "2.7"}])],
        "2.0",
        "3.1",
    ),
]


@pytest.mark.parametrize(("case", "raws", "version", "fix"), FIX_CASES, ids=[c[0] for c in FIX_CASES])
def test_smallest_fix(case: str, raws: list[dict[str, Any]], version: str, fix: str | None) -> None:
    entries = [e for e in (parse_affected(r) for r in raws) if e is not None]
    assert is_affected(entries, Version(version))
    found = smallest_fix(entries, Version(version))
    assert (str(found) if found else None) == fix
