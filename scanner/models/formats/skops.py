"""skops files: a zip whose ``schema.json`` describes the object tree ``skops.io.load`` builds.

The zip itself (its members, sizes, nested ``.npy`` arrays) is read by the bounded zip reader of
``scanner.models.containers``; this module reads only the schema member, which the dispatcher
routes here by content (a JSON object carrying ``__loader__`` and ``_skops_version``).

Every node names a type or function (``__module__`` + ``__class__``) that skops would import
and use when loading. They are judged exactly like the globals of a pickle, through
``scanner.models.globals_policy.judge_use``, by how the loader uses them: ``ObjectNode`` (and the
container nodes) reconstruct a class, ``ReduceNode``/``ConstructorFromReduceNode``/
``OperatorFuncNode`` call it with arguments from the file, ``FunctionNode`` / ``TypeNode`` /
``MethodNode`` / ``PartialNode`` only reference a callable (handed to the model, not called).

Findings: ``MODEL-SKOPS-TYPE`` (the judgement's severity: a denied name's whatever its use, an
unknown name's by use — called: the configured unknown-global severity; referenced or
reconstructed: low), ``MODEL-UNSCANNABLE`` for a schema that
cannot be read completely (too large, too deep, not JSON, a loader this reader does not know).
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.models.api import FormatContext, finding, unscannable

FORMAT = "skops"
RULE = "MODEL-SKOPS-TYPE"
MAX_NODES = 1_000_000
MAX_DEPTH = 500
MAX_FINDINGS = 50

# skops 0.x node loaders → what loading does with the named type.
LOADERS = {
    "ObjectNode": "instantiate",
    "ReduceNode": "call with arguments",
    "TreeNode": "call with arguments",
    "LossNode": "call with arguments",
    "QuantileForestNode": "call with arguments",
    "ConstructorFromReduceNode": "call with arguments",
    "FunctionNode": "import the function",
    "TypeNode": "import the type",
    "MethodNode": "bind a method of",
    "PartialNode": "build a partial of",
    "OperatorFuncNode": "build an operator function",
    "DictNode": "build",
    "DefaultDictNode": "build",
    "ListNode": "build",
    "SetNode": "build",
    "TupleNode": "build",
    "SliceNode": "build",
    "JsonNode": "build",
    "BytesNode": "build",
    "BytearrayNode": "build",
    "NdArrayNode": "build",
    "MaskedArrayNode": "build",
    "RandomStateNode": "build",
    "RandomGeneratorNode": "build",
    "DTypeNode": "build",
    "SparseMatrixNode": "build",
    "CachedNode": "reuse",
    "_DictWithDeprecatedKeysNode": "build",
    "ZoneInfoNode": "build",
}


def is_schema(head: bytes) -> bool:
    """Whether a JSON document's first bytes look like a skops schema."""
    return b'"__loader__"' in head and (b'"_skops_version"' in head or b'"__module__"' in head)


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    if size > ctx.limits.max_header_bytes:
        return [unscannable(subject, f"skops schema of {size} bytes exceeds the limit", **extra)]
    data.seek(0)
    raw = data.read(size)
    try:
        schema = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return [unscannable(subject, f"skops schema is not valid JSON: {str(exc)[:200]}", **extra)]
    if not isinstance(schema, dict):
        return [unscannable(subject, "skops schema is not a JSON object", **extra)]
    unknown = ctx.settings.get("model_unknown_global_severity", "medium")
    unknown_severity = unknown if isinstance(unknown, Severity) else Severity.parse(str(unknown))
    return _judge_tree(schema, subject, unknown_severity, extra)


def _judge_tree(
    schema: dict[str, Any], subject: str, unknown_severity: Severity, extra: dict[str, Any]
) -> list[Finding]:
    from scanner.models.globals_policy import Use, judge_use

    # name → (severity, why, how loaded, count): the worst use of a name decides
    uses = {"instantiate": Use.RECONSTRUCTED, "call with arguments": Use.CALLED, "build": Use.RECONSTRUCTED}
    hits: dict[str, tuple[Severity, str, str, int]] = {}
    problems: list[str] = []
    stack: list[tuple[Any, int]] = [(schema, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            reason = f"skops schema larger than {MAX_NODES} nodes or deeper than {MAX_DEPTH}"
            return [unscannable(subject, reason, **extra)]
        if isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
            continue
        if not isinstance(value, dict):
            continue
        stack.extend((v, depth + 1) for v in value.values())
        loader = value.get("__loader__")
        if loader is None:
            continue
        if not isinstance(loader, str) or loader not in LOADERS:
            problems.append(f"unknown skops loader {str(loader)[:80]!r}")
            continue
        module, cls = value.get("__module__"), value.get("__class__")
        if loader == "OperatorFuncNode":
            module = "operator"
        if not isinstance(module, str) or not isinstance(cls, str):
            if loader not in ("CachedNode",):
                problems.append(f"{loader} without a module and class name")
            continue
        names = [(module, cls)]
        reduce = value.get("__reduce__")
        if isinstance(reduce, dict) and isinstance(reduce.get("constructor"), list):
            ctor = reduce["constructor"]
            if len(ctor) == 2 and all(isinstance(c, str) for c in ctor):
                names.append((ctor[0], ctor[1]))
        how = LOADERS[loader]
        for mod, name in names:
            use = uses.get(how, Use.CALLED if loader == "OperatorFuncNode" else Use.REFERENCED)
            judged = judge_use(mod, name, use, unknown_severity=unknown_severity)
            if judged.rule is None:
                continue
            old = hits.get(judged.resolved)
            count = (old[3] if old else 0) + 1
            if old is None or judged.severity > old[0]:
                hits[judged.resolved] = (judged.severity, judged.why, how, count)
            else:
                hits[judged.resolved] = (*old[:3], count)
    findings = [
        finding(
            RULE,
            severity,
            subject,
            f"skops.io.load would {how} {name}: {why}",
            fix="load skops files only with an explicit trusted-type list; re-export the model with known types",
            type=name,
            loader_use=how,
            count=count,
            **extra,
        )
        for name, (severity, why, how, count) in sorted(hits.items(), key=lambda kv: (-kv[1][0].rank, kv[0]))
    ][:MAX_FINDINGS]
    if problems:
        findings.append(unscannable(subject, "; ".join(sorted(set(problems))[:5]), **extra))
    return findings
