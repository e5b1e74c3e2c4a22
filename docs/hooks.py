"""MkDocs hooks.

- README.md is the site's home page. Links into docs/ (``](docs/x.md)``, right on GitHub) become
  links inside the site (``](x.md)``); the README has one source, no copy.
- The navigation lists pages that other branches bring: a listed page that does not exist is left
  out, and a page that is not listed is added under "More", so the site builds (strictly) at every
  merge and no page is unreachable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    present = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md")} | {"index.md"}
    listed: set[str] = set()

    def keep(node: Any) -> Any:
        if isinstance(node, str):
            listed.add(node)
            return node if node in present else None
        if isinstance(node, dict):
            out = {k: keep(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v not in (None, [])} or None
        if isinstance(node, list):
            return [x for x in (keep(v) for v in node) if x is not None]
        return node

    nav = keep(config["nav"] or [])
    extra = sorted(present - listed)
    if extra:
        nav.append({"More": extra})
    config["nav"] = nav
    return config


def on_files(files: Files, config: Any) -> Files:
    readme = Path(config.config_file_path).parent / "README.md"
    text = re.sub(r"\]\(docs/", "](", readme.read_text(encoding="utf-8"))
    files.append(File.generated(config, "index.md", content=text))
    return files
