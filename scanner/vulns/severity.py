"""Severity from a CVSS vector, scored by the ``cvss`` library (never by hand).

Base score → severity: critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0, otherwise none
(a 0.0 score is reported as ``info``). Called at database import, not during audits.
"""

from __future__ import annotations


def score_vector(kind: str, vector: str) -> tuple[float, str] | None:
    """``(base score, severity)`` for an OSV ``severity[]`` entry, or ``None`` when the vector is
    not valid for its type (counted by the importer as ``invalid_cvss``)."""
    from cvss import CVSS2, CVSS3, CVSS4, CVSSError

    classes = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}
    cls = classes.get(kind)
    if cls is None:
        return None
    try:
        score = float(cls(vector.strip()).base_score)
    except (CVSSError, ValueError, KeyError, IndexError, ArithmeticError):
        return None
    return score, severity_for(score)


def severity_for(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "info"
