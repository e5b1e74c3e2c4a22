"""The gate's model check: every model file examined without loading it.

Settings (``GateContext.settings``):

- ``model_second_opinion`` (bool, default true): also run modelscan's engine and merge its issues.
- ``model_second_opinion_max_bytes`` (int, default 256 MiB): larger files are left to our own
  streaming analysis (modelscan reads whole pickles into memory).
- ``model_unknown_global_severity`` (default ``medium``): severity of a pickle import that is on
  neither the safe nor the denied list.
"""

from __future__ import annotations

from typing import Any

from scanner.check import Check, CheckResult, GateContext
from scanner.core import Artifact, ScanError, Severity


class ModelCheck(Check):
    name = "model"
    description = "Unsafe serialization in model files (pickle opcodes, archives, formats), modelscan second opinion"

    def applies_to(self, artifact: Artifact) -> bool:
        return artifact.kind.is_model

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.models.api import nothing_to_judge
        from scanner.models.dispatch import scan_path
        from scanner.models.second_opinion import DEFAULT_MAX_BYTES, run_modelscan

        settings: dict[str, Any] = dict(ctx.settings)
        unknown = settings.get("model_unknown_global_severity", "medium")
        try:
            settings["model_unknown_global_severity"] = Severity.parse(str(unknown))
        except ValueError as exc:
            raise ScanError(f"model_unknown_global_severity: {exc}") from None
        path = ctx.artifact.path
        if not path.exists() and not path.is_symlink():
            raise ScanError("no such file or directory", path)
        result = scan_path(path, settings)
        findings = result.findings
        summary = result.summary()
        complete = result.complete
        if result.judged == 0 and not findings:
            # an empty directory, text only, an unknown JSON: nothing was judged, which is not clean
            findings = [*findings, nothing_to_judge(str(path), len(result.files))]
            complete = False
        if settings.get("model_second_opinion", True):
            findings, opinion = run_modelscan(
                result.files, findings, int(settings.get("model_second_opinion_max_bytes", DEFAULT_MAX_BYTES))
            )
            summary["second_opinion"] = opinion.summary()
        return CheckResult(
            check=self.name,
            findings=findings,
            complete=complete,
            summary=summary,
            data=[{"path": f.path, "format": f.format, "verdict": f.verdict} for f in result.files],
            section=None,
        )
