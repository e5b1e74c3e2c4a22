"""NTIA minimum elements of an SBOM (2021): supplier, component name, version, a unique
identifier, dependency relationships, author of the SBOM data, timestamp.

Works on any Inventory (built here or ingested from a BOM). One finding per missing element,
``SBOM-NTIA-<ELEMENT>``, with the number of components lacking it and up to ``MAX_EXAMPLES`` of
their bom-refs.

Which components are judged for what:
- ``file`` components (the files of a model directory) have no supplier or version of their own:
  they are judged only for a name and a unique id, and their SHA-256 is that id. The model they
  belong to, its datasets and its libraries are judged for everything.
- A unique id is a purl; a bom-ref alone is not one (it only names the component inside this BOM).
- Dependency relationships: the primary component must be present and declare its dependencies,
  and every other component must be reachable from it through the graph (a component nobody
  depends on is an orphan whose relationship is unknown). Without a primary component, every
  component must appear in the graph at least once.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.check import Check, CheckResult, GateContext
from scanner.core import Finding, Severity
from scanner.inventory.components import Component, Inventory

MAX_EXAMPLES = 20
ELEMENTS = ("SUPPLIER", "NAME", "VERSION", "UNIQUE-ID", "DEPENDENCIES", "AUTHOR", "TIMESTAMP")
# Each hint names only what exists: a CycloneDX field, or a scanner option or setting (a test
# checks every `scanner CMD --option` and SCANNER_* named here against the commands).
_FIXES = {
    "SUPPLIER": "name the supplier of each component (CycloneDX component.supplier); to add suppliers to "
    "what scanner generates, write them in a BOM and pass it with `scanner sbom --merge BOM`",
    "NAME": "give every component a name",
    "VERSION": "give every component a version (a model: gate a git checkout or a Hugging Face snapshot, "
    "whose revision becomes the version, or add it with `scanner sbom --merge BOM`)",
    "UNIQUE-ID": "give every component a purl (a model: pkg:huggingface/<org>/<name>@<revision>, from a "
    "Hugging Face snapshot or `scanner sbom --merge BOM`)",
    "DEPENDENCIES": "declare the primary component and the dependencies of every component",
    "AUTHOR": "name the author of the SBOM data (CycloneDX metadata.authors, or metadata.tools for the "
    "tool that wrote it); for SBOMs scanner writes, set SCANNER_AUTHOR or `author` in the config file",
    "TIMESTAMP": "record when the SBOM was made (CycloneDX metadata.timestamp; `scanner sbom` always does)",
}


def ntia_findings(inventory: Inventory, subject: str) -> list[Finding]:
    """The NTIA minimum-element gaps of ``inventory``; ``subject`` names the artifact."""
    comps = inventory.components
    judged = [c for c in comps if c.type != "file"]
    gaps: dict[str, list[str]] = {
        "SUPPLIER": [c.bom_ref for c in judged if not (c.supplier or "").strip()],
        "NAME": [c.bom_ref for c in comps if not (c.name or "").strip()],
        "VERSION": [c.bom_ref for c in judged if not (c.version or "").strip()],
        "UNIQUE-ID": [c.bom_ref for c in comps if not _has_unique_id(c)],
    }
    out = [_finding(element, refs, subject) for element, refs in gaps.items() if refs]
    dep_refs, why = _dependency_gaps(inventory)
    if dep_refs or why:
        out.append(_finding("DEPENDENCIES", dep_refs, subject, why))
    if not any(a.strip() for a in inventory.authors):
        out.append(_finding("AUTHOR", [], subject, "the SBOM does not name its author"))
    if not inventory.timestamp:
        out.append(_finding("TIMESTAMP", [], subject, "the SBOM has no timestamp"))
    return out


def _has_unique_id(c: Component) -> bool:
    if c.purl:
        return True
    return c.type == "file" and bool(c.hashes)


def _dependency_gaps(inventory: Inventory) -> tuple[list[str], str | None]:
    """Components whose relationships are unknown, and why when it is the whole graph."""
    deps = inventory.dependencies
    refs = [c.bom_ref for c in inventory.components]
    root = inventory.root
    if root is None:
        linked = set(deps) | {d for targets in deps.values() for d in targets}
        return [r for r in refs if r not in linked], "the SBOM names no primary component"
    if root.bom_ref not in deps:
        return refs, f"the primary component {root.bom_ref} declares no dependencies"
    reached = _reachable(root.bom_ref, deps)
    return [r for r in refs if r not in reached], None


def _reachable(start: str, deps: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in deps.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _finding(element: str, refs: Iterable[str], subject: str, message: str | None = None) -> Finding:
    refs = list(refs)
    count = len(refs)
    what = {
        "SUPPLIER": "no supplier",
        "NAME": "no name",
        "VERSION": "no version",
        "UNIQUE-ID": "no unique identifier (purl)",
        "DEPENDENCIES": "no known dependency relationship",
    }.get(element)
    parts = [message] if message else []
    if count and what:
        parts.append(f"{count} component(s) with {what}, e.g. {', '.join(refs[:3])}")
    message = "; ".join(parts)
    return Finding(
        id=f"SBOM-NTIA-{element}",
        check="sbom-ntia",
        severity=Severity.LOW,
        subject=subject,
        message=f"NTIA minimum element {element.lower()}: {message}",
        evidence={"element": element.lower(), "components": refs[:MAX_EXAMPLES], "count": count},
        fix=_FIXES[element],
    )


class NtiaCheck(Check):
    """SBOM completeness against the NTIA minimum elements (findings ``SBOM-NTIA-*``)."""

    name = "sbom-ntia"
    description = "SBOM completeness: NTIA minimum elements"

    def run(self, ctx: GateContext) -> CheckResult:
        findings = ntia_findings(ctx.inventory, ctx.artifact.name)
        missing = sorted({str(f.evidence["element"]) for f in findings})
        return CheckResult(
            check=self.name,
            findings=findings,
            summary={"elements": len(ELEMENTS), "missing": missing, "complete": not missing},
        )
