"""The vulnerability check: the inventory's PyPI components (nested ones included) against the
local database. It reads only the Inventory, so every command audits the same components.

Options: ``GateContext.options.vulns`` (``scanner.options.VulnOptions``).
"""

from __future__ import annotations

import contextlib

from scanner.check import Check, CheckResult, GateContext


class VulnCheck(Check):
    name = "vulns"
    description = "Known vulnerabilities of PyPI dependencies (local OSV database, offline)."

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner import ui
        from scanner.vulns.audit import audit, check_age, check_result, describe
        from scanner.vulns.db import Database
        from scanner.vulns.dependency import from_inventory
        from scanner.vulns.snapshot import resolve_db

        options = ctx.options.vulns
        now = ctx.options.now
        with contextlib.nullcontext(options.opened) if options.opened else Database(resolve_db(options.db)) as db:
            check_age(db.info, options.max_db_age, now)
            ui.info(describe(db.info, now))
            result = audit(from_inventory(ctx.inventory), db)
            # nothing to audit is a finding where dependencies are what the artifact is (a
            # requirements file, a lock, an environment, an SBOM, an application), not for a model
            expects = not ctx.artifact.kind.is_model
            return check_result(
                result, db.info, now, ctx.artifact.show(ctx.artifact.path) if expects else None, expects=expects
            )
