"""The interface between the model-file dispatcher and each format scanner.

A format scanner is a module ``scanner.models.formats.<name>`` exposing::

    def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]

``data`` is a seekable binary stream positioned at 0 (a file on disk or an archive member held
within ``ctx.limits``); ``subject`` is the display path (``dir/file.pt!archive/data.pkl`` for
members). A scanner never loads or executes content. It returns findings; when it cannot fully
examine the input it returns an ``MODEL-UNSCANNABLE`` finding (see ``unscannable``) rather than
raising. ``ctx.recurse`` hands an embedded file (an archive member, a nested pickle) back to the
dispatcher, which sniffs its format and applies the depth and size limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from scanner.core import Finding, Severity

CHECK = "model"
UNSCANNABLE = "MODEL-UNSCANNABLE"
NOTHING_TO_JUDGE = "MODEL-NOTHING-TO-JUDGE"


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from exhausting memory or time."""

    max_depth: int = 8  # nested containers
    max_member_bytes: int = 2 << 30  # one decompressed member
    max_total_bytes: int = 16 << 30  # everything decompressed from one file
    max_ratio: int = 200  # decompressed / compressed, per member (zip bombs)
    max_entries: int = 100_000  # members of one archive
    max_header_bytes: int = 100 << 20  # safetensors / GGUF / JSON headers
    # one budget for the whole artifact, across all nesting levels (see streams.ArtifactBudget)
    max_artifact_entries: int = 200_000  # embedded entries examined
    max_artifact_archives: int = 1_000  # archives found inside other content
    max_artifact_bytes: int = 32 << 30  # decompressed
    max_artifact_seconds: float = 600.0  # spent below the top level of files


@dataclass
class FormatContext:
    """``root`` is the scanned directory (for checks such as ONNX external-data paths that must
    stay inside it); ``path`` is the file on disk that holds this data, when there is one."""

    root: Path | None = None
    path: Path | None = None
    depth: int = 0
    limits: Limits = field(default_factory=Limits)
    settings: dict[str, Any] = field(default_factory=dict)
    recurse: Callable[[BinaryIO, int, str], list[Finding]] | None = None


def finding(
    rule: str,
    severity: Severity,
    subject: str,
    message: str,
    fix: str | None = None,
    **evidence: Any,
) -> Finding:
    return Finding(
        id=rule, check=CHECK, severity=severity, subject=subject, message=message, evidence=evidence, fix=fix
    )


def unscannable(subject: str, reason: str, **evidence: Any) -> Finding:
    """The file could not be fully checked: never reported clean (fail closed)."""
    return finding(
        UNSCANNABLE,
        Severity.HIGH,
        subject,
        f"could not be fully checked: {reason}",
        fix="re-export the model in a safe format (safetensors) or remove the file",
        reason=reason,
        **evidence,
    )


def nothing_to_judge(subject: str, files: int) -> Finding:
    """No file (of ``files``) was in any model format: the model check judged nothing, and
    nothing judged is never reported clean."""
    what = "no files" if files == 0 else f"{files} file(s), none of them in a model format"
    return finding(
        NOTHING_TO_JUDGE,
        Severity.HIGH,
        subject,
        f"nothing to judge: {what} (empty, text only, or content no model loader reads)",
        fix="point the scan at the model's weights (safetensors, GGUF, ONNX, pickle-based checkpoints, ...)",
        files=files,
    )
