"""safetensors: validate the header the way the reference loader would, without loading a tensor.

Layout: an 8-byte little-endian header length ``N``, ``N`` bytes of JSON (an object mapping tensor
names to ``{"dtype", "shape", "data_offsets"}`` plus an optional ``__metadata__`` string map), then
the data section. A file the reference library would refuse, or one whose data section holds bytes
no tensor accounts for (gaps, trailing bytes: room for a polyglot payload), or whose tensors
overlap, is reported as ``MODEL-SAFETENSORS-MALFORMED`` with a stable ``problem`` code. The
bounded reader is ``scanner.formats.safetensors`` (shared with the inventory).
"""

from __future__ import annotations

from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.formats.safetensors import (  # noqa: F401  (re-exported: the reader's names, as before)
    DTYPE_BITS,
    FORMAT,
    SPEC_MAX_HEADER,
    Malformed,
    TooLarge,
    check_header,
    read_header,
    read_header_facts,
)
from scanner.models.api import FormatContext, finding, unscannable

RULE = "MODEL-SAFETENSORS-MALFORMED"
MAX_FINDINGS = 20


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    member = _member(subject)
    extra: dict[str, Any] = {"format": FORMAT}
    if member is not None:
        extra["member"] = member
    try:
        header, n = read_header(data, size, ctx.limits.max_header_bytes)
    except TooLarge as exc:
        return [unscannable(subject, str(exc), **extra)]
    except Malformed as exc:
        problems = [exc]
    except OSError as exc:
        return [unscannable(subject, f"read error: {exc}", **extra)]
    else:
        problems = check_header(header, size - 8 - n)
    findings = [_finding(subject, p, extra) for p in problems[:MAX_FINDINGS]]
    if len(problems) > MAX_FINDINGS:
        findings.append(
            _finding(
                subject,
                Malformed("more-problems", f"{len(problems) - MAX_FINDINGS} further header problems not listed"),
                extra,
            )
        )
    return findings


def _finding(subject: str, problem: Malformed, extra: dict[str, Any]) -> Finding:
    evidence: dict[str, Any] = {**extra, "problem": problem.problem}
    if problem.tensor is not None:
        evidence["tensor"] = problem.tensor
    return finding(
        RULE,
        Severity.HIGH,
        subject,
        f"malformed safetensors header: {problem}; the reference loader rejects such files and "
        "unaccounted or overlapping bytes can hide a second payload",
        fix="re-export the weights with the safetensors library",
        **evidence,
    )
