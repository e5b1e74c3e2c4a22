"""modelscan as a second opinion: its Python engine on the files it supports, its issues merged
into ours without duplicates. Its skips and errors are recorded, never taken as "clean": the
verdict of every file is ours, modelscan can only add findings.

It runs only on files where its opinion can change the verdict: files on which our own analysis
found something below HIGH (an unknown import, say) that modelscan may know to be dangerous. A
file we judged clean holds only imports on our known-safe list, and none of modelscan's unsafe
globals is on that list (``tests/models/test_second_opinion.py`` holds this for modelscan's
current list), so modelscan cannot add a finding there; a file with a HIGH or CRITICAL finding,
or one we could not fully read, is already denied at every threshold modelscan could raise it to.

modelscan reads a whole pickle into memory, so files above ``max_bytes`` are left to our own
streaming analysis (recorded as skipped). Importing it pulls numpy: done only here, lazily.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.core import Finding, Severity
from scanner.models.api import finding
from scanner.models.dispatch import FileVerdict
from scanner.models.pickle_scan import RULE_GLOBAL, RULE_UNKNOWN

DEFAULT_MAX_BYTES = 256 << 20


@dataclass
class SecondOpinion:
    ran: bool = False
    files: int = 0
    issues: int = 0
    added: int = 0
    confirmed: int = 0
    decided: int = 0  # supported files left alone: our verdict there is one modelscan cannot change
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "tool": "modelscan",
            "ran": self.ran,
            "files": self.files,
            "issues": self.issues,
            "confirmed": self.confirmed,
            "not_needed": self.decided,
            "added": self.added,
            "skipped": len(self.skipped),
            "errors": self.errors[:20],
        }


def run_modelscan(
    files: list[FileVerdict], findings: list[Finding], max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Finding], SecondOpinion]:
    """Run modelscan on each file it supports; return our findings merged with its issues."""
    report = SecondOpinion()
    try:
        from modelscan.settings import DEFAULT_SETTINGS
    except Exception as exc:  # an optional engine: its absence is recorded, never fatal
        report.errors.append(f"modelscan unavailable: {type(exc).__name__}: {exc}")
        return findings, report
    report.ran = True
    extensions = {
        ext
        for conf in DEFAULT_SETTINGS["scanners"].values()
        for ext in conf.get("supported_extensions", ())
        if conf.get("enabled", True)
    }
    undecided = _undecided(findings)
    eligible = []
    for entry in files:
        if entry.format in ("symlink", "unreadable", "special") or Path(entry.path).suffix.lower() not in extensions:
            continue
        if entry.verdict != "findings" or entry.path not in undecided:
            report.decided += 1
            continue
        if entry.size > max_bytes:
            report.skipped.append(entry.path)
            continue
        eligible.append(entry)
    merged = list(findings)
    if not eligible:
        return merged, report
    from modelscan.modelscan import ModelScan  # pulls numpy and h5py: only when there is work

    for entry in eligible:
        path = Path(entry.path)
        report.files += 1
        try:
            result = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS)).scan(str(path))
        except Exception as exc:
            report.errors.append(f"{entry.path}: {type(exc).__name__}: {exc}")
            continue
        for err in result.get("errors", []):
            report.errors.append(f"{entry.path}: {err.get('description') or err}")
        report.skipped.extend(
            s.get("source", "?") for s in result.get("summary", {}).get("skipped", {}).get("skipped_files", [])
        )
        for issue in result.get("issues", []):
            report.issues += 1
            _merge(merged, issue, entry.path, path.name, report)
    return merged, report


def _undecided(findings: list[Finding]) -> set[str]:
    """Files whose findings are all below HIGH (finding subjects are ``file`` or ``file!member``)."""
    worst: dict[str, Severity] = {}
    for f in findings:
        path = f.subject.split("!", 1)[0]
        worst[path] = max(worst.get(path, Severity.INFO), f.severity)
    return {path for path, severity in worst.items() if severity < Severity.HIGH}


_RULE_OF_SCANNER = {
    "H5LambdaDetectScan": "MODEL-KERAS-LAMBDA",
    "KerasLambdaDetectScan": "MODEL-KERAS-LAMBDA",
    "SavedModelLambdaDetectScan": "MODEL-KERAS-LAMBDA",
    "SavedModelTensorflowOpScan": "MODEL-TF-UNSAFE-OP",
}
_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}


def _merge(merged: list[Finding], issue: dict[str, Any], shown: str, name: str, report: SecondOpinion) -> None:
    source = str(issue.get("source", ""))
    _, sep, member = source.partition(":")
    subject = f"{shown}!{member}" if sep else shown
    glob = f"{issue.get('module')}.{issue.get('operator')}"
    severity = _SEVERITY.get(str(issue.get("severity", "")).upper(), Severity.HIGH)
    # modelscan reports Keras Lambda layers and TF ops as "operators"; they are our format rules
    own_rule = _RULE_OF_SCANNER.get(str(issue.get("scanner", "")).rsplit(".", 1)[-1])
    for i, f in enumerate(merged):
        same = f.id == own_rule if own_rule else f.evidence.get("global") == glob
        if f.subject == subject and same:
            evidence = dict(f.evidence)
            evidence["detected_by"] = sorted({*evidence.get("detected_by", ["scanner"]), "modelscan"})
            rule = RULE_GLOBAL if severity >= Severity.HIGH and f.id == RULE_UNKNOWN else f.id
            merged[i] = Finding(
                id=rule,
                check=f.check,
                severity=max(f.severity, severity),
                subject=f.subject,
                message=f.message,
                evidence=evidence,
                fix=f.fix,
            )
            report.confirmed += 1
            return
    report.added += 1
    merged.append(
        finding(
            own_rule or RULE_GLOBAL,
            severity,
            subject,
            f"modelscan: {issue.get('description', glob)}",
            fix="do not load this file; it can run code when unpickled",
            **{
                "global": glob,
                "format": "pickle" if own_rule is None else "modelscan",
                "detected_by": ["modelscan"],
                "scanner": issue.get("scanner"),
            },
        )
    )
