"""Inventory: what an artifact is made of, as components and a dependency graph (CycloneDX)."""

from scanner.inventory.components import Component, Inventory

__all__ = ["Component", "Inventory"]
