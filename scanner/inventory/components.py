"""Plain data for an inventory. Every later stage reads components from here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.core import Finding


@dataclass(slots=True)
class Component:
    """One inventoried thing. ``type`` uses CycloneDX names (library, application, file,
    machine-learning-model, data, framework). ``licenses`` holds SPDX expressions or plain names.
    Slotted: a 25 MB BOM holds tens of thousands of them."""

    bom_ref: str
    name: str
    version: str | None = None
    type: str = "library"
    purl: str | None = None
    licenses: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    scope: str | None = None
    supplier: str | None = None
    author: str | None = None
    description: str | None = None
    external_references: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    # Components carried inside this one and not installed on their own: pip's vendored
    # packages, the contents of a wheel's embedded SBOM (PEP 770). Never top-level.
    children: list[Component] = field(default_factory=list)
    # Authors with an e-mail address where the metadata gives one: ``[{"name": ..., "email": ...}]``.
    contacts: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bom_ref": self.bom_ref,
            "type": self.type,
            "name": self.name,
            "version": self.version,
            "purl": self.purl,
            "licenses": list(self.licenses),
            "hashes": dict(self.hashes),
            "scope": self.scope,
            "supplier": self.supplier,
            "author": self.author,
            "description": self.description,
            "external_references": dict(self.external_references),
            "properties": dict(self.properties),
            "source": self.source,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class Inventory:
    """Components of an artifact. ``root`` is the artifact itself (the project or the model);
    ``dependencies`` maps a bom-ref to the bom-refs it depends on; ``findings`` are problems met
    while inventorying (unparseable lines, unpinned requirements)."""

    root: Component | None = None
    components: list[Component] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Raw CycloneDX members merged into a component's JSON by bom-ref after serialisation
    # (e.g. ``{"model:x": {"modelCard": {...}}}``): cyclonedx-python-lib 11 has no model-card classes.
    cyclonedx_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Who made the SBOM data and when (NTIA "author" and "timestamp"; CycloneDX metadata.authors
    # and metadata.timestamp): ISO 8601 UTC, or None when unknown (an ingested BOM without one).
    authors: list[str] = field(default_factory=list)
    timestamp: str | None = None

    def summary(self) -> dict[str, Any]:
        by_type: dict[str, int] = {}
        for c in self.components:
            by_type[c.type] = by_type.get(c.type, 0) + 1
        return {
            "root": self.root.to_dict() if self.root else None,
            "components": len(self.components),
            "by_type": by_type,
            "with_purl": sum(1 for c in self.components if c.purl),
            "with_license": sum(1 for c in self.components if c.licenses),
            "with_hashes": sum(1 for c in self.components if c.hashes),
            "dependency_edges": sum(len(v) for v in self.dependencies.values()),
            "nested": sum(len(c.children) for c in self.components),
        }

    def walk(self) -> Iterator[Component]:
        """Every component, nested ones included (depth first, parents before children)."""
        stack = list(reversed(self.components))
        while stack:
            comp = stack.pop()
            yield comp
            stack.extend(reversed(comp.children))

    def component(self, bom_ref: str) -> Component | None:
        """The top-level component with this bom-ref, or None."""
        for c in self.components:
            if c.bom_ref == bom_ref:
                return c
        return None
