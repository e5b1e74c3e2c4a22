"""A caller that judges many artifacts (a batch worker) hands the vulnerability check one open
database; the check uses that connection, leaves it open, and finds the same advisories."""

from __future__ import annotations

from pathlib import Path

from scanner import pipeline
from scanner.options import GateOptions, VulnOptions
from scanner.vulns.db import Database


def _known(outcome: pipeline.Outcome) -> set[str]:
    return {f.evidence["vuln_id"] for r in outcome.results for f in r.findings if f.id == "VULN-KNOWN"}


def test_the_open_database_serves_every_artifact_and_stays_open(snapshot_db: Path, tmp_path: Path) -> None:
    apps = []
    for i in range(2):
        app = tmp_path / f"app{i}"
        app.mkdir()
        (app / "requirements.txt").write_text("jinja2==2.11.2\n")
        apps.append(app)
    missing = tmp_path / "no-such.sqlite"  # were the path used, the audit could not run
    with Database(snapshot_db) as db:
        options = GateOptions(vulns=VulnOptions(db=missing, opened=db))
        for app in apps:
            outcome = pipeline.run(str(app), pipeline.AUDIT, options)
            assert "PYSEC-2021-66" in _known(outcome)
        assert db.vulnerabilities("jinja2")  # still open: the check did not close it
    assert options == GateOptions(vulns=VulnOptions(db=missing))  # the connection is not part of the options' identity
