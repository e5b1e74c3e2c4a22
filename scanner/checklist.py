"""The registry of checks the gate runs, in order. Entries are ``module:Class`` so that
``scanner --help`` imports none of them."""

from __future__ import annotations

import importlib

from scanner.check import Check

CHECKS: tuple[str, ...] = (
    "scanner.inventory.check:SbomCheck",
    "scanner.inventory.ntia:NtiaCheck",
    "scanner.vulns.check:VulnCheck",
    "scanner.verify.check:SignatureCheck",
    "scanner.verify.check:ProvenanceCheck",
    "scanner.models.check:ModelCheck",
    "scanner.code.check:CodeCheck",
)


def load_checks(names: tuple[str, ...] = CHECKS) -> list[Check]:
    checks = []
    for spec in names:
        module_name, _, class_name = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        checks.append(cls())
    return checks
