"""The gate's vulnerability check: the inventory's PyPI components against the local database.

Settings (``ctx.settings``): ``db`` (path; default: the user cache database built from the
bundled snapshot), ``max_db_age`` (days; an older database stops the gate with exit 2).
"""

from __future__ import annotations

from pathlib import Path

from scanner.check import Check, CheckResult, GateContext
from scanner.core import Artifact


class VulnCheck(Check):
    name = "vulns"
    description = "Known vulnerabilities of PyPI dependencies (local OSV database, offline)."

    def applies_to(self, artifact: Artifact) -> bool:
        return True  # a model's runtime dependencies (MLflow env, requirements.txt) are audited too

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner import ui
        from scanner.vulns.audit import audit, check_age, check_result, describe
        from scanner.vulns.db import Database
        from scanner.vulns.deps import from_inventory
        from scanner.vulns.snapshot import resolve_db

        deps = from_inventory(ctx.inventory)
        if ctx.artifact.kind.is_model and not deps:
            return CheckResult(check=self.name, summary={"dependencies": 0})  # weights only: nothing to audit
        db_setting = ctx.settings.get("db")
        max_age = ctx.settings.get("max_db_age")
        with Database(resolve_db(Path(db_setting) if db_setting else None)) as db:
            check_age(db.info, int(max_age) if max_age is not None else None)
            ui.info(describe(db.info))
            result = audit(deps, db)
            return check_result(result, db.info)
