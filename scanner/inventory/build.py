"""Choose the inventory source for an artifact kind."""

from __future__ import annotations

from scanner.core import Artifact, ArtifactKind, ScanError
from scanner.inventory.model import Inventory


def build_inventory(artifact: Artifact) -> Inventory:
    if artifact.kind.is_model:
        from scanner.inventory.modeldir import inventory_model

        return inventory_model(artifact)
    if artifact.kind == ArtifactKind.REQUIREMENTS:
        from scanner.inventory.requirements import inventory_requirements

        return inventory_requirements(artifact.path)
    if artifact.kind == ArtifactKind.APP_DIR:
        req = artifact.path / "requirements.txt"
        if req.is_file():
            from scanner.inventory.requirements import inventory_requirements

            return inventory_requirements(req)
    raise ScanError(f"inventory of a {artifact.kind.value} is not supported yet", artifact.path)
