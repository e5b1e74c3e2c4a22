"""Inputs that used to crash become clear errors or findings; waivers and signer identities
cannot be written to accept anything; the ledger report shows only what the hash chain covers."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from tests.hostile.conftest import Hostile

EVIL_PICKLE = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."  # never run


def _waivers(path: Path, expires: str, selector: str = "{rule: VULN-KNOWN}") -> Path:
    path.write_text(
        f"waivers:\n  - id: W-1\n    selector: {selector}\n    reason: r\n    owner: o\n    expires: {expires}\n"
    )
    return path


def test_symlink_loop_in_a_model_dir(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    (model / "a").symlink_to("b")
    (model / "b").symlink_to("a")
    (model / "self").symlink_to("self")
    (model / "w.pkl").write_bytes(EVIL_PICKLE)
    out = hostile.run("scan", model, "-f", "json", "--no-second-opinion")
    assert out.code == 1
    found = {f["subject"].rsplit("/", 1)[-1]: f["id"] for f in json.loads(out.out)["findings"]}
    assert found["w.pkl"] == "MODEL-PICKLE-GLOBAL"
    assert {found["a"], found["b"], found["self"]} <= {"MODEL-SYMLINK-ESCAPE", "MODEL-UNSCANNABLE"}


def test_waiver_expiring_on_9999_12_31_is_a_clear_error(hostile: Hostile) -> None:
    req = hostile.work / "requirements.txt"
    req.write_text("six==1.16.0\n")
    waivers = _waivers(hostile.work / "waivers.yaml", "9999-12-31")
    for command in ("gate", "audit"):
        out = hostile.run(command, req, "--waivers", waivers, memory=command != "gate")
        assert out.code == 2, out.text
        assert "waivers.yaml" in out.err and "W-1" in out.err and "9999-12-31" in out.err


def test_waiver_expiry_time_zone_is_honoured(hostile: Hostile) -> None:
    model = hostile.work / "model.pkl"
    model.write_bytes(EVIL_PICKLE)
    today = dt.datetime.now(dt.timezone.utc).date()
    # midnight at UTC+14 today is yesterday 10:00 UTC: already over, though the date is today's
    past = _waivers(hostile.work / "past.yaml", f"{today}T00:00:00+14:00", "{rule: MODEL-PICKLE-GLOBAL}")
    out = hostile.run("gate", model, "--waivers", past, "-f", "json", "--no-ledger", memory=False)
    record = json.loads(out.out)
    assert [w["expired"] for w in record["waivers"]] == [True]
    assert not any(f.get("waived") for f in record["findings"])


def test_catch_all_waiver_cannot_waive_a_critical_finding(hostile: Hostile) -> None:
    model = hostile.work / "model.pkl"
    model.write_bytes(EVIL_PICKLE)
    for selector in ('{rule: "*"}', '{path: "*"}', '{rule: "*", path: "*"}'):
        waivers = _waivers(hostile.work / "w.yaml", "2030-01-01", selector)
        out = hostile.run("gate", model, "--waivers", waivers, "--no-ledger", memory=False)
        assert out.code == 2, (selector, out.text)
        assert "waiver W-1: a catch-all selector" in out.err and "w.yaml" in out.err
        assert "MODEL-PICKLE-GLOBAL" in out.err


def test_match_all_identity_regexp_is_refused(hostile: Hostile) -> None:
    art = hostile.work / "artifact.txt"
    art.write_text("hello\n")
    for rx in (".*", ".+", "(.*)"):
        out = hostile.run("verify", art, "--cert-identity-regexp", rx, "--cert-oidc-issuer", "https://issuer")
        assert out.code == 2
        assert "matches any signer" in out.err


def _gate_into_ledger(hostile: Hostile) -> Path:
    model = hostile.work / "model.pkl"
    model.write_bytes(EVIL_PICKLE)
    ledger = hostile.work / "ledger.db"
    out = hostile.run("gate", model, "--stage", "prod", "--ledger", ledger, "-f", "json", memory=False)
    assert out.code == 1
    return ledger


def test_ledger_columns_outside_the_chain_cannot_promote(hostile: Hostile) -> None:
    ledger = _gate_into_ledger(hostile)
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE decisions SET allow = 1, artifact = 'other', stage = 'dev', actor = 'mallory'")
    out = hostile.run("report", "--ledger", ledger, "-f", "json")
    report = json.loads(out.out)
    (row,) = report["decisions"]
    assert (row["outcome"], row["artifact"], row["stage"]) == ("blocked", "model.pkl", "prod")
    assert row["actor"] != "mallory"
    assert report["totals"]["promoted"] == 0


def test_damaged_ledger_record_is_named(hostile: Hostile) -> None:
    ledger = _gate_into_ledger(hostile)
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE decisions SET record = substr(record, 1, 40)")
    out = hostile.run("report", "--ledger", ledger, "-f", "json")
    assert out.code == 1
    assert "#1: record damaged" in out.err


def test_unwritable_report_is_not_recorded_as_a_decision(hostile: Hostile) -> None:
    model = hostile.work / "model.safetensors"
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    model.write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    blocker = hostile.work / "blocker"
    blocker.write_text("a file where a directory should be")
    ledger = hostile.work / "ledger.db"
    out = hostile.run("gate", model, "--ledger", ledger, "-f", f"json={blocker}/gate.json", "--no-color", memory=False)
    assert out.code == 2
    assert "gate.json" in out.err
    assert not ledger.exists() or ids_in_ledger(ledger) == []


def ids_in_ledger(ledger: Path) -> list[int]:
    with sqlite3.connect(ledger) as db:
        return [r[0] for r in db.execute("SELECT seq FROM decisions")]
