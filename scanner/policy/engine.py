"""The policy engine: Rego modules + data + one input → Decision. Implemented with regopy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.core import Decision, Reason, ScanError

QUERY = "data.scanner.gate"


class PolicyEngine:
    """Loads every ``.rego`` file of a directory (tests excluded) and a data document."""

    def __init__(self, policy_dir: Path, data: dict[str, Any] | None = None):
        self.policy_dir = policy_dir
        self.modules = _read_modules(policy_dir)
        self.data = data or {}

    def evaluate(self, input_doc: dict[str, Any]) -> Decision:
        raw = self.query(input_doc, QUERY)
        if not isinstance(raw, dict) or "allow" not in raw:
            raise ScanError(f"{QUERY} did not produce an 'allow' value", self.policy_dir)
        deny = tuple(_reason(r) for r in raw.get("deny", []))
        warn = tuple(_reason(r) for r in raw.get("warn", []))
        # A deny always wins: a policy that says allow while naming a deny reason is not an allow.
        return Decision(allow=bool(raw["allow"]) and not deny, deny=deny, warn=warn)

    def query(self, input_doc: dict[str, Any], query: str) -> Any:
        from regopy import Interpreter

        rego = Interpreter()
        for name, text in self.modules:
            rego.add_module(name, text)
        rego.add_data(rego_safe(self.data))
        rego.set_input(rego_safe(input_doc))
        try:
            out = rego.query(query)
        except json.JSONDecodeError as exc:  # pragma: no cover - rego_safe prevents it
            raise ScanError(f"policy engine produced unreadable output: {exc}", self.policy_dir) from None
        if not out.ok():
            raise ScanError(f"policy evaluation failed: {str(out).strip()}", self.policy_dir)
        result = json.loads(str(out))
        exprs = result.get("expressions") if isinstance(result, dict) else None
        if not exprs:
            return None
        return exprs[0]


def rego_safe(value: Any) -> Any:
    """Pre-escape every string (keys too) as JSON string content.

    regopy 1.5.2 writes strings into its result without escaping them, so a quote, backslash or
    control character in a scanned name (a file, a package) would break or silently change the
    decision. Escaped on the way in, the raw output is valid JSON that decodes to the original.
    Policies therefore see ``\\`` for a backslash and ``\\"`` for a quote; rule ids, severities
    and purls never contain either.
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if isinstance(value, dict):
        return {rego_safe(k): rego_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rego_safe(v) for v in value]
    return value


def _read_modules(policy_dir: Path) -> list[tuple[str, str]]:
    if not policy_dir.is_dir():
        raise ScanError("policy directory not found", policy_dir)
    files = sorted(p for p in policy_dir.rglob("*.rego") if not p.name.endswith("_test.rego"))
    if not files:
        raise ScanError("no .rego policy files", policy_dir)
    return [(str(p), p.read_text(encoding="utf-8")) for p in files]


def _reason(entry: Any) -> Reason:
    if isinstance(entry, dict):
        return Reason(
            rule=str(entry.get("rule", "unnamed")),
            message=str(entry.get("message", "")),
            remediation=entry.get("remediation"),
        )
    return Reason(rule="unnamed", message=str(entry))
