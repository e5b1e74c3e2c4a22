"""Serialising an Inventory as CycloneDX 1.6 JSON with cyclonedx-python-lib."""

from __future__ import annotations

from scanner.core import Artifact
from scanner.inventory.model import Inventory


def to_cyclonedx_json(inventory: Inventory, artifact: Artifact) -> str:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    by_ref = {}
    for c in inventory.components:
        comp = CdxComponent(
            name=c.name,
            version=c.version,
            type=ComponentType(c.type),
            bom_ref=c.bom_ref,
            purl=PackageURL.from_string(c.purl) if c.purl else None,
            hashes=[HashType(alg=HashAlgorithm(alg), content=v) for alg, v in c.hashes.items()],
        )
        by_ref[c.bom_ref] = comp
        if inventory.root is not None and c.bom_ref == inventory.root.bom_ref:
            bom.metadata.component = comp
        else:
            bom.components.add(comp)
    for ref, deps in inventory.dependencies.items():
        if ref in by_ref:
            bom.register_dependency(by_ref[ref], [by_ref[d] for d in deps if d in by_ref])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"
