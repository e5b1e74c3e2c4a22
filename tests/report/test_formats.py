"""Golden-structure tests: each format parsed, then asserted on content (never whole strings)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.errors import ScanError
from scanner.report import FORMATS, render
from scanner.report.sarif import FINGERPRINT_KEY, to_sarif
from tests.report.conftest import EVIL_CARD

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text())


def test_every_format_is_registered() -> None:
    assert {"table", "json", "markdown", "html", "sarif", "junit"} <= set(FORMATS)


def test_json_is_the_record_itself(sample_record: dict[str, Any]) -> None:
    assert json.loads(render("json", sample_record)) == sample_record


# -- SARIF --------------------------------------------------------------------------------------


@pytest.fixture
def sarif(sample_record: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(Path(sample_record["artifact"]["path"]).parent)  # paths relative to the checkout
    return json.loads(render("sarif", sample_record))


def test_sarif_validates_against_the_2_1_0_schema(sarif: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert sarif["version"] == "2.1.0"


def test_sarif_every_result_has_a_file_location(sarif: dict[str, Any]) -> None:
    results = sarif["runs"][0]["results"]
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_rule.setdefault(r["ruleId"], []).append(r)
        (loc,) = r["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"]
    pickle = by_rule["MODEL-PICKLE-GLOBAL"][0]["locations"][0]
    assert pickle["physicalLocation"]["artifactLocation"]["uri"] == (
        "app/models/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E.pt"
    )
    assert pickle["logicalLocations"] == [{"fullyQualifiedName": "archive/data.pkl", "kind": "member"}]
    requests = next(r for r in by_rule["VULN-KNOWN"] if "requests" in r["message"]["text"])
    phys = requests["locations"][0]["physicalLocation"]
    assert phys == {"artifactLocation": {"uri": "app/requirements.txt"}, "region": {"startLine": 1}}
    unpinned = by_rule["SBOM-UNPINNED-REQUIREMENT"][0]["locations"][0]["physicalLocation"]
    assert unpinned["region"] == {"startLine": 2}
    ntia = by_rule["SBOM-NTIA-SUPPLIER"][0]["locations"][0]
    # about the whole artifact: anchored to the artifact (its directory), not to one of its files
    assert ntia["physicalLocation"]["artifactLocation"]["uri"] == "app/"
    assert ntia["logicalLocations"] == [{"fullyQualifiedName": "app", "kind": "artifact"}]
    policy = by_rule["POLICY/model-unsafe"][0]["locations"][0]
    assert policy["physicalLocation"]["artifactLocation"]["uri"] == "app/"
    assert set(by_rule) >= {"POLICY/model-unsafe", "POLICY/waiver-expired", "POLICY/db-age"}


def test_sarif_rules_have_help_and_severity(sarif: dict[str, Any]) -> None:
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    by_id = {r["id"]: r for r in rules}
    assert len(by_id) == len(rules)
    pickle = by_id["MODEL-PICKLE-GLOBAL"]
    assert "torch.load" in pickle["help"]["text"] and pickle["help"]["markdown"].startswith("**")
    assert pickle["properties"]["security-severity"] == "9.5"
    assert by_id["VULN-KNOWN"]["properties"]["security-severity"] == "8.0"  # the worst of its findings
    assert "NTIA" in by_id["SBOM-NTIA-SUPPLIER"]["shortDescription"]["text"]
    assert all(len(r["properties"]["tags"]) <= 10 for r in rules)


def test_sarif_waived_findings_are_suppressed_not_dropped(sarif: dict[str, Any]) -> None:
    results = sarif["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["properties"]["evidence"]["vuln_id"] for r in suppressed] == ["PYSEC-2020-96"]
    (s,) = suppressed[0]["suppressions"]
    assert s["kind"] == "external" and s["status"] == "accepted"
    assert s["justification"].startswith("waiver W-7: not reachable")


def test_sarif_fingerprints_are_stable_and_distinct(sample_record: dict[str, Any]) -> None:
    first = to_sarif(sample_record)["runs"][0]["results"]
    changed = copy.deepcopy(sample_record)
    changed["findings"].reverse()
    for f in changed["findings"]:
        f["message"] += " (reworded)"
    second = to_sarif(changed)["runs"][0]["results"]

    def prints(results: list[dict[str, Any]]) -> dict[str, str]:
        return {r["partialFingerprints"][FINGERPRINT_KEY]: r["ruleId"] for r in results}

    assert prints(first) == prints(second)
    assert len(prints(first)) == len(first)  # no two results share one


def test_sarif_caps_results_and_says_so(sample_record: dict[str, Any]) -> None:
    big = copy.deepcopy(sample_record)
    template = big["findings"][-1]
    big["findings"] += [
        {**template, "subject": f"pkg:pypi/p{i}@1", "evidence": {"vuln_id": f"X-{i}"}} for i in range(40)
    ]
    sarif = to_sarif(big, max_results=25)
    run = sarif["runs"][0]
    assert len(run["results"]) == 25
    props = run["properties"]
    assert props["resultsTruncated"] is True and props["resultsTotal"] == len(big["findings"]) + 3
    assert props["resultsIncluded"] == 25 and "left out" in props["truncationNote"]
    assert run["results"][0]["level"] == "error"  # the most severe are kept
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert to_sarif(sample_record)["runs"][0]["properties"]["resultsTruncated"] is False


def test_sarif_carries_version_control_provenance(sarif: dict[str, Any]) -> None:
    (vcp,) = sarif["runs"][0]["versionControlProvenance"]
    assert vcp == {
        "repositoryUri": "https://github.com/acme/models",
        "revisionId": "0123456789abcdef0123456789abcdef01234567",
        "branch": "refs/heads/main",
    }
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "model" in notes[0]["message"]["text"]


# -- JUnit --------------------------------------------------------------------------------------


def _suites(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {s.get("name", ""): s for s in root.findall("testsuite")}


def test_junit_policy_and_one_case_per_rule(sample_record: dict[str, Any]) -> None:
    xml = render("junit", sample_record)
    root = ET.fromstring(xml)
    suites = _suites(xml)
    assert list(suites) == ["policy", "check:model", "check:vulns", "check:sbom", "check:signature"]
    policy = {c.get("name"): c for c in suites["policy"].findall("testcase")}
    assert policy["promotion to prod"].find("failure").get("message") == "denied by model-unsafe, waiver-expired"
    assert policy["model-unsafe"].find("failure").get("type") == "deny"
    assert policy["db-age"].find("failure") is None and "19 days" in policy["db-age"].find("system-out").text
    model = {c.get("name"): c for c in suites["check:model"].findall("testcase")}
    assert model["model: complete"].find("error").get("message") == "not fully checked"
    assert model["MODEL-PICKLE-GLOBAL"].find("failure").get("type") == "MODEL-PICKLE-GLOBAL"
    sbom = {c.get("name"): c for c in suites["check:sbom"].findall("testcase")}
    assert sbom["SBOM-UNPINNED-REQUIREMENT"].find("failure") is None  # medium < high
    vulns = {c.get("name"): c for c in suites["check:vulns"].findall("testcase")}
    assert "(waived: W-7)" in vulns["VULN-KNOWN"].find("failure").text
    total_cases = len(root.findall(".//testcase"))
    assert int(root.get("tests")) == total_cases
    assert int(root.get("failures")) == len(root.findall(".//failure"))
    assert int(root.get("errors")) == 1


def test_junit_all_waived_is_skipped_and_fail_on_is_honoured(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    rec["findings"] = [f for f in rec["findings"] if f["check"] == "vulns" and f["waived"]]
    suites = _suites(render("junit", rec))
    case = suites["check:vulns"].find("testcase")
    assert case.find("skipped").get("message") == "waived by W-7"
    assert suites["check:vulns"].get("skipped") == "1"
    sbom = _suites(render("junit", sample_record, fail_on="medium"))["check:sbom"]
    assert {c.get("name") for c in sbom.findall("testcase") if c.find("failure") is not None} == {
        "SBOM-UNPINNED-REQUIREMENT"
    }


def test_junit_survives_control_characters(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    rec["findings"][0]["subject"] = "evil\x00\x1b[31m.pt"
    rec["findings"][0]["id"] = "MODEL-\x07BELL"
    ET.fromstring(render("junit", rec))  # still well-formed XML


# -- Markdown -----------------------------------------------------------------------------------


def test_markdown_structure(sample_record: dict[str, Any]) -> None:
    md = render("markdown", sample_record)
    assert md.startswith("## scanner gate: ❌ promotion to prod denied\n")
    assert "> [!WARNING]\n> The **model** check could not examine everything" in md
    deny = re.search(r"### Denied because\n(.*?)\n\n", md, re.S)
    assert deny and deny.group(1).count("\n- ") == 1 and "**waiver\\-expired**" not in deny.group(1)
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    matrix = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in rows[1:6]}
    assert matrix["model"] == ["1", "1", "·", "·", "·", "·"]
    assert matrix["vulns"] == ["·", "1", "·", "·", "·", "1"]
    open_rows = [r for r in rows if r.split("|")[1].strip() in ("critical", "high", "medium", "low")]
    assert len(open_rows) == 6 + 1  # six open findings, one waived row in the folded table
    assert "<details><summary>1 waived finding(s)</summary>" in md
    assert "[CI run](https://github.com/acme/models/actions/runs/4242/attempts/2)" in md


def test_markdown_never_passes_markup_through(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    rec["findings"][0]["message"] = EVIL_CARD
    rec["ci"]["run_url"] = "javascript:alert(1)"
    md = render("markdown", rec)
    assert not re.search(r"(?<!\\)<(script|img)", md)
    assert "\\<script\\>" in md
    assert "](javascript:" not in md
    assert "\\| pipe" in md  # cannot break the table


def test_markdown_stays_within_a_pr_comment(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    template = rec["findings"][0]
    rec["findings"] = [{**template, "subject": f"models/m{i}.pt", "message": "x" * 300} for i in range(3000)]
    md = render("markdown", rec)
    assert len(md) < 65536
    assert "_… and 2950 more open finding(s): see the full report._" in md


# -- table ----------------------------------------------------------------------------------------


def test_table_marks_waived_and_incomplete(sample_record: dict[str, Any]) -> None:
    text = render("table", sample_record, width=200)
    assert "MEDIUM (waived W-7)" in text
    assert "warning: the model check could not examine everything" in text
    assert "decision: DENIED (promotion to prod)" in text


# -- HTML ---------------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_html_injection_is_inert(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    rec["findings"][0]["message"] = EVIL_CARD
    rec["ci"]["run_url"] = "javascript:alert(document.cookie)"
    rec["decision"]["deny"][0]["message"] = "</style><script>alert(9)</script>"
    page = render("html", rec)
    parsed = _Collector()
    parsed.feed(page)
    tags = [t for t, _ in parsed.tags]
    assert tags.count("script") == 1 and tags.count("style") == 1
    assert "img" not in tags
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert not str(attrs.get("href", "")).lower().startswith("javascript:")
    assert "alert(" not in parsed.scripts[0]
    # the hostile names and card text are there, as text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.pt" in page
    assert "&lt;script&gt;alert(&#39;card&#39;)&lt;/script&gt;" in page
    # the CSP allows exactly our stylesheet and script, and nothing loads
    csp = next(a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None
    assert f"script-src {_sha(parsed.scripts[0])}" in csp and f"style-src {_sha(parsed.styles[0])}" in csp
    assert "default-src 'none'" in csp
    assert not [a for t, a in parsed.tags if t in ("link", "iframe", "object", "embed") or a.get("src")]


def test_html_structure(sample_record: dict[str, Any]) -> None:
    page = render("html", sample_record)
    parsed = _Collector()
    parsed.feed(page)
    header = next(a for t, a in parsed.tags if t == "header")
    assert header["data-decision"] == "DENIED" and "denied" in (header["class"] or "")
    rows = [a for t, a in parsed.tags if t == "tr" and "finding" in (a.get("class") or "")]
    assert len(rows) == len(sample_record["findings"])
    assert [r["data-waived"] for r in rows].count("true") == 1
    sections = [a["data-check"] for t, a in parsed.tags if t == "section" and a.get("data-check")]
    assert sections == ["model", "vulns", "sbom", "signature"]
    assert sum(1 for t, a in parsed.tags if t == "rect" and "sev-" in (a.get("class") or "")) >= 7
    assert 'id="component-table"' in page and "machine-learning-model" in page
    assert "sha256:9c92" in page or sample_record["inputs"]["policy"]["digest"] in page
    assert "osv-pypi · snapshot 2026-11-01 · 19 day(s) old" in page
    assert 'href="https://github.com/acme/models/actions/runs/4242/attempts/2"' in page


def test_old_schema_records_still_render(sample_record: dict[str, Any]) -> None:
    old = {
        k: v for k, v in sample_record.items() if k not in ("inputs", "ci", "sections", "promotion", "sbom", "context")
    } | {"schema": "scanner-evidence/1"}
    old["artifact"] = {k: v for k, v in old["artifact"].items() if k != "files"}
    for fmt in FORMATS:
        if fmt == "cyclonedx-json":  # an old record has no SBOM to render
            with pytest.raises(ScanError, match="carries no SBOM"):
                render(fmt, old)
            continue
        assert render(fmt, old)


def test_sarif_fingerprint_ignores_line_moves_and_never_collides(sample_record: dict[str, Any]) -> None:
    rec = copy.deepcopy(sample_record)
    unpinned = next(f for f in rec["findings"] if f["id"] == "SBOM-UNPINNED-REQUIREMENT")
    moved = copy.deepcopy(rec)
    next(f for f in moved["findings"] if f["id"] == "SBOM-UNPINNED-REQUIREMENT")["subject"] = "requirements.txt:9"

    def fp(record: dict[str, Any]) -> str:
        results = to_sarif(record)["runs"][0]["results"]
        return next(r for r in results if r["ruleId"] == "SBOM-UNPINNED-REQUIREMENT")["partialFingerprints"][
            FINGERPRINT_KEY
        ]

    assert fp(rec) == fp(moved)
    twins = [{**unpinned, "evidence": {"line": n}, "subject": f"requirements.txt:{n}"} for n in (3, 4)]
    rec["findings"] += twins
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in to_sarif(rec)["runs"][0]["results"]]
    assert len(set(prints)) == len(prints)
