"""Pinned requirements files (``name==version``, with ``--hash`` options)."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from scanner.core import Finding, ScanError, Severity
from scanner.inventory.model import Component, Inventory

_HASH = re.compile(r"--hash[= ](\w+):([0-9a-fA-F]+)")


def inventory_requirements(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScanError("not a UTF-8 text requirements file", path) from None
    inv = Inventory()
    for lineno, line in _logical_lines(text):
        hashes = {alg.upper().replace("SHA", "SHA-"): digest.lower() for alg, digest in _HASH.findall(line)}
        spec = _HASH.sub("", line).strip()
        if not spec or spec.startswith("-"):
            continue
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            inv.findings.append(_finding(path, lineno, "SBOM-UNPARSEABLE-REQUIREMENT", f"cannot parse {spec!r}: {exc}"))
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        name = canonicalize_name(req.name)
        if len(pins) != 1:
            inv.findings.append(
                _finding(path, lineno, "SBOM-UNPINNED-REQUIREMENT", f"{req.name} is not pinned to one version ({spec})")
            )
            inv.components.append(Component(bom_ref=f"pkg:pypi/{name}", name=name, source=f"{path}:{lineno}"))
            continue
        purl = f"pkg:pypi/{name}@{pins[0]}"
        inv.components.append(
            Component(bom_ref=purl, name=name, version=pins[0], purl=purl, hashes=hashes, source=f"{path}:{lineno}")
        )
    return inv


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if not buf:
            start = n
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    return out


def _finding(path: Path, lineno: int, rule: str, message: str) -> Finding:
    return Finding(
        id=rule,
        check="sbom",
        severity=Severity.MEDIUM,
        subject=f"{path}:{lineno}",
        message=message,
        evidence={"file": str(path), "line": lineno},
        fix="pin every requirement to one version (pip-compile or uv pip compile)",
    )
