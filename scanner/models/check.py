"""The model check: every file of every artifact is sniffed by content, and each one a model
format recognises is examined without loading it. It runs on every artifact, whatever its kind
(a pickle inside a virtualenv or named ``requirements.txt`` is still a pickle).

Options: ``GateContext.options.model`` (``scanner.options.ModelOptions``).
"""

from __future__ import annotations

from typing import Any

from scanner.check import Check, CheckResult, GateContext
from scanner.core import ScanError
from scanner.files import FileSet
from scanner.options import GateOptions


class ModelCheck(Check):
    name = "model"
    description = "Unsafe serialization in model files (pickle opcodes, archives, formats), modelscan second opinion"

    def examine(self, files: FileSet, options: GateOptions) -> Any:
        """The dispatcher over the run's files: sniffing and the format scanners read each file
        through the descriptor it was hashed from."""
        from scanner.models.dispatch import scan_path

        return scan_path(files.root, options.model.scan_settings(), files=files)

    def run(self, ctx: GateContext) -> CheckResult:
        from scanner.models.api import nothing_to_judge
        from scanner.models.second_opinion import run_modelscan

        options = ctx.options.model
        path = ctx.artifact.path
        result = ctx.examined.get(self.name)
        if result is None:
            if not path.exists() and not path.is_symlink():
                raise ScanError("no such file or directory", path)
            result = self.examine(ctx.files or FileSet(path), ctx.options)
        findings = result.findings
        summary = result.summary()
        complete = result.complete
        # a model that is code (MLflow models-from-code, a tokenizer with remote code) is judged by
        # the code check: the code files the inventory marks are what a loader would run
        carries_code = any(
            "code-role" in c.properties and c.properties.get("code-location", "carried") == "carried"
            for c in ctx.inventory.components
        )
        if result.judged == 0 and not findings and ctx.artifact.kind.is_model and not carries_code:
            # an empty directory, text only, an unknown JSON presented as a model: nothing was
            # judged, which is not clean (the kind only adds this finding, it never removes one)
            findings = [*findings, nothing_to_judge(ctx.artifact.show(path), len(result.files))]
            complete = False
        if options.second_opinion:
            findings, opinion = run_modelscan(result.files, findings, options.second_opinion_max_bytes)
            summary["second_opinion"] = opinion.summary()
        return CheckResult(
            check=self.name,
            findings=findings,
            complete=complete,
            summary=summary,
            data=[{"path": f.path, "format": f.format, "verdict": f.verdict} for f in result.files],
            section=None,
        )
