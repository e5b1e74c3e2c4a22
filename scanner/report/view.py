"""Derived views of an evidence record that several formats share: findings grouped by check,
counts by check and severity, where a finding lives (file, line, archive member, package), and a
stable fingerprint. Pure functions of the record: rendering never touches a check."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.core import Severity

SEVERITIES = tuple(s.value for s in reversed(Severity))  # critical first
MANIFEST_NAMES = ("requirements.txt", "pyproject.toml", "pylock.toml", "uv.lock", "poetry.lock")
# evidence keys that identify *what* a finding is about, beyond rule and subject
_PATH_LINE = re.compile(r"^(.+):(\d+)$")
IDENTITY_KEYS = (
    "vuln_id",
    "global",
    "member",
    "element",
    "package",
    "purl",
    "requirement",
    "license",
    "bundle",
    "layer",
)


TOP_LEVEL_DEFAULTS: dict[str, Any] = {
    "stage": None,
    "promotion": None,
    "inputs": {},
    "ci": {},
    "inventory": None,
    "components": [],
    "sbom": None,
    "checks": [],
    "sections": {},
    "context": {},
    "findings": [],
    "counts": {},
    "waivers": [],
    "decision": None,
    "ledger": None,
}


def normalize(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with every top-level key present, so templates can re-render records from
    older schema versions (which lack, e.g., ``inputs`` or ``ci``)."""
    out = {**TOP_LEVEL_DEFAULTS, **record}
    out["tool"] = {"name": "scanner", "version": "", **(record.get("tool") or {})}
    out["inputs"] = {**dict.fromkeys(("policy", "data", "waivers", "vulnerability_db")), **(out["inputs"] or {})}
    ci_keys = ("system", "run_url", "repository", "commit", "ref", "actor", "workflow", "job", "run_id", "event")
    out["ci"] = {**dict.fromkeys(ci_keys), **(out["ci"] or {})}
    return out


def severity_rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def sort_findings(findings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Most severe first, unwaived before waived, then by rule and subject."""
    return sorted(findings, key=lambda f: (-severity_rank(f["severity"]), bool(f.get("waived")), f["id"], f["subject"]))


def check_names(record: Mapping[str, Any]) -> list[str]:
    names = [c["check"] for c in record.get("checks") or []]
    for f in record.get("findings") or []:
        if f["check"] not in names:
            names.append(f["check"])
    return names


def by_check(record: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {name: [] for name in check_names(record)}
    for f in record.get("findings") or []:
        groups[f["check"]].append(f)
    return {k: sort_findings(v) for k, v in groups.items()}


def matrix(record: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """check → severity → unwaived count, plus ``waived`` per check."""
    out = {name: {**dict.fromkeys(SEVERITIES, 0), "waived": 0} for name in check_names(record)}
    for f in record.get("findings") or []:
        row = out[f["check"]]
        if f.get("waived"):
            row["waived"] += 1
        elif f["severity"] in row:
            row[f["severity"]] += 1
    return out


def totals(record: Mapping[str, Any]) -> dict[str, int]:
    t = {**dict.fromkeys(SEVERITIES, 0), "waived": 0, "total": 0}
    for row in matrix(record).values():
        for k, v in row.items():
            t[k] += v
            t["total"] += v
    return t


@dataclass(frozen=True)
class Bar:
    check: str
    y: int
    segments: list[tuple[str, int, int, int]]  # severity, x, width, count
    total: int


def chart(record: Mapping[str, Any], width: int = 520, row: int = 26, label: int = 110) -> dict[str, Any]:
    """Geometry of a horizontal stacked bar chart (one bar per check, unwaived by severity, waived
    last). Numbers only: the template draws it as inline SVG."""
    m = matrix(record)
    keys = (*SEVERITIES, "waived")
    biggest = max([sum(r[k] for k in keys) for r in m.values()] + [1])
    scale = (width - label - 40) / biggest
    bars = []
    for i, (name, counts) in enumerate(m.items()):
        x = label
        segs = []
        for k in keys:
            n = counts[k]
            if n:
                w = max(2, round(n * scale))
                segs.append((k, x, w, n))
                x += w
        bars.append(Bar(name, 8 + i * row, segs, sum(counts[k] for k in keys)))
    return {"width": width, "height": 16 + len(bars) * row, "label": label, "bars": bars, "row": row}


@dataclass(frozen=True)
class Location:
    """Where a finding lives: a file (``uri``, relative when possible), an optional line, and a
    logical name (archive member or package purl) when the file is not the whole story."""

    uri: str
    line: int | None = None
    logical: str | None = None
    logical_kind: str | None = None


class Locator:
    """Resolves findings to locations for one record (indexes built once: a record may hold
    thousands of findings, files and components)."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self.artifact = record.get("artifact") or {}
        self.root = str(self.artifact.get("path") or self.artifact.get("name") or ".")
        listed = [str(f["path"]) for f in self.artifact.get("files") or []]
        self.files = set(listed)
        # a file artifact's other files (a requirements file's includes: ``files`` lists the file
        # first, then each file read with it, relative to its folder), as subjects name them →
        # where they are: beside it on disk, inside the reference when pulled
        self.members: dict[str, str] = {}
        if _is_file_artifact(self.artifact):
            for rel in listed[1:]:
                if "://" in self.root:
                    self.members[rel] = _joined(self.root, rel)
                else:
                    shown = str(PurePosixPath(self.root).parent / rel)
                    self.members[shown] = _uri(shown)
        self.sources: dict[str, str] = {}
        for key, source in _component_sources(record):
            self.sources.setdefault(key, source)
        self._manifest: str | None = None

    def locate(self, finding: Mapping[str, Any]) -> Location:
        root, artifact = self.root, self.artifact
        subject = str(finding.get("subject") or "")
        evidence = finding.get("evidence") or {}
        if subject.startswith("pkg:") or (not subject and evidence.get("purl")):
            purl = subject or str(evidence["purl"])
            source = self.sources.get(purl)
            if source:
                path, _, line = source.rpartition(":")
                if path and line.isdigit():
                    return Location(self._file_uri(path), int(line), purl, "package")
                return Location(self._file_uri(source), None, purl, "package")
            if self._manifest is None:
                self._manifest = _uri(_manifest(self.record, root))
            return Location(self._manifest, None, purl, "package")
        path, bang, member = subject.partition("!")
        ev_line = evidence.get("line")
        with_line = _PATH_LINE.match(path)
        if with_line and path not in self.files:  # "requirements.txt:12"
            path, ev_line = with_line.group(1), int(with_line.group(2))
        logical, kind = (member or None), ("member" if bang else None)
        if path in self.members:
            uri = self.members[path]
        elif path in self.files and not _is_file_artifact(artifact):
            uri = _uri(_joined(root, path))
        elif path and path.rstrip("/") == root.rstrip("/") and not _is_file_artifact(artifact):
            return self.artifact_location()  # the directory itself (``gate m1``: subject "m1")
        elif path and (path == root or path.startswith(root.rstrip("/") + "/")):
            uri = _uri(path)
        elif _is_file_artifact(artifact):
            uri = _uri(root)  # the artifact is the file (subject may be its name)
        else:  # not a file of the artifact (e.g. "sbom", the artifact's name): the artifact itself
            return self.artifact_location()
        return Location(uri, ev_line if isinstance(ev_line, int) and ev_line > 0 else None, logical, kind)

    def _file_uri(self, path: str) -> str:
        """Where a file a component was read from is. A pulled artifact names it inside itself
        (``requirements.txt``): under its reference, or the reference itself when the artifact is
        that file (a file read with it, ``more.txt``, under the reference). Else as recorded: a
        path as given on the command line (a local directory's own files are not joined to it:
        ``app/requirements.txt`` may be a file of ``app`` too)."""
        if "://" in self.root and path in self.members:
            return self.members[path]
        if "://" in self.root and path in self.files:
            return self.root if _is_file_artifact(self.artifact) else _joined(self.root, path)
        return _uri(path)

    def artifact_location(self) -> Location:
        """Where a result about the whole artifact points (policy reasons, SBOM completeness):
        the artifact file, or the artifact's directory (a URI ending in ``/``), never one of
        its files picked for the purpose."""
        name = str(self.artifact.get("name") or self.root)
        if "://" in self.root:
            return Location(self.root, None, name, "artifact")
        uri = _uri(self.root)
        if not _is_file_artifact(self.artifact):
            uri = "./" if uri in ("", ".") else uri.rstrip("/") + "/"
        return Location(uri, None, name, "artifact")


def _component_sources(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(bom-ref or purl, the file[:line] it was read from) of every component: from the SBOM's
    ``scanner:source`` properties (nested components too) when the record carries the inventory
    as an SBOM, else from the ``components`` list."""
    sbom = record.get("sbom")
    if isinstance(sbom, Mapping):
        stack = [c for c in reversed(sbom.get("components") or []) if isinstance(c, Mapping)]
        while stack:
            c = stack.pop()
            source = next(
                (
                    p.get("value")
                    for p in c.get("properties") or []
                    if isinstance(p, Mapping) and p.get("name") == "scanner:source"
                ),
                None,
            )
            if source:
                for key in (c.get("bom-ref"), c.get("purl")):
                    if key:
                        yield str(key), str(source)
            stack.extend(x for x in reversed(c.get("components") or []) if isinstance(x, Mapping))
        return
    for c in record.get("components") or []:
        if isinstance(c, Mapping) and c.get("source"):
            for key in (c.get("bom_ref"), c.get("purl")):
                if key:
                    yield str(key), str(c["source"])


def locate(record: Mapping[str, Any], finding: Mapping[str, Any]) -> Location:
    return Locator(record).locate(finding)


def _is_file_artifact(artifact: Mapping[str, Any]) -> bool:
    return artifact.get("kind") not in ("model-dir", "app-dir", "environment")


def _manifest(record: Mapping[str, Any], root: str) -> str:
    """The file a package finding points at when no component names its line: the artifact
    itself when it is a file, else the first manifest in it."""
    artifact = record.get("artifact") or {}
    if _is_file_artifact(artifact):
        return root
    files = [f["path"] for f in artifact.get("files") or []]
    for name in MANIFEST_NAMES:
        if name in files:
            return _joined(root, name)
    reqs = sorted(p for p in files if "/" not in p and p.startswith("requirements") and p.endswith(".txt"))
    return _joined(root, reqs[0]) if reqs else root


def _joined(root: str, path: str) -> str:
    """``path`` inside the artifact at ``root``: a reference (``oci://…``) is joined as text, since
    a path would fold its ``//``."""
    if "://" in root:
        return root.rstrip("/") + "/" + path
    return str(PurePosixPath(root) / path)


def _uri(path: str) -> str:
    """A relative POSIX path when the file is under the working directory (what code scanning
    resolves against the checkout), else the path as recorded; a reference (``oci://…``, a pulled
    artifact) as it is."""
    if "://" in path:
        return path
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path(os.getcwd()))
        except ValueError:
            return p.as_posix()
    text = p.as_posix()
    return text[2:] if text.startswith("./") else text


def fingerprint(finding: Mapping[str, Any]) -> str:
    """Stable across runs: the rule, the subject without a line number, and the identifying
    evidence (vulnerability id, imported global, archive member, package...), never a line or
    the order of findings, never the message (its wording may change). The SARIF writer numbers
    the rare duplicates."""
    evidence = finding.get("evidence") or {}
    subject = _PATH_LINE.sub(r"\1", str(finding.get("subject")))
    parts = [str(finding.get("id")), subject]
    parts += [f"{k}={evidence[k]}" for k in IDENTITY_KEYS if evidence.get(k) is not None]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def ci_run(record: Mapping[str, Any]) -> str | None:
    ci = record.get("ci") or {}
    return ci.get("run_url")


def decision_label(record: Mapping[str, Any]) -> str:
    """ALLOWED / DENIED for gate records; PASSED / FINDINGS when nothing was decided."""
    d = record.get("decision")
    if d is None:
        return "FINDINGS" if any(not f.get("waived") for f in record.get("findings") or []) else "PASSED"
    return "ALLOWED" if d.get("allow") else "DENIED"


def components(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The component list: from the CycloneDX SBOM when the record carries one, else the
    inventory's components."""
    return list(iter_components(record))


class Components:
    """``components(record)`` made one at a time as a template walks them (``len`` and truth
    without making any): a page over a 25 MB SBOM does not hold a second copy of it."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = record
        sbom = record.get("sbom")
        if isinstance(sbom, Mapping) and isinstance(sbom.get("components"), list):
            self._count = len(sbom["components"])
        else:
            self._count = sum(1 for c in record.get("components") or [] if isinstance(c, Mapping))

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter_components(self._record)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0


def iter_components(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """``components(record)``, one at a time."""
    sbom = record.get("sbom")
    if isinstance(sbom, Mapping) and isinstance(sbom.get("components"), list):
        for c in sbom["components"]:
            licenses = []
            for lic in c.get("licenses") or []:
                if "expression" in lic:
                    licenses.append(str(lic["expression"]))
                elif isinstance(lic.get("license"), Mapping):
                    licenses.append(str(lic["license"].get("id") or lic["license"].get("name") or ""))
            supplier = c.get("supplier")
            yield {
                "name": c.get("name"),
                "version": c.get("version"),
                "type": c.get("type"),
                "purl": c.get("purl"),
                "licenses": [x for x in licenses if x],
                "supplier": supplier.get("name") if isinstance(supplier, Mapping) else None,
                "hashes": {h.get("alg"): h.get("content") for h in c.get("hashes") or []},
            }
        return
    keys = ("name", "version", "type", "purl", "licenses", "supplier", "hashes")
    for c in record.get("components") or []:
        if isinstance(c, Mapping):
            yield {**dict.fromkeys(keys), **c}


# --- vulnerabilities as an auditor reads them ---------------------------------------------------

_ADVISORY_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,80}$")


@dataclass(frozen=True)
class Advisory:
    """An advisory id and where to read it: GHSA on GitHub, CVE at cve.org, everything else
    (PYSEC, OSV, …) on osv.dev, which also knows the GHSA and CVE ids."""

    id: str
    url: str


def advisory(ident: Any) -> Advisory | None:
    """An id from the database (hostile: an imported database may say anything) that looks like
    an advisory id, with its page; anything else is not linked."""
    if not isinstance(ident, str) or not _ADVISORY_ID.match(ident):
        return None
    prefix = ident.split("-", 1)[0].upper()
    if prefix == "GHSA":
        return Advisory(ident, f"https://github.com/advisories/{ident}")
    if prefix == "CVE":
        return Advisory(ident, f"https://www.cve.org/CVERecord?id={ident}")
    return Advisory(ident, f"https://osv.dev/vulnerability/{ident}")


def advisories(finding: Mapping[str, Any]) -> list[Advisory]:
    """The finding's advisory and its aliases (its own id first)."""
    evidence = finding.get("evidence") or {}
    ids = [evidence.get("vuln_id"), *(evidence.get("aliases") or [])]
    out = []
    for ident in ids:
        found = advisory(ident)
        if found is not None and found not in out:
            out.append(found)
    return out


def is_vulnerability(finding: Mapping[str, Any]) -> bool:
    return bool((finding.get("evidence") or {}).get("vuln_id"))


@dataclass(frozen=True)
class VulnColumns:
    """The columns a vulnerability finding adds to a table (empty strings for other findings)."""

    package: str
    installed: str
    fixed: str
    advisory: str


def vuln_columns(finding: Mapping[str, Any]) -> VulnColumns:
    evidence = finding.get("evidence") or {}
    if not is_vulnerability(finding):
        return VulnColumns("", "", "", "")
    fixed = evidence.get("fixed_in")
    return VulnColumns(
        package=str(evidence.get("package") or finding.get("subject") or ""),
        installed=str(evidence.get("version") or ""),
        fixed=str(fixed) if fixed else ("no fix" if evidence.get("fix_available") is False else ""),
        advisory=str(evidence.get("vuln_id")),
    )


def vuln_message(finding: Mapping[str, Any], limit: int = 160) -> str:
    """What a vulnerability row needs besides its columns: the aliases, the score and the
    advisory's summary (the message repeats the id, package and version the columns show)."""
    evidence = finding.get("evidence") or {}
    if not is_vulnerability(finding):
        return str(finding.get("message") or "")
    aliases = [str(a) for a in evidence.get("aliases") or []][:4]
    score = evidence.get("cvss_score")
    head = ", ".join(aliases) + (f" (CVSS {score})" if score is not None else "")
    summary = " ".join(str(evidence.get("summary") or finding.get("message") or "").split())
    if len(summary) > limit:
        summary = summary[: limit - 1].rstrip() + "…"
    return f"{head}: {summary}" if head else summary


@dataclass(frozen=True)
class VulnerableComponent:
    """One package with every known vulnerability of it: what to upgrade to (the lowest version
    that fixes all of them, when every one has a fix) and the advisories."""

    name: str
    version: str
    purl: str
    worst: str
    counts: dict[str, int]
    upgrade_to: str | None
    unfixed: int
    vulns: list[dict[str, Any]]
    waived: int


def vulnerable_components(record: Mapping[str, Any]) -> list[VulnerableComponent]:
    from packaging.version import InvalidVersion, Version

    groups: dict[str, list[Mapping[str, Any]]] = {}
    for f in record.get("findings") or []:
        if is_vulnerability(f):
            evidence = f.get("evidence") or {}
            groups.setdefault(str(evidence.get("purl") or f.get("subject")), []).append(f)
    out = []
    for purl, found in groups.items():
        evidence = found[0].get("evidence") or {}
        fixes: list[tuple[Version, str]] = []
        unfixed = 0
        for f in found:
            fixed = (f.get("evidence") or {}).get("fixed_in")
            try:
                fixes.append((Version(str(fixed)), str(fixed)))
            except InvalidVersion:
                unfixed += 1
        open_ = [f for f in found if not f.get("waived")]
        counts = {s: sum(1 for f in open_ if f["severity"] == s) for s in SEVERITIES}
        ranked = sort_findings(found)
        out.append(
            VulnerableComponent(
                name=str(evidence.get("package") or purl),
                version=str(evidence.get("version") or ""),
                purl=purl,
                worst=str(ranked[0]["severity"]),
                counts=counts,
                upgrade_to=max(fixes)[1] if fixes and not unfixed else None,
                unfixed=unfixed,
                vulns=[
                    {
                        "severity": f["severity"],
                        "id": (f.get("evidence") or {}).get("vuln_id"),
                        "fixed": (f.get("evidence") or {}).get("fixed_in"),
                        "advisories": advisories(f),
                        "summary": (f.get("evidence") or {}).get("summary") or f.get("message"),
                        "waived": (f.get("waived") or {}).get("id") if f.get("waived") else None,
                    }
                    for f in ranked
                ],
                waived=len(found) - len(open_),
            )
        )
    out.sort(key=lambda c: (-severity_rank(c.worst), -sum(c.counts.values()), c.name))
    return out


# --- models ----------------------------------------------------------------------------------------


def model_card(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The CycloneDX ``modelCard`` of the model the ML-BOM describes (its primary component, else
    the first machine-learning-model component), with the model's name."""
    sbom = record.get("sbom")
    if not isinstance(sbom, Mapping):
        return None
    candidates = [(sbom.get("metadata") or {}).get("component"), *(sbom.get("components") or [])]
    for comp in candidates:
        if isinstance(comp, Mapping) and comp.get("type") == "machine-learning-model":
            card = comp.get("modelCard")
            if isinstance(card, Mapping) and card:
                return {"name": comp.get("name"), "version": comp.get("version"), "card": card}
    return None


def check_summary(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for c in record.get("checks") or []:
        if c.get("check") == name and isinstance(c.get("summary"), Mapping):
            return {"complete": c.get("complete", True), **c["summary"]}
    return None


# --- the decision and what it rests on --------------------------------------------------------------

# policy rule name prefix → the checks whose findings it judges (presentation only: a link from a
# reason to the findings an auditor should read; the policy alone decides)
_RULE_CHECKS = {
    "vuln": ("vulns",),
    "model": ("model",),
    "sbom": ("sbom-ntia", "sbom"),
    "license": ("license", "licenses"),
    "signature": ("signature",),
    "provenance": ("provenance",),
    "checks": (),
    "finding": (),
}


def decision_evidence(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each deny and warn with the checks it rests on (anchors of their sections and their open
    findings), so a reader goes from the reason to the evidence."""
    decision = record.get("decision") or {}
    names = check_names(record)
    m = matrix(record)
    incomplete = [c["check"] for c in record.get("checks") or [] if not c.get("complete", True)]
    out = []
    for outcome in ("deny", "warn"):
        for reason in decision.get(outcome) or []:
            rule = str(reason.get("rule") or "")
            prefix = rule.split("-", 1)[0]
            if prefix == "checks":
                related = incomplete
            elif prefix == "finding":
                related = [n for n in names if any(m[n][s] for s in SEVERITIES)]
            elif prefix == "waiver" or prefix == "waivers":
                related = []
            else:
                related = [n for n in _RULE_CHECKS.get(prefix, ()) if n in names]
            out.append(
                {
                    "outcome": outcome,
                    "rule": rule,
                    "message": reason.get("message"),
                    "remediation": reason.get("remediation"),
                    "checks": [
                        {"check": n, "anchor": f"check-{names.index(n) + 1}", "open": sum(m[n][s] for s in SEVERITIES)}
                        for n in related
                    ],
                    "waivers": prefix in ("waiver", "waivers"),
                }
            )
    return out
