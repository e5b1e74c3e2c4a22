"""A model directory or file: the model as a component and each file with its digest."""

from __future__ import annotations

from scanner.core import Artifact
from scanner.files import sha256_file, walk
from scanner.inventory.model import Component, Inventory


def inventory_model(artifact: Artifact) -> Inventory:
    root = Component(bom_ref=f"model:{artifact.name}", name=artifact.name, type="machine-learning-model")
    inv = Inventory(root=root, components=[root])
    refs = []
    for entry in walk(artifact.path):
        if entry.escapes or not entry.path.is_file():
            continue
        ref = f"file:{entry.rel}"
        inv.components.append(
            Component(
                bom_ref=ref,
                name=entry.rel,
                type="file",
                hashes={"SHA-256": sha256_file(entry.path)},
                properties={"size": str(entry.path.stat().st_size)},
            )
        )
        refs.append(ref)
    inv.dependencies[root.bom_ref] = refs
    return inv
