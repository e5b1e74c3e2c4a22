"""PyCQA bandit over the bytes of one file, as a library (its checks walk the AST; nothing is
imported or executed). Set up once per process, lazily: bandit's plugin loading costs about
0.4 s, paid only when a model carries code.

``# nosec`` comments are ignored (the artifact never excuses itself). Tests our own pass covers
better, and tests about code style rather than what the code does, are left out (``SKIPPED``).
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from typing import Any

from scanner.core import Severity

# assert, hard-coded password strings, try/except/pass, random, requests timeout, imports of
# modules (the calls are what matter and are judged), and tests our AST pass reports itself.
SKIPPED = frozenset(
    {
        "B101",
        "B105",
        "B106",
        "B107",
        "B110",
        "B112",
        "B113",
        "B311",
        "B102",  # exec: CODE-DYNAMIC
        "B307",  # eval: CODE-DYNAMIC
        "B605",  # shell: CODE-PROCESS
        "B606",
        "B607",
        "B602",
        "B603",
        "B604",
        "B609",
        "B310",  # urlopen: CODE-NETWORK
        "B302",  # marshal: CODE-DYNAMIC
    }
)
_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}


@dataclass(frozen=True)
class BanditIssue:
    test_id: str
    test: str
    severity: Severity
    confidence: str
    line: int
    text: str


@functools.lru_cache(maxsize=1)
def _manager() -> Any:
    import warnings

    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():  # stevedore's deprecation notes while bandit loads its plugins
        warnings.simplefilter("ignore")
        from bandit.core import config as b_config
        from bandit.core import manager as b_manager

        return b_manager.BanditManager(b_config.BanditConfig(), "file", ignore_nosec=True, quiet=True)


def run(source: bytes, name: str) -> list[BanditIssue]:
    """Bandit's issues for ``source`` (already parsed by our pass, so it is valid Python)."""
    mgr = _manager()  # first: it imports bandit's plugin loader with warnings silenced
    from bandit.core import node_visitor

    visitor = node_visitor.BanditNodeVisitor(name, io.BytesIO(source), mgr.b_ma, mgr.b_ts, False, {}, mgr.metrics)
    visitor.process(source)
    out = []
    for issue in visitor.tester.results:
        if issue.test_id in SKIPPED or issue.test_id.startswith("B4"):  # B4xx: imports (the calls are judged)
            continue
        out.append(
            BanditIssue(
                test_id=issue.test_id,
                test=issue.test,
                severity=_SEVERITY.get(str(issue.severity), Severity.MEDIUM),
                confidence=str(issue.confidence),
                line=int(issue.lineno or 0),
                text=str(issue.text),
            )
        )
    return out
