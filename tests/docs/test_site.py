"""The documentation cannot drift: the command reference is the commands' own help, the site
builds with ``mkdocs build --strict`` (broken links, missing pages and anchors fail), every page is
in the navigation, and every `scanner` command shown anywhere names options that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_command_reference_is_generated_from_the_commands() -> None:
    """Rendered in a fresh process: click caches each command's help option, so a process that
    already built contexts of its own (this test session) could render it differently."""
    fresh = subprocess.run(
        [sys.executable, "-m", "scanner.cli.reference", "-"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    committed = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == fresh.stdout, (
        "docs/cli.md is stale: run `make docs` (python -m scanner.cli.reference docs/cli.md)"
    )


def test_every_page_is_in_the_navigation() -> None:
    """The nav as the hook makes it: every page present, nothing absent (pages other branches bring
    are listed in advance and left out until they exist; an unlisted page lands under "More")."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    assert spec and spec.loader
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    nav = hooks.on_config({"docs_dir": str(REPO / "docs"), "nav": config["nav"]})["nav"]

    def walk(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in walk(v)]
        if isinstance(node, list):
            return [p for v in node for p in walk(v)]
        return []

    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")} | {"index.md"}
    assert sorted(walk(nav)) == sorted(pages)
    assert "More" not in str(nav), "list the new page in mkdocs.yml's nav where it belongs"


@pytest.mark.slow
def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "make demo" in index and "make test" in index  # README is the home page
    assert (tmp_path / "site" / "cli" / "index.html").is_file()


def _invocations() -> list[tuple[str, list[str]]]:
    """Every `scanner ...` command line in a code block of the docs (up to a pipe or redirect)."""
    out = []
    for page in PAGES:
        in_fence = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                in_fence = not in_fence
                continue
            if not in_fence:
                continue
            code = re.sub(r"(^|\s)#.*$", "", line.removeprefix("$ "))  # not comments
            for m in re.finditer(r"(?:^\s*(?:-\s+)?|[;&|(]\s*|run:\s*)(scanner\s[^|;&>]*)", code):
                text = m.group(1).strip().rstrip("\\").strip()
                try:
                    words = shlex.split(text)
                except ValueError:
                    continue
                if len(words) > 1 and words[0] == "scanner" and not words[1].startswith("<"):
                    out.append((f"{page.relative_to(REPO)}:{number}", words[1:]))
    return out


def test_documented_commands_use_options_that_exist() -> None:
    from scanner.cli import cli

    ctx = click.Context(cli, info_name="scanner")
    found = _invocations()
    assert len(found) > 20
    for where, words in found:
        cmd: click.Command = cli
        params = _params(cli)
        skip = False
        for word in words:
            if skip:
                skip = False
                continue
            if isinstance(cmd, click.Group) and not word.startswith("-"):
                sub = cmd.get_command(ctx, word)
                if sub is None:
                    if cmd is cli:
                        pytest.fail(f"{where}: no command `scanner {word}`")
                    break
                cmd = sub
                params = {**params, **_params(cmd)}
                continue
            if word.startswith("--") or (word.startswith("-") and len(word) == 2):
                name = word.split("=", 1)[0]
                if name == "-o" and "-o" not in params:
                    break  # the documented `-o json` mistake and its hint
                assert name in params, f"{where}: `{' '.join(['scanner', *words])}`: no option {name}"
                option = params[name]
                skip = "=" not in word and not option.is_flag and not option.count


def _params(cmd: click.Command) -> dict[str, click.Option]:
    return {o: p for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
