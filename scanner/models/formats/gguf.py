"""GGUF (llama.cpp): header sanity and chat templates judged from their Jinja2 syntax tree.

The bounded header reader is ``scanner.formats.gguf`` (shared with the inventory); this module
turns what it finds into findings.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.formats.gguf import (  # noqa: F401  (re-exported: the reader's names, as before)
    FILE_TYPES,
    FORMAT,
    GGML_TYPES,
    MAX_TEMPLATE,
    Header,
    Malformed,
    parse,
    read_header_facts,
)
from scanner.models.api import FormatContext, finding, unscannable

MALFORMED = "MODEL-GGUF-MALFORMED"
INJECTION = "MODEL-GGUF-TEMPLATE-INJECTION"
UNPARSABLE = "MODEL-GGUF-TEMPLATE-UNPARSABLE"


# --- chat templates -------------------------------------------------------------------------

# Attributes (or constant item keys) that lead from a template to Python internals.
DANGEROUS_ATTRS = frozenset(
    {
        "__class__",
        "__globals__",
        "__subclasses__",
        "__builtins__",
        "__mro__",
        "__base__",
        "__bases__",
        "__init__",
        "__import__",
        "__dict__",
        "__getattribute__",
        "__code__",
        "__func__",
        "__self__",
        "__module__",
        "__loader__",
        "__spec__",
        "__reduce__",
        "__reduce_ex__",
        "_TemplateReference__context",
        "func_globals",
        "f_globals",
        "f_back",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "tb_frame",
        "co_code",
        "os",
        "popen",
        "system",
        "subprocess",
        "eval",
        "exec",
        "import_module",
        "application",
        "environ",
    }
)
# Template globals whose attributes are the usual sandbox-escape stepping stones.
TRICK_GLOBALS = frozenset({"cycler", "joiner", "namespace", "lipsum", "range", "dict", "self", "request", "config"})


def _fold(node: Any) -> str | None:
    """Constant value of a string expression built from literals (``'__cla' ~ 'ss__'``,
    ``'_' * 2``, ``['__', 'class'] | join``) — evaluated here, never by Jinja."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, (nodes.Concat,)):
        parts = [_fold(n) for n in node.nodes]
        return "".join(p for p in parts if p is not None) if all(p is not None for p in parts) else None
    if isinstance(node, (nodes.Add,)):
        left, right = _fold(node.left), _fold(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, nodes.Mul):
        text = _fold(node.left)
        times = node.right.value if isinstance(node.right, nodes.Const) else None
        if text is not None and isinstance(times, int) and 0 <= times <= 64:
            return text * times
        return None
    if isinstance(node, nodes.Filter) and node.name == "join" and isinstance(node.node, (nodes.List, nodes.Tuple)):
        items = [_fold(n) for n in node.node.items]
        sep = _fold(node.args[0]) if node.args else ""
        if sep is not None and all(i is not None for i in items):
            return sep.join(i for i in items if i is not None)
    return None


def judge_template(text: str) -> tuple[list[str], str | None]:
    """Judge a Jinja2 chat template by its syntax tree (never rendered).

    Returns (reasons it reaches Python internals, parse error or None). Usable for any chat
    template, e.g. ``tokenizer_config.json``'s ``chat_template``.
    """
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(Extension):
        """``{% generation %}…{% endgeneration %}`` as transformers' AssistantTracker accepts it."""

        tags = {"generation"}  # noqa: RUF012 - jinja2's declared interface

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", _Generation]
    )
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as exc:
        return [], f"line {exc.lineno}: {exc.message}"
    except RecursionError:
        return [], "template nests too deeply to parse"
    except Exception as exc:  # jinja2's lexer can raise others on hostile input
        return [], f"{type(exc).__name__}: {exc}"

    reasons: list[str] = []

    def note(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    try:
        for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Const, nodes.Name)):
            if isinstance(node, nodes.Getattr):
                if node.attr in DANGEROUS_ATTRS or node.attr.startswith("__"):
                    note(f"attribute access .{node.attr}")
                elif isinstance(node.node, nodes.Name) and node.node.name in TRICK_GLOBALS:
                    note(f"attribute access {node.node.name}.{node.attr}")
                elif node.attr.startswith("_"):
                    note(f"private attribute access .{node.attr}")
            elif isinstance(node, nodes.Getitem):
                key = _fold(node.arg)
                if key is not None and (key in DANGEROUS_ATTRS or key.startswith("__")):
                    note(f"item access [{key!r}]")
                elif isinstance(node.node, nodes.Name) and node.node.name in TRICK_GLOBALS and key is not None:
                    note(f"item access {node.node.name}[{key!r}]")
            elif isinstance(node, nodes.Filter) and node.name == "attr":
                name = _fold(node.args[0]) if node.args else None
                if name is None:
                    note("attr filter with a computed attribute name")
                elif name in DANGEROUS_ATTRS or name.startswith("_"):
                    note(f"attr filter reaching {name!r}")
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                for word in ("__class__", "__globals__", "__subclasses__", "__builtins__", "__import__", "__mro__"):
                    if word in node.value:
                        note(f"string literal naming {word}")
            elif isinstance(node, nodes.Name) and node.name in ("__builtins__", "__import__", "__globals__"):
                note(f"name {node.name}")
        for node in tree.find_all((nodes.Concat, nodes.Add, nodes.Filter)):
            folded = _fold(node)
            if folded and any(w in folded for w in ("__class__", "__globals__", "__subclasses__", "__builtins__")):
                note(f"string assembled to {folded!r}")
    except RecursionError:
        return reasons, "template nests too deeply to analyse"
    return reasons, None


# --- entry points ---------------------------------------------------------------------------


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    member = _member(subject)
    if member is not None:
        extra["member"] = member
    max_string = min(MAX_TEMPLATE, ctx.limits.max_header_bytes)
    try:
        hdr = parse(data, size, max_string)
    except Malformed as exc:
        if exc.problem == "template-size":
            return [unscannable(subject, str(exc), **extra)]
        return [_malformed(subject, exc, extra)]
    except OSError as exc:
        return [unscannable(subject, f"read error: {exc}", **extra)]
    findings = [_malformed(subject, p, extra) for p in hdr.problems[:20]]
    findings += template_findings(hdr.templates, subject, INJECTION, UNPARSABLE, extra)
    return findings


def template_findings(
    templates: list[tuple[str, str]], subject: str, injection: str, unparsable: str, extra: dict[str, Any]
) -> list[Finding]:
    """Findings for chat templates (``(key, text)`` pairs) judged by ``judge_template``; shared by
    GGUF metadata and Hugging Face ``tokenizer_config.json`` (``chat_template``)."""
    findings: list[Finding] = []
    for key, text in templates:
        reasons, error = judge_template(text)
        if reasons:
            findings.append(
                finding(
                    injection,
                    Severity.CRITICAL,
                    subject,
                    f"chat template {key} reaches Python internals ({'; '.join(reasons[:3])}): rendering it "
                    "can run code on the host (server-side template injection)",
                    fix="replace the chat template with a known-good one before serving the model",
                    key=key,
                    reasons=reasons[:20],
                    **extra,
                )
            )
        if error:
            findings.append(
                finding(
                    unparsable,
                    Severity.HIGH,
                    subject,
                    f"chat template {key} is not valid Jinja2 ({error}) and could not be judged",
                    fix="replace the chat template with a known-good one",
                    key=key,
                    error=error,
                    **extra,
                )
            )
    return findings


def _malformed(subject: str, exc: Malformed, extra: dict[str, Any]) -> Finding:
    evidence: dict[str, Any] = {**extra, "problem": exc.problem}
    if exc.offset is not None:
        evidence["offset"] = exc.offset
    return finding(
        MALFORMED,
        Severity.HIGH,
        subject,
        f"malformed GGUF: {exc}; loaders that trust declared sizes can be driven out of bounds",
        fix="re-convert the model with llama.cpp's tools from a trusted source",
        **evidence,
    )
