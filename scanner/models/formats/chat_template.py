"""Hugging Face ``tokenizer_config.json``: its ``chat_template`` is Jinja2 that inference servers
render, the same server-side template injection as a GGUF chat template, judged the same way
(from the syntax tree, never rendered)."""

from __future__ import annotations

from typing import Any, BinaryIO

from scanner import jsonfile
from scanner.core import Finding
from scanner.models.api import FormatContext, unscannable
from scanner.models.formats.gguf import template_findings

INJECTION = "MODEL-CHAT-TEMPLATE-INJECTION"
UNPARSABLE = "MODEL-CHAT-TEMPLATE-UNPARSABLE"


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": "tokenizer-config"}
    if "!" in subject:
        extra["member"] = subject.split("!", 1)[1]
    if size > ctx.limits.max_header_bytes:
        return [unscannable(subject, f"tokenizer config larger than {ctx.limits.max_header_bytes} bytes", **extra)]
    data.seek(0)
    try:
        doc = jsonfile.loads(data.read(size))
    except (ValueError, RecursionError) as exc:
        return [unscannable(subject, f"chat template JSON does not parse: {exc}", **extra)]
    return template_findings(templates(doc), subject, INJECTION, UNPARSABLE, extra)


def templates(doc: Any) -> list[tuple[str, str]]:
    """``chat_template`` is a string, or a list of ``{"name", "template"}`` (named variants)."""
    value = doc.get("chat_template") if isinstance(doc, dict) else None
    if isinstance(value, str):
        return [("chat_template", value)]
    if isinstance(value, list):
        return [
            (f"chat_template.{item.get('name', i)}", item["template"])
            for i, item in enumerate(value)
            if isinstance(item, dict) and isinstance(item.get("template"), str)
        ]
    return []
