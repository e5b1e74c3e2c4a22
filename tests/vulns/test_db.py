"""The database: imports from every dump shape, de-duplication, withdrawn records, severity,
hostile dumps, and the ``scanner db`` commands (update against a local HTTP server)."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.errors import ScanError
from scanner.vulns.db import Database, import_dump, open_info
from tests.vulns.conftest import record

CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"  # 5.3
CVSS_LOW = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"  # 3.1

RECORDS = [
    record("PYSEC-2024-1", "Demo_Pkg", events=[{"introduced": "0"}, {"fixed": "1.5"}], aliases=["CVE-2024-1"]),
    record("PYSEC-2024-2", "other", versions=["2.0"], modified="2024-05-06T07:08:09Z"),
    record("PYSEC-2024-3", "demo-pkg", events=[{"introduced": "0"}], withdrawn="2024-02-01T00:00:00Z"),
]


def _jsonl_gz(path: Path, records: list[dict[str, Any]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return path


def _zip_bytes(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in records:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return buf.getvalue()


def _check_imported(target: Path) -> None:
    info = open_info(target)
    assert info.records == 2  # the withdrawn one is kept aside
    assert info.meta["withdrawn"] == "1"
    assert info.meta["input_records"] == "3"
    assert info.snapshot_date == "2024-05-06T07:08:09Z"  # newest `modified`
    with Database(target) as db:
        found = {n: db.vulnerabilities(n) for n in ("DEMO.pkg", "other")}
    assert [v.id for v in found["DEMO.pkg"]] == ["PYSEC-2024-1"]  # withdrawn never returned
    assert [v.id for v in found["other"]] == ["PYSEC-2024-2"]


def test_import_jsonl_gz(tmp_path: Path) -> None:
    dump = _jsonl_gz(tmp_path / "dump.jsonl.gz", RECORDS)
    info = import_dump(dump, tmp_path / "db.sqlite")
    assert info.source == str(dump.resolve()) and len(info.meta["source_sha256"]) == 64
    _check_imported(tmp_path / "db.sqlite")


def test_import_zip(tmp_path: Path) -> None:
    dump = tmp_path / "all.zip"
    dump.write_bytes(_zip_bytes(RECORDS))
    import_dump(dump, tmp_path / "db.sqlite")
    _check_imported(tmp_path / "db.sqlite")


def test_import_directory_json_and_yaml(tmp_path: Path) -> None:
    src = tmp_path / "advisories" / "demo"
    src.mkdir(parents=True)
    (src / "PYSEC-2024-1.yaml").write_text(yaml.safe_dump(RECORDS[0]))  # the PyPA repository's own format
    (src / "PYSEC-2024-2.json").write_text(json.dumps(RECORDS[1]))
    (src / "PYSEC-2024-3.yml").write_text(yaml.safe_dump(RECORDS[2]))
    (src / "README.md").write_text("not a record")
    import_dump(tmp_path / "advisories", tmp_path / "db.sqlite")
    _check_imported(tmp_path / "db.sqlite")


def test_yaml_timestamps_become_rfc3339(tmp_path: Path) -> None:
    src = tmp_path / "adv"
    src.mkdir()
    # unquoted timestamps parse as datetimes in YAML
    text = yaml.safe_dump(record("PYSEC-2024-9", "x", versions=["1.0"])).replace(
        "'2024-01-02T03:04:05Z'", "2024-01-02T03:04:05Z"
    )
    (src / "r.yaml").write_text(text)
    info = import_dump(src, tmp_path / "db.sqlite")
    assert info.snapshot_date == "2024-01-02T03:04:05Z"


def test_ghsa_duplicating_pysec_is_merged(make_db: Callable[..., Path]) -> None:
    pysec = record(
        "PYSEC-2023-74", "requests", events=[{"introduced": "2.3.0"}, {"fixed": "2.31.0"}], aliases=["CVE-2023-32681"]
    )
    ghsa = record(
        "GHSA-j8r2-6x86-q33q",
        "requests",
        events=[{"introduced": "2.3.0"}, {"fixed": "2.31.0"}],
        aliases=["PYSEC-2023-74", "CVE-2023-32681"],
        severity="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N",
    )
    # another package's record for the same CVE is a different advisory: not merged
    sibling = record("PYSEC-2023-75", "requests-toolbelt", versions=["1.0"], aliases=["CVE-2023-32681"])
    target = make_db([ghsa, pysec, sibling])
    info = open_info(target)
    assert info.records == 2 and info.meta["merged_duplicates"] == "1"
    with Database(target) as db:
        (vuln,) = db.vulnerabilities("requests")
    assert vuln.id == "PYSEC-2023-74"
    assert vuln.aliases == ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q")
    assert len(vuln.entries) == 1  # identical affected entries folded
    assert vuln.cvss_vector is not None and vuln.cvss_score == 5.3 and vuln.severity == "medium"  # from the GHSA


@pytest.mark.parametrize(
    ("vector", "score", "severity"),
    [(CVSS_CRITICAL, 9.8, "critical"), (CVSS_HIGH, 7.5, "high"), (CVSS_MEDIUM, 5.3, "medium"), (CVSS_LOW, 3.1, "low")],
)
def test_severity_from_cvss(make_db: Callable[..., Path], vector: str, score: float, severity: str) -> None:
    target = make_db([record("PYSEC-1", "x", versions=["1.0"], severity=vector)])
    with Database(target) as db:
        (vuln,) = db.vulnerabilities("x")
    assert (vuln.cvss_vector, vuln.cvss_score, vuln.severity) == (vector, score, severity)


def test_invalid_cvss_is_unknown_and_counted(make_db: Callable[..., Path]) -> None:
    target = make_db([record("PYSEC-1", "x", versions=["1.0"], severity="CVSS:3.1/AV:N/AC:bogus")])
    assert open_info(target).meta["invalid_cvss"] == "1"
    with Database(target) as db:
        (vuln,) = db.vulnerabilities("x")
    assert (vuln.cvss_score, vuln.severity) == (None, None)


def test_unparseable_versions_counted_at_import(make_db: Callable[..., Path]) -> None:
    target = make_db([record("PYSEC-1", "x", versions=["1.0", "??"], events=[{"introduced": "bad"}, {"fixed": "2"}])])
    assert open_info(target).meta["unparseable_versions"] == "2"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl.gz", gzip.compress(b'{"id": "A"}\n{not json\n', mtime=0), "bad.jsonl.gz:2: invalid JSON"),
        ("noid.jsonl.gz", gzip.compress(b'{"affected": []}\n', mtime=0), "noid.jsonl.gz:1: not an OSV record"),
        ("trunc.jsonl.gz", gzip.compress(b'{"id": "A"}\n' * 100, mtime=0)[:-20], "corrupt gzip"),
        ("plain.txt", b"hello", "not an OSV dump"),
        ("empty.jsonl.gz", gzip.compress(b"", mtime=0), "no OSV records found"),
    ],
    ids=["bad-json", "no-id", "truncated-gzip", "not-a-dump", "empty"],
)
def test_hostile_or_corrupt_dumps(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ScanError, match=message):
        import_dump(tmp_path / name, tmp_path / "db.sqlite")
    assert not (tmp_path / "db.sqlite").exists()  # never a partial database


def test_zip_member_bomb_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.vulns import sources

    monkeypatch.setattr(sources, "MAX_RECORD_BYTES", 1 << 16)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BOMB.json", b" " * (1 << 20))  # 1 MB of spaces compresses to ~1 kB
    (tmp_path / "bomb.zip").write_bytes(buf.getvalue())
    with pytest.raises(ScanError, match=r"bomb\.zip!BOMB\.json: member expands beyond 65536 bytes"):
        import_dump(tmp_path / "bomb.zip", tmp_path / "db.sqlite")


def test_symlinks_in_a_dump_directory_stop_the_import(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(record("PYSEC-9", "evil", versions=["1.0"])))
    src = tmp_path / "dump"
    src.mkdir()
    (src / "ok.json").write_text(json.dumps(record("PYSEC-1", "x", versions=["1.0"])))
    (src / "link.json").symlink_to(outside)
    with pytest.raises(ScanError, match=r"link\.json: symlink in the OSV dump: nothing imported"):
        import_dump(src, tmp_path / "db.sqlite")
    assert not (tmp_path / "db.sqlite").exists()


def test_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "x.sqlite"
    bogus.write_bytes(b"garbage" * 100)
    with pytest.raises(ScanError, match="not a scanner vulnerability database"):
        open_info(bogus)
    with pytest.raises(ScanError, match="no vulnerability database here"):
        open_info(tmp_path / "missing.sqlite")


def test_full_snapshot_facts(snapshot_db: Path) -> None:
    info = open_info(snapshot_db)
    assert info.source.startswith("bundled: PyPA advisory database")
    assert info.records == 2651 and info.meta["withdrawn"] == "10" and info.meta["input_records"] == "2661"
    assert info.snapshot_date == "2024-10-10T17:22:00.587279Z"
    assert info.meta["skipped_ranges"] == "1391"  # GIT ranges


# ---------------------------------------------------------------- CLI


def test_cli_import_and_status(cli: Any, tmp_path: Path) -> None:
    dump = _jsonl_gz(tmp_path / "dump.jsonl.gz", RECORDS)
    target = tmp_path / "db.sqlite"
    run = cli("db", "import", dump, "--db", target)
    assert run.code == 0, run.err
    assert "imported 2 records into" in run.err
    assert "records: 2" in run.out
    run = cli("db", "status", "--db", target, "-f", "json")
    assert run.code == 0, run.err
    status = json.loads(run.out)
    expected_age = (dt.datetime.now(dt.timezone.utc) - dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)).days
    assert status["records"] == 2 and status["snapshot_date"] == "2024-05-06T07:08:09Z"
    assert status["age_days"] == expected_age and status["withdrawn"] == "1"
    assert status["source"] == str(dump.resolve())


def test_cli_status_missing_db_is_exit_2(cli: Any, tmp_path: Path) -> None:
    run = cli("db", "status", "--db", tmp_path / "nope.sqlite")
    assert run.code == 2 and "no vulnerability database here" in run.err


@pytest.fixture
def zip_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving a PyPI-style all.zip built here."""
    root = tmp_path / "mirror" / "PyPI"
    root.mkdir(parents=True)
    (root / "all.zip").write_bytes(_zip_bytes(RECORDS))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror"))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_update_from_mirror(cli: Any, tmp_path: Path, zip_server: str) -> None:
    target = tmp_path / "db.sqlite"
    url = f"{zip_server}/PyPI/all.zip"
    run = cli("db", "update", "--url", url, "--db", target, "-f", "json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["source"] == url
    _check_imported(target)


def test_cli_update_url_from_env(cli: Any, tmp_path: Path, zip_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANNER_OSV_URL", f"{zip_server}/PyPI/all.zip")
    assert cli("db", "update", "--db", tmp_path / "db.sqlite").code == 0
    _check_imported(tmp_path / "db.sqlite")


def test_cli_update_url_from_config(cli: Any, tmp_path: Path, zip_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "scanner.toml"
    config.write_text(f'osv-url = "{zip_server}/PyPI/all.zip"\ndb = "from-config.sqlite"\n')
    assert cli("--config", config, "db", "update").code == 0
    _check_imported(tmp_path / "from-config.sqlite")


def test_cli_update_offline_is_exit_2(cli: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening: what offline looks like
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = tmp_path / "db.sqlite"
    run = cli("db", "update", "--url", f"http://127.0.0.1:{port}/PyPI/all.zip", "--db", target, "--timeout", "5")
    assert run.code == 2
    assert "cannot download the vulnerability database" in run.err and "Offline?" in run.err
    assert not target.exists()


def test_cli_update_not_a_zip_is_exit_2(cli: Any, tmp_path: Path, zip_server: str) -> None:
    run = cli("db", "update", "--url", f"{zip_server}/nothing-here.zip", "--db", tmp_path / "db.sqlite")
    assert run.code == 2 and "HTTP 404" in run.err


def test_lookup_matches_full_entries_on_the_snapshot(snapshot_db: Path) -> None:
    """The audit path (listed versions matched in SQL) gives the same answers as the complete
    entries, for listed, fixed and other versions of every package in the snapshot."""
    from packaging.version import Version

    from scanner.vulns.osv import is_affected, parse_version, smallest_fix

    with Database(snapshot_db) as db:
        names = [row[0] for row in db._con.execute("SELECT DISTINCT name FROM affected ORDER BY name")]
        full = {name: db.vulnerabilities(name) for name in names}
        pairs: set[tuple[str, Version]] = set()
        for name, vulns in full.items():
            entry = vulns[0].entries[0]
            listed = [parse_version(v) for v in entry.listed.split()]
            fixed = [v for e in vulns[0].entries for v in e.fixed_versions()]
            pairs.update((name, v) for v in [*listed[:1], *listed[-1:], *fixed[:2], Version("0.0.1")] if v is not None)
        fast = db.lookup(pairs)
    compared = hits = 0
    for name, version in pairs:
        expected = {v.id: str(smallest_fix(v.entries, version)) for v in full[name] if is_affected(v.entries, version)}
        got = {
            v.id: str(smallest_fix(v.entries, version))
            for v in fast.get((name, version), [])
            if is_affected(v.entries, version)
        }
        assert got == expected, (name, version)
        compared += 1
        hits += len(expected)
    assert compared > 1500 and hits > 3000
