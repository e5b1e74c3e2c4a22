"""The gate's inventory check: the problems met while building the SBOM, as findings."""

from __future__ import annotations

from scanner.check import Check, CheckResult, GateContext


class SbomCheck(Check):
    name = "sbom"
    description = "inventory problems: unparseable or unpinned dependencies"

    def run(self, ctx: GateContext) -> CheckResult:
        return CheckResult(check=self.name, findings=list(ctx.inventory.findings), summary=ctx.inventory.summary())
