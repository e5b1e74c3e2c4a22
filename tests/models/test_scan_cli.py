"""`scanner scan` end to end: exit codes, outputs, second opinion, hostile directories."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from tests.models.corpus import System, zip_bomb


def _evil(path: Path) -> Path:
    path.write_bytes(pickle.dumps(System(), protocol=2))
    return path


def test_clean_file_exits_0(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    r = cli("scan", tmp_path / "model.pt")
    assert r.code == 0 and "no findings" in r.out


def test_malicious_file_exits_1_with_json_evidence(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = _evil(tmp_path / "model.safetensors")
    r = cli("scan", evil, "-f", "json")
    assert r.code == 1
    (f,) = json.loads(r.out)["findings"]
    assert f["id"] == "MODEL-PICKLE-GLOBAL" and f["check"] == "model" and f["severity"] == "critical"
    assert f["evidence"]["global"] in ("posix.system", "nt.system") and f["evidence"]["offset"] == 2


def test_second_opinion_runs_only_where_it_can_change_the_verdict(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.corpus import unknown_class

    evil = _evil(tmp_path / "model.pkl")
    doc = json.loads(cli("scan", evil, "-f", "json").out)
    (f,) = doc["findings"]
    assert f["severity"] == "critical" and "detected_by" not in f["evidence"]  # already decided: not re-run
    opinion = doc["checks"][0]["summary"]["second_opinion"]
    assert opinion["ran"] and opinion["files"] == 0 and opinion["not_needed"] == 1
    (tmp_path / "unknown.pkl").write_bytes(unknown_class())
    doc = json.loads(cli("scan", tmp_path / "unknown.pkl", "-f", "json").out)
    opinion = doc["checks"][0]["summary"]["second_opinion"]
    assert opinion["files"] == 1 and opinion["not_needed"] == 0  # a medium finding: modelscan is asked
    doc = json.loads(cli("scan", evil, "-f", "json", "--no-second-opinion").out)
    assert "second_opinion" not in doc["checks"][0]["summary"]


def test_modelscan_flags_nothing_we_call_safe() -> None:
    """Why the second opinion is not needed on files we judge clean: every global on modelscan's
    unsafe list is one we deny. If a modelscan upgrade adds one we do not, this fails."""
    from modelscan.settings import DEFAULT_SETTINGS

    from scanner.models.globals_policy import DENIED, judge

    missed = []
    for modules in DEFAULT_SETTINGS["unsafe_globals"].values():
        for module, names in modules.items():
            for name in ("system", "anything") if names == "*" else names:
                if judge(module, name).kind != DENIED:
                    missed.append(f"{module}.{name}")
    assert missed == []


def test_fail_on_and_unknown_globals(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.models.corpus import unknown_class

    (tmp_path / "m.pkl").write_bytes(unknown_class())
    assert cli("scan", tmp_path / "m.pkl").code == 1
    assert cli("scan", tmp_path / "m.pkl", "--fail-on", "high").code == 0
    r = cli("scan", tmp_path / "m.pkl", "--unknown-globals", "info", "--fail-on", "low", "-f", "json")
    assert r.code == 0 and json.loads(r.out)["findings"][0]["severity"] == "info"
    assert cli("scan", tmp_path / "m.pkl", "--unknown-globals", "loud").code == 2


def test_symlink_out_of_the_tree_is_reported_not_followed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = _evil(tmp_path / "outside.pkl")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "weights.pkl").symlink_to(outside)
    doc = json.loads(cli("scan", model, "-f", "json").out)
    assert [(f["id"], f["subject"]) for f in doc["findings"]] == [("MODEL-SYMLINK-ESCAPE", str(model / "weights.pkl"))]


def test_zip_bomb_stops_at_the_limit(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bomb.zip").write_bytes(zip_bomb())
    r = cli("scan", tmp_path / "bomb.zip", "-f", "json")
    assert r.code == 1 and "Traceback" not in r.err
    assert [f["id"] for f in json.loads(r.out)["findings"]] == ["MODEL-ARCHIVE-BOMB"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_stops_the_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A file that cannot be read cannot be hashed: no digest of what was examined, exit 2."""
    model = tmp_path / "m"
    model.mkdir()
    (model / "w.bin").write_bytes(b"x")
    (model / "w.bin").chmod(0)
    r = cli("scan", model, "-f", "json")
    assert r.code == 2 and "w.bin" in r.err and "Traceback" not in r.err


def test_missing_path_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("scan", tmp_path / "nope.pt")
    assert r.code == 2 and "no such file" in r.err


def test_garbage_and_empty_files_never_crash(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "junk"
    d.mkdir()
    (d / "empty.bin").write_bytes(b"")
    (d / "garbage.pt").write_bytes(os.urandom(70000))
    (d / "fake.zip").write_bytes(b"PK\x03\x04" + os.urandom(5000))
    (d / "fake.gz").write_bytes(b"\x1f\x8b" + os.urandom(5000))
    (d / "fake.npy").write_bytes(b"\x93NUMPY\x01\x00\xff\xff{")
    r = cli("scan", d, "-f", "json", "--no-second-opinion")
    assert r.code in (0, 1) and "Traceback" not in r.err
    doc = json.loads(r.out)
    subjects = {f["subject"].rsplit("/", 1)[-1]: f["id"] for f in doc["findings"]}
    assert subjects["fake.zip"] == "MODEL-UNSCANNABLE"
    assert subjects["fake.gz"] == "MODEL-UNSCANNABLE"
    assert subjects["fake.npy"] == "MODEL-UNSCANNABLE"
    assert subjects["empty.bin"] == "MODEL-UNSCANNABLE"  # nothing to judge is not clean


def test_model_check_is_registered() -> None:
    from scanner.checklist import CHECKS, load_checks

    assert "scanner.models.check:ModelCheck" in CHECKS
    assert "model" in [c.name for c in load_checks()]


def test_a_linked_file_named_on_the_command_line_is_scanned(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = _evil(tmp_path / "real.pkl")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "link.pkl").symlink_to(outside)
    doc = json.loads(cli("scan", tmp_path / "d" / "link.pkl", "-f", "json", "--no-second-opinion").out)
    assert [f["id"] for f in doc["findings"]] == ["MODEL-PICKLE-GLOBAL"]
