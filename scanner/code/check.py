"""The gate's code check: every Python file the inventory names as code a model carries (a
``code-role`` on the component: chosen by content, never by the artifact's kind), analysed
statically (``scanner.code.analyze`` and bandit), never imported or executed.

Findings (``check`` = ``code``):

- ``CODE-PRESENT`` (info), one per code file: the model carries code a loader imports. The
  policy rule ``remote-code`` decides on it per stage, from the ``code`` section of the policy
  input (path, sha256, role of every code file), unless every digest is allow-listed.
- ``CODE-PROCESS``, ``CODE-DYNAMIC``, ``CODE-OBFUSCATED``, ``CODE-NETWORK``, ``CODE-FILE-WRITE``,
  ``CODE-CREDENTIALS``, ``CODE-ENV-READ``, ``CODE-IMPORT-TIME-CALL``: what the code does, with the
  line and the call (``scanner.code.analyze``); ``CODE-BANDIT-<test id>``: bandit's other issues.
- ``CODE-REMOTE-EXTERNAL`` (high): an ``auto_map`` entry names code in another repository,
  fetched at load time and never examined here. ``CODE-REMOTE-MISSING`` (high): the code a loader
  would import is not in the artifact.
- ``CODE-UNSCANNABLE`` (high, check incomplete): a code file that could not be read or parsed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from scanner.check import Check, CheckResult, GateContext
from scanner.core import Finding, ScanError, Severity
from scanner.inventory.components import Component

CHECK = "code"
MAX_SOURCE_BYTES = 4 << 20
_ROLE_TEXT = {
    "remote-code": "remote code (config.json auto_map: imported by trust_remote_code=True)",
    "tokenizer-code": "tokenizer code (tokenizer_config.json auto_map: imported by trust_remote_code=True)",
    "processor-code": "processor code (auto_map: imported by trust_remote_code=True)",
    "mlflow-code-path": "an MLflow code path (put on sys.path when the model loads)",
    "mlflow-model-code": "MLflow model code (models-from-code: run when the model loads)",
    "bundled-code": "Python code in the model directory",
}


class CodeCheck(Check):
    name = CHECK
    description = "Static analysis of the Python a model carries (remote code, MLflow code paths)"

    def run(self, ctx: GateContext) -> CheckResult:
        findings: list[Finding] = []
        files: list[dict[str, Any]] = []
        complete = True
        base = ctx.artifact.path if ctx.artifact.path.is_dir() else ctx.artifact.path.parent
        for comp in ctx.inventory.components:
            role = comp.properties.get("code-role")
            if role is None:
                continue
            location = comp.properties.get("code-location", "carried")
            shown = ctx.artifact.show(base / comp.name)
            entry = comp.properties.get("code-entry", "")
            doc: dict[str, Any] = {"path": comp.name, "role": role, "location": location, "sha256": None}
            files.append(doc)
            if location != "carried":
                findings.append(_not_carried(comp, location, role, entry))
                continue
            digest = comp.hashes.get("SHA-256")
            if digest is None:
                continue  # not read by the inventory (a link out of the tree): reported there
            doc["sha256"] = digest
            findings.append(_present(shown, role, digest, entry))
            found, ok = _analyse(base / comp.name, shown, digest, role)
            findings.extend(found)
            complete = complete and ok
        return CheckResult(
            check=self.name,
            findings=findings,
            data=files,
            section="code",
            complete=complete,
            summary={"files": len(files), "findings": len(findings)},
        )


def _analyse(path: Path, shown: str, digest: str, role: str) -> tuple[list[Finding], bool]:
    from scanner.code import bandit_pass
    from scanner.code.analyze import ParseError, analyze
    from scanner.safeio import read_bounded

    try:
        source = read_bounded(path, MAX_SOURCE_BYTES, what="Python file", follow=True)
    except ScanError as exc:
        return [_unscannable(shown, exc.message, role)], False
    actual = hashlib.sha256(source).hexdigest()
    if actual != digest:
        reason = f"changed while being scanned (inventory sha256 {digest}, now {actual})"
        return [_unscannable(shown, reason, role)], False
    try:
        issues = analyze(source)
    except ParseError as exc:
        return [_unscannable(shown, str(exc), role)], False
    findings = [
        Finding(
            id=i.rule,
            check=CHECK,
            severity=i.severity,
            subject=f"{shown}:{i.line}",
            message=f"{Path(shown).name} {i.message}",
            evidence={"file": shown, "line": i.line, "call": i.call, "at_import": i.at_import, "role": role},
            fix="remove the code from the model, or review it and allow-list its digest after review",
        )
        for i in issues
    ]
    lines = {i.line for i in issues if i.rule != "CODE-IMPORT-TIME-CALL"}
    try:
        extra = bandit_pass.run(source, shown)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [*findings, _unscannable(shown, f"bandit could not analyse it: {exc}", role)], False
    for b in extra:
        if b.line in lines:
            continue  # our own finding on that line says more
        findings.append(
            Finding(
                id=f"CODE-BANDIT-{b.test_id}",
                check=CHECK,
                severity=b.severity,
                subject=f"{shown}:{b.line}",
                message=f"{Path(shown).name} line {b.line}: {b.text} (bandit {b.test_id} {b.test})",
                evidence={"file": shown, "line": b.line, "call": b.test, "bandit": b.test_id, "role": role},
                fix="review the call; remove it from code a model carries",
            )
        )
    return findings, True


def _present(shown: str, role: str, digest: str, entry: str) -> Finding:
    return Finding(
        id="CODE-PRESENT",
        check=CHECK,
        severity=Severity.INFO,
        subject=shown,
        message=f"the model carries {_ROLE_TEXT.get(role, role)}" + (f": {entry}" if entry else ""),
        evidence={"file": shown, "role": role, "sha256": digest, "entry": entry},
        fix="review the code; allow-list its sha256 in the policy data (remote_code.allowed_sha256) once reviewed",
    )


def _not_carried(comp: Component, location: str, role: str, entry: str) -> Finding:
    if location == "external":
        return Finding(
            id="CODE-REMOTE-EXTERNAL",
            check=CHECK,
            severity=Severity.HIGH,
            subject=comp.name,
            message=f"{entry}: code from another repository is fetched and imported at load time; it is not in "
            "this artifact and was not examined",
            evidence={"entry": entry, "role": role, "repository": comp.external_references.get("vcs")},
            fix="copy the code into the model repository (and review it), or drop the auto_map entry",
        )
    return Finding(
        id="CODE-REMOTE-MISSING",
        check=CHECK,
        severity=Severity.HIGH,
        subject=comp.name,
        message=f"{entry}: names {comp.name}, which is not in the artifact: whatever a loader finds there "
        "was not examined",
        evidence={"entry": entry, "role": role, "file": comp.name},
        fix="add the file to the model (and review it), or remove the reference",
    )


def _unscannable(shown: str, reason: str, role: str) -> Finding:
    return Finding(
        id="CODE-UNSCANNABLE",
        check=CHECK,
        severity=Severity.HIGH,
        subject=shown,
        message=f"code file could not be analysed: {reason}",
        evidence={"file": shown, "reason": reason, "role": role},
        fix="make it valid Python 3 or remove it; code that was not examined is never treated as safe",
    )
