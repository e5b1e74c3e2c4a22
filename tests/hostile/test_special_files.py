"""Special files (FIFOs, devices, links), requirements includes, RECORD entries that leave the
environment, and ``db import`` of content that is not OSV: never opened, never imported, reported."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from tests.hostile.conftest import Hostile, findings, ids

SAFE_PICKLE = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01K\x02\x86\x94."  # (1, 2)


def _venv(root: Path, metadata: str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n") -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    info = site / "demo-1.0.dist-info"
    info.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").write_text(metadata)
    (site / "demo.py").write_text("x = 1\n")
    return info


def test_fifo_in_model_dir_is_a_finding(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "weights.pkl").write_bytes(SAFE_PICKLE)
    os.mkfifo(model / "pipe.bin")
    out = hostile.run("scan", model, "-f", "json", "--no-second-opinion")
    assert out.code == 1
    special = [f for f in findings(out) if f["subject"].endswith("pipe.bin")]
    assert [f["id"] for f in special] == ["MODEL-UNSCANNABLE"]
    assert "fifo" in special[0]["message"]


def test_fifo_in_model_dir_gate_denies(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "weights.pkl").write_bytes(SAFE_PICKLE)
    os.mkfifo(model / "pipe.pkl")
    out = hostile.run("gate", model, "--stage", "dev", "-f", "json", "--no-ledger", memory=False)
    assert out.code == 1
    assert "MODEL-UNSCANNABLE" in ids(out)


def test_metadata_linked_to_a_device_is_not_read(hostile: Hostile) -> None:
    venv = hostile.work / "venv"
    info = _venv(venv)
    (info / "METADATA").unlink()
    (info / "METADATA").symlink_to("/dev/zero")
    (info / "RECORD").symlink_to("/dev/zero")
    out = hostile.run(
        "sbom", venv, "--input-type", "environment", "-f", "cyclonedx-json", "-o", hostile.work / "bom.json"
    )
    assert out.code in (0, 1), out.err
    bom = json.loads((hostile.work / "bom.json").read_text())
    assert "demo" not in {c.get("name") for c in bom.get("components", [])}
    assert "METADATA" in out.err or "METADATA" in json.dumps(bom)


def test_metadata_fifo_is_not_read(hostile: Hostile) -> None:
    venv = hostile.work / "venv"
    info = _venv(venv)
    (info / "METADATA").unlink()
    os.mkfifo(info / "METADATA")
    os.mkfifo(info / "RECORD")
    out = hostile.run(
        "sbom", venv, "--input-type", "environment", "-f", "cyclonedx-json", "-o", hostile.work / "bom.json"
    )
    assert out.code in (0, 1), out.err


def test_record_entries_outside_the_environment_are_findings(hostile: Hostile) -> None:
    venv = hostile.work / "venv"
    info = _venv(venv)
    secret = hostile.outside / "secret.txt"
    secret.write_text("TOKEN=hunter2\n")
    (info / "RECORD").write_text(
        "demo.py,sha256=AAAA,6\n"
        "../../../../../secret.txt,sha256=AAAA,14\n"
        f"{secret},sha256=AAAA,14\n"
        "demo-1.0.dist-info/RECORD,,\n"
    )
    out = hostile.run(
        "sbom", venv, "--input-type", "environment", "-f", "cyclonedx-json", "-o", hostile.work / "bom.json"
    )
    assert "hunter2" not in out.text
    inv = hostile.run("gate", venv, "--kind", "environment", "-f", "json", "--no-ledger", memory=False)
    outside = [f for f in findings(inv) if f["id"] == "SBOM-RECORD-OUTSIDE-ENVIRONMENT"]
    assert len(outside) == 1
    assert outside[0]["evidence"]["count"] == 2
    assert "hunter2" not in inv.text


# ---------------------------------------------------------------- requirements includes


def test_include_outside_the_project_is_refused(hostile: Hostile) -> None:
    secret = hostile.outside / "secrets.txt"
    secret.write_text("AWS_SECRET_ACCESS_KEY=abc123verysecret\n")
    req = hostile.work / "requirements.txt"
    req.write_text(f"-r {secret}\nsix==1.16.0\n")
    out = hostile.run("audit", req, "-f", "json", "-f", f"sarif={hostile.work / 'r.sarif'}")
    assert out.code == 2, out.text
    assert "abc123verysecret" not in out.text
    assert "requirements.txt" in out.err and "outside" in out.err


def test_include_with_traversal_is_refused(hostile: Hostile) -> None:
    (hostile.outside / "other.txt").write_text("PASSWORD=swordfish\n")
    req = hostile.work / "requirements.txt"
    req.write_text("-r ../other.txt\n")
    out = hostile.run("audit", req, "-f", "json")
    assert out.code == 2
    assert "swordfish" not in out.text


def test_include_of_proc_and_devices_is_refused(hostile: Hostile) -> None:
    req = hostile.work / "requirements.txt"
    for target in ("/proc/self/environ", "/dev/zero"):
        req.write_text(f"-c {target}\n-r {target}\n")
        out = hostile.run("audit", req, "-f", "json")
        assert out.code == 2, out.text
        assert target in out.err


def test_include_of_a_fifo_or_link_inside_the_project_is_refused(hostile: Hostile) -> None:
    os.mkfifo(hostile.work / "pipe.txt")
    (hostile.work / "link.txt").symlink_to(hostile.outside / "nothing.txt")
    req = hostile.work / "requirements.txt"
    for target in ("pipe.txt", "link.txt"):
        req.write_text(f"-r {target}\n")
        out = hostile.run("audit", req, "-f", "json")
        assert out.code == 2, out.text
        assert target in out.err


def test_included_content_never_reaches_output(hostile: Hostile) -> None:
    (hostile.work / "extra.txt").write_text("SECRET_TOKEN_VALUE=zzz-top-secret-zzz\n")
    req = hostile.work / "requirements.txt"
    req.write_text("-r extra.txt\n")
    reports = [f"{fmt}={hostile.work / ('r.' + fmt)}" for fmt in ("json", "sarif", "markdown", "html")]
    out = hostile.run("audit", req, "-f", "table", *[a for r in reports for a in ("-f", r)])
    assert "zzz-top-secret-zzz" not in out.text
    for fmt in ("json", "sarif", "markdown", "html"):
        assert "zzz-top-secret-zzz" not in (hostile.work / f"r.{fmt}").read_text(), fmt
    out = hostile.run("gate", req, "-f", "json", memory=False)
    assert "zzz-top-secret-zzz" not in out.text
    ledger = (hostile.work / ".scanner" / "ledger.db").read_bytes()
    assert b"zzz-top-secret-zzz" not in ledger


# ---------------------------------------------------------------- db import


def _osv(vid: str) -> dict:
    return {
        "id": vid,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"}, "versions": ["1.0"]}],
    }


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_db_import_rejects_traversal_member_names(hostile: Hostile) -> None:
    dump = hostile.work / "all.zip"
    dump.write_bytes(_zip({"PYSEC-1.json": json.dumps(_osv("PYSEC-1")).encode(), "../evil.json": b"{}"}))
    db = hostile.work / "osv.db"
    out = hostile.run("db", "import", dump, "--db", db)
    assert out.code == 2
    assert "../evil.json" in out.err
    assert not db.exists()


def test_db_import_rejects_non_osv_members(hostile: Hostile) -> None:
    dump = hostile.work / "all.zip"
    good = json.dumps(_osv("PYSEC-1")).encode()
    for bad in ({"x.json": b'{"id": "X", "payload": "not osv"}'}, {"run.sh": b"#!/bin/sh\ntrue\n"}):
        dump.write_bytes(_zip({"PYSEC-1.json": good, **bad}))
        db = hostile.work / "osv.db"
        out = hostile.run("db", "import", dump, "--db", db)
        assert out.code == 2, out.text
        assert next(iter(bad)) in out.err
        assert not db.exists()


def test_db_import_rejects_links_and_special_files(hostile: Hostile) -> None:
    dump = hostile.work / "dump"
    dump.mkdir()
    (dump / "PYSEC-1.json").write_text(json.dumps(_osv("PYSEC-1")))
    db = hostile.work / "osv.db"
    cases = {
        "self.json": lambda p: p.symlink_to(dump),
        "parent": lambda p: p.symlink_to(dump.parent),
        "pipe.json": os.mkfifo,
        "null.json": lambda p: p.symlink_to("/dev/null"),
    }
    for name, make in cases.items():
        make(dump / name)
        out = hostile.run("db", "import", dump, "--db", db)
        assert out.code == 2, (name, out.text)
        assert name in out.err
        assert not db.exists()
        (dump / name).unlink()
    ok = hostile.run("db", "import", dump, "--db", db)
    assert ok.code == 0, ok.text


def test_fifo_or_device_named_on_the_command_line(hostile: Hostile) -> None:
    os.mkfifo(hostile.work / "pipe")
    for command in (("scan", "pipe"), ("audit", "pipe"), ("gate", "/dev/zero", "--no-ledger")):
        out = hostile.run(*command, memory=command[0] != "gate")
        assert out.code == 2, out.text
        assert "not a regular file or directory: not read" in out.err and command[1] in out.err
    req = hostile.work / "requirements.txt"
    req.write_text("six==1.16.0\n")
    out = hostile.run("audit", req, "--waivers", "pipe")
    assert out.code == 2 and "pipe: cannot read waivers file: is a fifo" in out.err
