"""Dependencies against the database → findings: ``VULN-KNOWN`` (one per vulnerability and
package version, its aliases folded in) and ``VULN-UNAUDITED`` (a dependency that could not be
checked, never dropped). Shared by ``scanner audit`` and the gate's ``VulnCheck``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.check import CheckResult
from scanner.core import Finding, Severity
from scanner.errors import ScanError
from scanner.vulns import osv
from scanner.vulns.db import Database, DbInfo, Vulnerability
from scanner.vulns.dependency import Dependency, unique

CHECK = "vulns"
UNAUDITED_SEVERITY = Severity.MEDIUM


@dataclass
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    audited: int = 0
    unaudited: int = 0
    vulnerable: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "dependencies": self.audited + self.unaudited,
            "audited": self.audited,
            "unaudited": self.unaudited,
            "vulnerable_packages": self.vulnerable,
            "vulnerabilities": sum(1 for f in self.findings if f.id == "VULN-KNOWN"),
        }


def audit(deps: Sequence[Dependency], db: Database) -> AuditResult:
    result = AuditResult()
    pending: list[tuple[Dependency, Any]] = []
    for dep in unique(deps):
        version = osv.parse_version(dep.version) if dep.version and not dep.reason else None
        if dep.reason or version is None:
            reason = dep.reason or f"version {dep.version!r} is not a PEP 440 version"
            result.findings.append(unaudited(dep, reason))
            result.unaudited += 1
            continue
        pending.append((dep, version))
    known = db.lookup((d.name, v) for d, v in pending)
    for dep, version in sorted(pending, key=lambda p: (p[0].name, p[1])):
        result.audited += 1
        candidates = known.get((dep.name, version), [])
        hits = [v for v in candidates if osv.is_affected(v.entries, version, dep.version)]
        result.vulnerable += bool(hits)
        result.findings.extend(known_finding(dep, version, v) for v in hits)
    return result


def known_finding(dep: Dependency, version: Any, vuln: Vulnerability) -> Finding:
    fixed = osv.smallest_fix(vuln.entries, version)
    severity_known = vuln.severity is not None
    severity = Severity.parse(vuln.severity) if vuln.severity else Severity.MEDIUM
    aliases = list(vuln.aliases)
    shown_aliases = f" ({', '.join(aliases)})" if aliases else ""
    score = f"CVSS {vuln.cvss_score}" if severity_known else "severity unknown"
    message = f"{vuln.id}{shown_aliases} in {dep.name} {dep.version}, {score}"
    if vuln.summary:
        message += f": {_short(vuln.summary)}"
    return Finding(
        id="VULN-KNOWN",
        check=CHECK,
        severity=severity,
        subject=dep.purl,
        message=message,
        evidence={
            "vuln_id": vuln.id,
            "aliases": aliases,
            "package": dep.name,
            "version": dep.version,
            "purl": dep.purl,
            "cvss_vector": vuln.cvss_vector,
            "cvss_score": vuln.cvss_score,
            "severity_known": severity_known,
            "fixed_in": str(fixed) if fixed else None,
            "fix_available": fixed is not None,
            "summary": vuln.summary,
            "source": dep.source,
        },
        fix=f"upgrade {dep.name} to {fixed} or later" if fixed else "no fix available",
    )


def _short(text: str, limit: int = 160) -> str:
    """At most ``limit`` characters, cut at a word: the full summary is in the evidence."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


def unaudited(dep: Dependency, reason: str) -> Finding:
    shown = f"{dep.name} {dep.version}" if dep.version else dep.name
    return Finding(
        id="VULN-UNAUDITED",
        check=CHECK,
        severity=UNAUDITED_SEVERITY,
        subject=dep.purl if not dep.reason or dep.version else dep.source,
        message=f"{shown} could not be audited: {reason}",
        evidence={"package": dep.name, "version": dep.version, "reason": reason, "source": dep.source},
        fix="pin it to one released version (pip-compile, uv pip compile, or a lockfile)",
    )


def check_age(info: DbInfo, max_age_days: int | None, now: dt.datetime | None = None) -> int:
    """The database age in days; a ScanError (exit 2) when older than ``max_age_days``."""
    age = info.age_days(now)
    if max_age_days is not None and age > max_age_days:
        raise ScanError(
            f"vulnerability database is {age} days old (snapshot {info.snapshot_date[:10]}), older than "
            f"--max-db-age {max_age_days}: run `scanner db update` or `scanner db import`",
            info.path,
        )
    return age


def describe(info: DbInfo, now: dt.datetime | None = None) -> str:
    return (
        f"vulnerability database: {info.source}, snapshot {info.snapshot_date[:10] or 'unknown'} "
        f"({info.age_days(now)} days old), {info.records} records"
    )


def check_result(
    result: AuditResult,
    info: DbInfo,
    now: dt.datetime | None = None,
    source: str | None = None,
    *,
    expects: bool = True,
) -> CheckResult:
    """The contract shape. Dependencies that could not be audited are ``VULN-UNAUDITED``
    findings (medium), so the policy weighs them per stage; the check itself examined everything
    it was given, so it is complete (a database it cannot read stops it with a ScanError)."""
    findings = list(result.findings)
    nothing = expects and result.audited + result.unaudited == 0
    if nothing:
        findings.append(
            Finding(
                id="VULN-NOTHING-TO-AUDIT",
                check=CHECK,
                severity=UNAUDITED_SEVERITY,
                subject=source or "input",
                message="no dependencies found to audit: nothing was judged, which is not clean",
                evidence={"source": source},
                fix="audit the file that lists the dependencies (a pinned requirements or lock file)",
            )
        )
    return CheckResult(
        check=CHECK,
        findings=findings,
        complete=not nothing,
        summary={**result.summary(), "vulnerability_db": info.to_dict(now)},
        context={"vulnerability_db": _context(info, now)},
    )


def _context(info: DbInfo, now: dt.datetime | None) -> dict[str, Any]:
    d = info.to_dict(now)
    return {k: d[k] for k in ("source", "snapshot_date", "age_days", "records")}
