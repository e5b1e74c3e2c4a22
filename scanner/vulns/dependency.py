"""What to audit: the Inventory's PyPI components, nested ones included.

The inventory (``scanner.inventory``) is the only place that reads project and environment
inputs; this module only turns its components into auditable dependencies. A component that
cannot be audited (no version, no package URL) is kept with a ``reason``: the audit turns it into a
``VULN-UNAUDITED`` finding instead of dropping it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scanner.vulns.osv import normalize_name

if TYPE_CHECKING:
    from scanner.inventory.components import Inventory


@dataclass(frozen=True)
class Dependency:
    """``name`` is PEP 503-normalised; ``version`` is the text as pinned or installed;
    ``reason`` says why it cannot be audited (then ``version`` may be None)."""

    name: str
    version: str | None
    source: str
    reason: str | None = None

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{self.version}" if self.version else f"pkg:pypi/{self.name}"


def parse_purl(purl: str) -> tuple[str, str, str | None] | None:
    """``(type, name, version)`` of a package URL; names keep their namespace for non-PyPI types."""
    if not purl.startswith("pkg:"):
        return None
    body = purl[4:].split("#", 1)[0].split("?", 1)[0].lstrip("/")
    ptype, _, rest = body.partition("/")
    if not rest:
        return None
    name_part, at, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
    name = urllib.parse.unquote(name_part)
    return ptype.lower(), name, urllib.parse.unquote(version) if at and version else None


def component_dependency(purl: Any, name: Any, ctype: Any, ref: Any, label: str) -> Dependency | None:
    """A component as a dependency: PyPI purls are audited (or unaudited without a version);
    other ecosystems are not ours (``None``); a library without any purl cannot be placed."""
    where = f"{label}#{ref}" if ref else label
    if isinstance(purl, str) and purl:
        parsed = parse_purl(purl)
        if parsed is None:
            return Dependency(str(name or purl), None, where, f"unparseable package URL {purl!r}")
        ptype, pname, version = parsed
        if ptype != "pypi":
            return None
        if not version:
            return Dependency(normalize_name(pname), None, where, "no version in the package URL")
        return Dependency(normalize_name(pname), version, where)
    if ctype in ("library", "framework") and isinstance(name, str):
        return Dependency(name, None, where, "no package URL: ecosystem and version unknown")
    return None


def from_inventory(inventory: Inventory) -> list[Dependency]:
    """The inventory's PyPI components, nested ones included, and the requirements it could not
    resolve (editable, unparseable): those are kept as unauditable, never dropped."""
    deps: list[Dependency] = []
    for comp in inventory.walk():
        if comp.scope == "excluded":  # not part of what runs (e.g. the library that wrote a model config)
            continue
        purl = comp.purl or (comp.bom_ref if comp.bom_ref.startswith("pkg:") else None)
        label = comp.source or "inventory"
        dep = component_dependency(purl, comp.name, comp.type, None if comp.source else comp.bom_ref, label)
        if dep is not None and dep.version is None and dep.reason == "no version in the package URL":
            dep = Dependency(dep.name, None, dep.source, _unpinned_reason(comp.properties))
        if dep is not None:
            deps.append(dep)
    for finding in inventory.findings:
        requirement = finding.evidence.get("requirement")
        if finding.id in _UNRESOLVED and isinstance(requirement, str):
            deps.append(Dependency(requirement, None, finding.subject, _UNRESOLVED[finding.id](finding.message)))
    return deps


_UNRESOLVED = {
    "SBOM-UNRESOLVED-REQUIREMENT": lambda message: "editable requirement: no pinned version",
    "SBOM-UNPARSEABLE-REQUIREMENT": lambda message: f"unparseable requirement: {message}",
    "SBOM-CORRUPT-METADATA": lambda message: f"installed, but {message}",
}


def _unpinned_reason(properties: Mapping[str, str]) -> str:
    url = properties.get("scanner:direct-url")
    if url:
        return f"URL requirement ({url}): no pinned version"
    spec = properties.get("scanner:specifier")
    if spec:
        return f"not pinned to one version ({'no version' if spec == 'any' else spec})"
    return "no pinned version in the inventory"


def unique(deps: Iterable[Dependency]) -> list[Dependency]:
    """One entry per (name, version, reason); the first source is kept."""
    seen: dict[tuple[str, str | None, str | None], Dependency] = {}
    for d in deps:
        seen.setdefault((d.name, d.version, d.reason), d)
    return list(seen.values())
