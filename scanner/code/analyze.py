"""Our own AST pass over one Python file a model carries (parsed, never imported or executed).

Names are resolved through the file's imports (``import subprocess as sp``, ``from os import
system``), ``__import__('os')`` / ``importlib.import_module('os')`` with a constant argument,
``getattr(os, 'system')`` with a constant name, and ``builtins`` / ``__builtins__``. What runs
at import time is tracked: module-level code, class bodies, decorator expressions, default
values, and the body of every function of the file that import-time code calls (transitively).
Code under ``if __name__ == "__main__":`` is not run by an import.

Each call is sorted into one category (``patterns.CATEGORIES``); its severity is the category's,
raised when it runs at import time (the class bodies and constructors of the file's own classes
instantiated at import included). A file that cannot be parsed is reported, never passed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from scanner.code import patterns
from scanner.core import Severity

MAX_ISSUES = 100


@dataclass(frozen=True)
class CodeIssue:
    rule: str
    severity: Severity
    line: int
    call: str
    at_import: bool
    message: str


class ParseError(Exception):
    """The file is not Python this reader can parse: it was not examined."""


def analyze(source: bytes) -> list[CodeIssue]:
    """Issues in one file, ordered by line. Raises ``ParseError`` when it cannot be parsed."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise ParseError(f"not parseable as Python: {exc}") from None
    except (RecursionError, MemoryError) as exc:
        raise ParseError(f"nested too deeply to parse ({type(exc).__name__})") from None
    try:
        return _Pass(tree).run()
    except RecursionError:
        raise ParseError("nested too deeply to analyse (RecursionError)") from None


class _Pass:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.aliases: dict[str, str] = {}
        self.functions: dict[str, list[ast.AST]] = {}
        self.classes: dict[str, list[ast.ClassDef]] = {}
        self.issues: dict[tuple[str, int, str], CodeIssue] = {}

    def run(self) -> list[CodeIssue]:
        self._collect(self.tree)
        import_time = self._import_time_functions()
        self._visit(self.tree.body, at_import=True)
        for defs in self.functions.values():
            for fn in defs:
                assert isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
                self._visit(fn.body, at_import=id(fn) in import_time)
        # lambdas and nested functions are visited inside their enclosing bodies (deferred code)
        # a line with a finding of what it does needs no "runs at import time" finding besides
        busy = {i.line for i in self.issues.values() if i.rule != "CODE-IMPORT-TIME-CALL"}
        issues = [i for i in self.issues.values() if i.rule != "CODE-IMPORT-TIME-CALL" or i.line not in busy]
        return sorted(issues, key=lambda i: (i.line, i.rule, i.call))[:MAX_ISSUES]

    # -- what is where --

    def _collect(self, tree: ast.Module) -> None:
        """Imports anywhere (aliases are file-wide: a simplification that only adds findings) and
        the file's functions by name (module level and methods)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    if a.name != "*":
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ClassDef):
                self.classes.setdefault(node.name, []).append(node)

    def _targets(self, name: str) -> list[ast.AST]:
        """The file's code a reference to ``name`` runs: its functions of that name, or the
        constructors of its classes of that name."""
        out: list[ast.AST] = list(self.functions.get(name, []))
        for cls in self.classes.get(name, []):
            out.extend(
                n
                for n in cls.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and n.name in ("__init__", "__new__", "__post_init__", "__call__")
            )
        return out

    def _import_time_functions(self) -> set[int]:
        """The file's functions (by node id) that import-time code calls, instantiates (class
        constructors) or applies as decorators, closed over the calls between them."""
        found: dict[int, ast.AST] = {}
        for node in self._import_time_nodes():
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                # calls, decorators, callbacks registered at import (atexit.register(f))
                found.update((id(t), t) for t in self._targets(node.id))
        todo = list(found.values())
        while todo:
            for node in ast.walk(todo.pop()):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    for t in self._targets(node.func.id):
                        if id(t) not in found:
                            found[id(t)] = t
                            todo.append(t)
        return set(found)

    def _import_time_nodes(self) -> list[ast.AST]:
        out: list[ast.AST] = []
        stack: list[ast.AST] = list(self.tree.body)
        while stack:
            node = stack.pop()
            if _is_main_guard(node):
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.extend(node.decorator_list)
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
                continue
            if isinstance(node, ast.Lambda):
                continue
            out.append(node)
            stack.extend(ast.iter_child_nodes(node))
        return out

    # -- visiting --

    def _visit(self, body: list[ast.stmt], at_import: bool) -> None:
        stack: list[tuple[ast.AST, bool]] = [(n, at_import) for n in body]
        while stack:
            node, now = stack.pop()
            if _is_main_guard(node):
                now = False
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # the decorators and defaults run where the def is; the body later (visited as a function)
                stack.extend((d, now) for d in node.decorator_list)
                stack.extend((d, now) for d in node.args.defaults)
                stack.extend((d, now) for d in node.args.kw_defaults if d is not None)
                if now and node.decorator_list:
                    for d in node.decorator_list:
                        self._import_time_call(d, "decorator")
                continue
            if isinstance(node, ast.Lambda):
                stack.append((node.body, False))
                continue
            if isinstance(node, ast.Call):
                self._call(node, now)
            elif isinstance(node, ast.Attribute | ast.Subscript | ast.Name):
                self._reference(node, now)
            stack.extend((child, now) for child in ast.iter_child_nodes(node))

    def _call(self, node: ast.Call, at_import: bool) -> None:
        name = self.resolve(node.func)
        label = name or _describe(node.func)
        rule = self._categorise(node, name)
        if rule == "CODE-ENV-READ" and self._secret_env(node):
            rule = "CODE-CREDENTIALS"
        if rule is None and self._reads_secret_path(node):
            rule = "CODE-CREDENTIALS"
        if rule is not None:
            self._add(rule, node, label, at_import)
        elif at_import:
            self._import_time_call(node, "call")

    def _import_time_call(self, node: ast.AST, what: str) -> None:
        func = node.func if isinstance(node, ast.Call) else node
        name = self.resolve(func)
        if name is None:
            label = _describe(func)
            if isinstance(func, ast.Name) and func.id in self.classes:
                return  # an instance of the file's own class: its constructor is analysed as import time
            if isinstance(func, ast.Name) and func.id in self.functions:
                self._add("CODE-IMPORT-TIME-CALL", node, label, True, f"{what} of the file's own function")
            else:  # a name from a star import, an attribute of a local object, a call's result ...
                self._add("CODE-IMPORT-TIME-CALL", node, label, True, what)
            return
        top = name.split(".")[0]
        if top == "builtins" and name.split(".", 1)[1] in patterns.BENIGN_BUILTINS:
            return
        if top in patterns.BENIGN_MODULES:
            return
        if self._categorise_name(name) is None:
            self._add("CODE-IMPORT-TIME-CALL", node, name, True, what)

    def _reference(self, node: ast.AST, at_import: bool) -> None:
        """``os.environ[...]`` and ``os.environ`` passed around (not called)."""
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            if base in ("os.environ", "os.environb", "posix.environ"):
                key = node.slice
                named = isinstance(key, ast.Constant) and isinstance(key.value, str)
                secret = named and bool(patterns.SECRET_NAME.search(str(getattr(key, "value", ""))))
                self._add("CODE-CREDENTIALS" if secret else "CODE-ENV-READ", node, "os.environ[...]", at_import)

    def _categorise(self, node: ast.Call, name: str | None) -> str | None:
        if name is not None:
            args = [*node.args, *(k.value for k in node.keywords)]
            if name in patterns.RUNNERS and any(self._decodes(arg) for arg in args):
                return "CODE-OBFUSCATED"
            if name in ("builtins.getattr",) and len(node.args) >= 2:
                target = self.resolve(node.args[0])
                risky = target is not None and target.split(".")[0] in ("os", "subprocess", "builtins", "socket")
                if risky and not isinstance(node.args[1], ast.Constant):
                    return "CODE-DYNAMIC"
                return None
            if name == "builtins.open":
                return "CODE-FILE-WRITE" if _writes(node) else None
            copies_env = name == "builtins.dict" and bool(node.args) and self.resolve(node.args[0]) == "os.environ"
            if name in patterns.ENV_DUMP or copies_env:
                return "CODE-CREDENTIALS"
            found = self._categorise_name(name)
            if found is not None:
                return found
        if isinstance(node.func, ast.Attribute):
            if node.func.attr in patterns.FILE_WRITE_METHODS:
                return "CODE-FILE-WRITE"
            if node.func.attr == "open" and _writes(node, mode_arg=0):
                return "CODE-FILE-WRITE"
        return None

    @staticmethod
    def _categorise_name(name: str) -> str | None:
        if name.startswith(patterns.ENV_DUMP):
            return "CODE-CREDENTIALS"
        for rule, prefixes in (
            ("CODE-PROCESS", patterns.PROCESS),
            ("CODE-DYNAMIC", patterns.DYNAMIC),
            ("CODE-NETWORK", patterns.NETWORK),
            ("CODE-FILE-WRITE", patterns.FILE_WRITE),
            ("CODE-ENV-READ", patterns.ENV),
        ):
            if name.startswith(prefixes):
                return rule
        return None

    def _decodes(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = self.resolve(sub.func) or ""
                if name.startswith(patterns.DECODERS):
                    return True
                method = sub.func.attr if isinstance(sub.func, ast.Attribute) else None
                if method in ("decode", "fromhex") and self._decodes_inner(sub):
                    return True
        return False

    def _decodes_inner(self, call: ast.Call) -> bool:
        base = call.func.value if isinstance(call.func, ast.Attribute) else None
        return base is not None and any(
            isinstance(s, ast.Call) and (self.resolve(s.func) or "").startswith(patterns.DECODERS)
            for s in ast.walk(base)
        )

    def _secret_env(self, node: ast.Call) -> bool:
        return any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and bool(patterns.SECRET_NAME.search(a.value))
            for a in node.args[:1]
        )

    @staticmethod
    def _reads_secret_path(node: ast.Call) -> bool:
        return any(
            isinstance(s, ast.Constant) and isinstance(s.value, str) and bool(patterns.SECRET_PATH.search(s.value))
            for arg in node.args
            for s in ast.walk(arg)
        )

    def _add(self, rule: str, node: ast.AST, call: str, at_import: bool, what: str | None = None) -> None:
        anywhere, on_import, does = patterns.CATEGORIES[rule]
        severity = on_import if at_import else anywhere
        when = " at import time" if at_import else ""
        line = getattr(node, "lineno", 0)
        message = f"line {line}: {call}{when}: {what or does}"
        key = (rule, line, call)
        old = self.issues.get(key)
        if old is None or severity > old.severity:
            self.issues[key] = CodeIssue(rule, severity, line, call, at_import, message)

    # -- names --

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to, through the file's imports; None when unknown."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in ("__builtins__", "builtins"):
                return "builtins"
            if node.id in patterns.BUILTINS and node.id not in self.functions:
                return f"builtins.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.resolve(node.func)
            first = node.args[0] if node.args else None
            if func in ("builtins.__import__", "importlib.import_module") and isinstance(first, ast.Constant):
                return str(first.value) if isinstance(first.value, str) else None
            if func == "builtins.getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                base = self.resolve(node.args[0])
                return f"{base}.{node.args[1].value}" if base and isinstance(node.args[1].value, str) else None
            if func in ("builtins.globals", "builtins.vars", "builtins.locals"):
                return "builtins"
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            base = self.resolve(node.value)
            if base == "builtins" and isinstance(node.slice.value, str):
                return "builtins" if node.slice.value == "__builtins__" else f"builtins.{node.slice.value}"
        return None


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _writes(node: ast.Call, mode_arg: int = 1) -> bool:
    mode: ast.AST | None = node.args[mode_arg] if len(node.args) > mode_arg else None
    for k in node.keywords:
        if k.arg == "mode":
            mode = k.value
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True  # a mode computed at run time: may write


def _describe(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        text = type(node).__name__
    return text if len(text) <= 80 else text[:77] + "..."
