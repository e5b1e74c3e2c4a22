"""Report writers: one module per format, each rendering the same evidence record."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

# format name → module exposing ``render(record: dict) -> str`` (and, for the formats that carry
# the whole inventory, ``chunks(record) -> Iterator[str]``: the same text in pieces)
FORMATS: dict[str, str] = {
    "table": "scanner.report.table",
    "json": "scanner.report.json_format",
    "cyclonedx-json": "scanner.report.cyclonedx_json",
    "markdown": "scanner.report.markdown",
    "html": "scanner.report.html",
    "sarif": "scanner.report.sarif",
    "junit": "scanner.report.junit",
}
# What a record without an SBOM (``scan``, ``audit``) can be rendered as: cyclonedx-json is the
# gate's and sbom's.
RECORD_FORMATS: list[str] = [f for f in FORMATS if f != "cyclonedx-json"]


def renderer(fmt: str) -> Callable[..., str]:
    module = importlib.import_module(FORMATS[fmt])
    render: Callable[..., str] = module.render
    return render


def render(fmt: str, record: dict[str, Any], **options: Any) -> str:
    return renderer(fmt)(record, **options)


def render_chunks(fmt: str, record: dict[str, Any], **options: Any) -> Iterator[str]:
    """The rendered text in pieces (one piece for formats that are small)."""
    module = importlib.import_module(FORMATS[fmt])
    chunks = getattr(module, "chunks", None)
    if chunks is not None:
        yield from chunks(record, **options)
    else:
        yield module.render(record, **options)
