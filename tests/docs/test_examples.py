"""Every command-with-output example in README.md and docs/ runs, and prints what it shows.

The commands run in bash from a copy of ``examples/`` (the demo model's weights generated as
``make demo`` does), with ``scanner`` on PATH as this checkout, a fixed terminal width and no
colour; the steps of one block share one shell, the blocks of one page one directory, in order.
``make demo`` runs the Makefile's demo recipe with the environment the tests already run in
(the recipe's venv step is what `make test` has done).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.docs.examples import examples, mismatch

RC = "__scanner_docs_rc__="
EXIT = re.compile(r"^\[exit (\d+)\]$")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
ALL = [ex for page in PAGES for ex in examples(page, str(page.relative_to(REPO)))]


def test_the_parser_and_matcher() -> None:
    assert mismatch(["a", "...", "c"], "a\nb\nb\nc\n") is None
    assert mismatch(["a", "c"], "a\nb\nc\n") == "expected 'c', got 'b'"
    assert mismatch(["x ... z"], "x yyy z") is None
    assert mismatch(["a"], "a\nb") == "unexpected output after the last expected line: 'b'"
    assert mismatch(["a", "..."], "a\nb") is None
    assert EXIT.match("[exit 2]")
    assert len(ALL) >= 8, "the examples were not found"


def _workspace(root: Path) -> Path:
    shutil.copytree(REPO / "examples", root / "examples")
    shutil.copytree(REPO / "tests" / "verify" / "assets", root / "assets")  # real Sigstore bundles
    (root / "bin").mkdir()
    for name, target in (("scanner", f'"{sys.executable}" -m scanner'), ("python", f'"{sys.executable}"')):
        shim = root / "bin" / name
        shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        shim.chmod(0o755)
    subprocess.run([str(root / "bin" / "python"), "examples/make_model.py", "examples/model"], cwd=root, check=True)
    return root


def _env(root: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SCANNER_", "NO_COLOR", "FORCE_COLOR"))}
    if "SCANNER_CACHE_DIR" in os.environ:
        keep["SCANNER_CACHE_DIR"] = os.environ["SCANNER_CACHE_DIR"]
    return {
        **keep,
        "PATH": f"{root / 'bin'}{os.pathsep}{keep.get('PATH', '')}",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "120",
        "LINES": "40",
        "TERM": "dumb",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleaved as on a terminal
    }


def _command(command: str) -> str:
    if command.strip() == "make demo":  # the Makefile's recipe, with the venv these tests run in
        return "bash examples/demo.sh out"
    return command


PAGE_NAMES = sorted({ex.source for ex in ALL if ex.not_run is None})


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_examples_of_page(page: str, tmp_path: Path) -> None:
    """The blocks of one page, in order, in one directory; the steps of a block in one shell (so
    ``$?`` is the previous step's exit status)."""
    root = _workspace(tmp_path)
    for example in (ex for ex in ALL if ex.source == page and ex.not_run is None):
        marker = "__scanner_docs_step__"
        script = "__rc=0\n" + "".join(
            f"echo {marker}\n( exit $__rc )\n{_command(cmd)}\n__rc=$?\necho {RC}$__rc\n" for cmd, _ in example.steps
        )
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=root,
            env=_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        outputs = proc.stdout.split(marker + "\n")[1:]
        assert len(outputs) == len(example.steps), proc.stdout[-2000:]
        for (command, expected), actual in zip(example.steps, outputs, strict=True):
            actual, _, rc = actual.rpartition(RC)
            wanted = [e for e in expected if EXIT.match(e.strip())]
            for e in wanted:  # `[exit N]`: the exit status the page shows
                want = EXIT.match(e.strip()).group(1)  # type: ignore[union-attr]
                assert rc.strip() == want, f"{example.id}: `{command}` exited {rc.strip()}, the page says {want}"
            problem = mismatch([e for e in expected if e not in wanted], actual)
            assert problem is None, f"{example.id}: `{command}`: {problem}\n--- actual output ---\n{actual[-3000:]}"


def test_every_shown_command_is_an_example() -> None:
    """A block that shows a `$ command` is a console example (and so is run above), or is marked
    ``<!-- not-run: reason -->`` with a reason."""
    shown = {(ex.source, ex.line) for ex in ALL}
    for page in PAGES:
        fence: tuple[str, int] | None = None
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r"^```(\S*)", line)
            if m:
                fence = None if fence is not None else (m.group(1), number)
                continue
            if fence is not None and line.startswith("$ "):
                where = (str(page.relative_to(REPO)), fence[1])
                assert where in shown, f"{where[0]}:{number}: a shown command outside a console block"


def test_blocks_not_run_say_why() -> None:
    skipped = [ex for ex in ALL if ex.not_run is not None]
    for ex in skipped:
        assert len(ex.not_run or "") >= 10, f"{ex.id}: <!-- not-run: ... --> needs a reason"
    print("\n".join(f"not run: {ex.id}: {ex.not_run}" for ex in skipped))
