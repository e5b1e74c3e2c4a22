from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.core import Finding, ScanError, Severity
from scanner.waivers import apply_waivers, load_waivers

TODAY = dt.date(2026, 11, 23)


def _vuln(vid: str, purl: str, aliases: list[str]) -> Finding:
    return Finding("VULN-KNOWN", "vulns", Severity.HIGH, purl, "x", {"vuln_id": vid, "aliases": aliases, "purl": purl})


def test_selectors_expiry_and_unused(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        """
waivers:
  - {id: W1, selector: {finding: CVE-2023-32681}, reason: r, owner: o, expires: 2026-11-23}
  - {id: W2, selector: {rule: "MODEL-*", path: "models/*.bin"}, reason: r, owner: o, expires: 2027-01-01}
  - {id: W3, selector: {purl: "pkg:pypi/flask"}, reason: r, owner: o, expires: 2026-11-22}
  - {id: W4, selector: {rule: NOPE}, reason: r, owner: o, expires: 2027-01-01, approved_by: lead}
"""
    )
    waivers = load_waivers(path)
    findings = [
        _vuln("PYSEC-2023-74", "pkg:pypi/requests@2.28.1", ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]),
        Finding("MODEL-PICKLE-GLOBAL", "model", Severity.CRITICAL, "models/a.bin", "os.system"),
        Finding("MODEL-PICKLE-GLOBAL", "model", Severity.CRITICAL, "other/a.bin", "os.system"),
        _vuln("PYSEC-2023-62", "pkg:pypi/flask@2.2.2", []),
    ]
    out = apply_waivers(findings, waivers, TODAY)
    assert [f["waived"]["id"] if f["waived"] else None for f in out.findings] == ["W1", "W2", None, None]
    assert [w.id for w in out.expired] == ["W3"]  # expired yesterday: waives nothing
    assert [w.id for w in out.unused] == ["W4"]
    assert out.used == {"W1": [0], "W2": [1]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers: {}", "expected a top-level 'waivers:' list"),
        ("waivers:\n  - {id: A, selector: {rule: X}, reason: r, owner: o}", "missing expires"),
        ("waivers:\n  - {id: A, selector: {colour: X}, reason: r, owner: o, expires: 2027-01-01}", "unknown selector"),
        ("waivers:\n  - {id: A, selector: {rule: X}, reason: r, owner: o, expires: soon}", "expires must be a date"),
        ("waivers:\n  - &a {id: A}\n  - *a", "anchors and aliases are not allowed"),
        ("waivers: [\n", "invalid YAML at line"),
        ("waivers:" + " [" * 100 + "]" * 100, "nested deeper than 64"),
    ],
)
def test_bad_waiver_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(ScanError, match=message) as info:
        load_waivers(path)
    assert info.value.path == str(path)


def test_path_globs_match_as_fnmatch_does() -> None:
    """Path selectors are tried only on subjects starting with their literal part: every pattern
    shape still matches exactly what fnmatch's translation matches."""
    import fnmatch
    import re

    from scanner.waivers import Waiver

    patterns = ["models/*.bin", "models/m1?.pkl", "models/[ab].bin", "models/[x.bin", "*.bin", "?odels/*"]
    patterns.append("models/a.bin")
    subjects = ["models/a.bin", "models/b.bin", "models/m12.pkl", "models/[x.bin", "other/a.bin", "bodels/a", "models"]
    for pattern in patterns:
        waiver = Waiver("W", {"rule": "MODEL-*", "path": pattern}, "r", "o", dt.date(2027, 1, 1), "lead")
        findings = [Finding("MODEL-PICKLE-GLOBAL", "model", Severity.HIGH, s, "x") for s in subjects]
        out = apply_waivers(findings, [waiver], TODAY)
        expected = [bool(re.match(fnmatch.translate(pattern), s)) for s in subjects]
        assert [f["waived"] is not None for f in out.findings] == expected, pattern
        assert any(expected)
