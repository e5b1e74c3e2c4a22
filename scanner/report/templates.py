"""The Jinja2 environment for report templates (shipped in ``reports/templates``)."""

from __future__ import annotations

from typing import Any


def environment(autoescape: bool = True) -> Any:
    import jinja2

    from scanner.report.markdown import md_escape
    from scanner.resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env
