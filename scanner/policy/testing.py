"""Rego unit tests: every ``test_*`` rule of the ``*_test.rego`` files in a policy directory,
evaluated with regopy against the policies and their data. A test passes when its rule is true."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.core import ScanError
from scanner.policy import rego
from scanner.policy.engine import _STRIP, Module, compile_modules, read_modules

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.M)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)
# regopy 1.5.2 crashes the whole process on `with input as <value>` (`with input.key as` works)
_WITH_INPUT = re.compile(r"\bwith\s+input\s+as\b")


@dataclass(frozen=True)
class TestResult:
    name: str  # package.rule
    location: str  # file:line
    passed: bool
    detail: str = ""


def discover(modules: list[Module]) -> list[tuple[str, str, str]]:
    """(package, rule, file:line) of each test rule, in file order, each name once."""
    found: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for m in modules:
        if not m.path.name.endswith("_test.rego"):
            continue
        pkg = _PACKAGE.search(m.text)
        if not pkg:
            continue
        for rule in _TEST_RULE.finditer(m.text):
            key = (pkg.group(1), rule.group(1))
            if key not in seen:
                seen.add(key)
                line = m.text.count("\n", 0, rule.start()) + 1
                found.append((pkg.group(1), rule.group(1), f"{m.path}:{line}"))
    return found


def refuse_crashing_constructs(modules: list[Module]) -> None:
    for m in modules:
        # comments and strings blanked (same length, so offsets stay true)
        code = _STRIP.sub(
            lambda x: " " * len(x.group(0)) if not x.group(1) else '"' + " " * (len(x.group(0)) - 2) + '"', m.text
        )
        hit = _WITH_INPUT.search(code)
        if hit:
            line = code.count("\n", 0, hit.start()) + 1
            col = hit.start() - (code.rfind("\n", 0, hit.start()) + 1) + 1
            raise ScanError(
                "`with input as …` crashes regopy 1.5.2; replace the whole input key by key "
                "(`with input.findings_index as …`)",
                f"{m.path}:{line}:{col}",
            )


def run_tests(policy_dir: Path, data: dict[str, Any]) -> list[TestResult]:
    modules = read_modules(policy_dir, include_tests=True)
    refuse_crashing_constructs(modules)
    tests = discover(modules)
    if not tests:
        raise ScanError("no test_ rules in any *_test.rego file", policy_dir)
    interpreter = compile_modules(modules, data)
    entrypoints = [f"{pkg.replace('.', '/')}/{rule}" for pkg, rule, _ in tests]
    bundle = rego.build(interpreter, modules, policy_dir, query=None, entrypoints=entrypoints)
    results = []
    for (pkg, rule, where), entry in zip(tests, entrypoints, strict=True):
        try:
            value = rego.query_entrypoint(interpreter, bundle, entry, Path(where))
        except ScanError as exc:
            results.append(TestResult(f"{pkg}.{rule}", where, False, exc.message))
            continue
        exprs = value.get("expressions") if isinstance(value, dict) else None
        passed = bool(exprs) and exprs is not None and exprs[0] is True
        detail = "" if passed or not exprs else f"value {exprs[0]!r}"
        detail = detail or ("" if passed else "undefined")
        results.append(TestResult(f"{pkg}.{rule}", where, passed, detail))
    return results
