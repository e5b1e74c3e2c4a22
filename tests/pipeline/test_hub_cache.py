"""The Hugging Face hub-cache layout is scanned through: ``models--org--name/snapshots/<rev>/``
files are links into ``../../blobs/``, inside the declared root (the ``models--org--name``
folder), so they are followed, hashed and judged; links leaving it and link loops are findings."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from scanner.files import FileSet
from tests.pipeline.conftest import evil_pickle, model_findings

REV = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "config.json": b'{"model_type": "bert"}\n',
    "README.md": b"# evil\n",
    "pytorch_model.bin": evil_pickle(),
}


def hub_cache(tmp_path: Path) -> Path:
    """``hub/models--acme--evil`` as ``huggingface_hub`` writes it; returns the repository folder."""
    repo = tmp_path / "hub" / "models--acme--evil"
    snap = repo / "snapshots" / REV
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REV)
    snap.mkdir(parents=True)
    for name, data in FILES.items():
        blob = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / blob).write_bytes(data)
        os.symlink(Path("..", "..", "blobs", blob), snap / name)
    return repo


def _digests(cli, path: Path) -> dict[str, str]:
    gate = json.loads(cli("gate", path, "--no-ledger", "-f", "json").out)
    scan = json.loads(cli("scan", path, "-f", "json", "--no-second-opinion").out)
    bom = json.loads(cli("sbom", path).out)
    props = {p["name"]: p["value"] for p in bom["metadata"].get("properties", [])}
    return {
        "gate": gate["artifact"]["digest"],
        "scan": scan["artifact"]["digest"],
        "sbom": props["scanner:artifact-digest"],
        "_gate_findings": json.dumps(sorted(model_findings(gate["findings"]))),
        "_scan_findings": json.dumps(sorted(model_findings(scan["findings"]))),
    }


def test_snapshot_dir_is_scanned_through_its_links(cli, tmp_path: Path) -> None:
    snap = hub_cache(tmp_path) / "snapshots" / REV
    r = cli("gate", snap, "--no-ledger", "-f", "json")
    assert r.code == 1, r.err
    assert "pytorch_model.bin" in model_findings(json.loads(r.out)["findings"])
    found = _digests(cli, snap)
    assert json.loads(found["_scan_findings"]) == ["pytorch_model.bin"]
    # the digest covers the blob bytes under the snapshot's names: the same as a plain copy
    plain = tmp_path / "plain"
    plain.mkdir()
    for name, data in FILES.items():
        (plain / name).write_bytes(data)
    assert {found["gate"], found["scan"], found["sbom"]} == {FileSet(plain).artifact_digest()}


def test_repository_folder_is_scanned_with_its_blobs(cli, tmp_path: Path) -> None:
    repo = hub_cache(tmp_path)
    found = _digests(cli, repo)
    assert found["gate"] == found["scan"] == found["sbom"]
    assert "pytorch_model.bin" in json.loads(found["_gate_findings"])  # judged through the snapshot link
    assert hashlib.sha256(evil_pickle()).hexdigest() in json.loads(found["_gate_findings"])  # and as a blob


@pytest.mark.parametrize("where", ["elsewhere", "sibling-cache"])
def test_link_leaving_the_repository_is_a_finding(cli, tmp_path: Path, where: str) -> None:
    snap = hub_cache(tmp_path) / "snapshots" / REV
    if where == "elsewhere":
        target = tmp_path / "secret.bin"
    else:  # another model of the same cache is outside this one's declared root
        other = tmp_path / "hub" / "models--acme--other" / "blobs"
        other.mkdir(parents=True)
        target = other / "x"
    target.write_bytes(evil_pickle())
    os.symlink(target, snap / "extra.bin")
    r = cli("scan", snap, "-f", "json", "--no-second-opinion")
    assert r.code == 1
    escapes = [f for f in json.loads(r.out)["findings"] if f["id"] == "MODEL-SYMLINK-ESCAPE"]
    assert [f["subject"] for f in escapes] == [str(snap / "extra.bin")]


def test_link_loops_are_findings_never_a_crash(cli, tmp_path: Path) -> None:
    snap = hub_cache(tmp_path) / "snapshots" / REV
    os.symlink("self", snap / "self")  # resolves through itself
    os.symlink("..", snap / "up")  # a folder above it: walking it would never end
    for command in ("gate", "scan", "sbom"):
        args = [command, snap, *(["--no-ledger", "-f", "json"] if command == "gate" else [])]
        r = cli(*args, *(["-f", "json", "--no-second-opinion"] if command == "scan" else []))
        assert r.code in (0, 1) and "Traceback" not in r.err and "internal error" not in r.err, (command, r.err)
    record = json.loads(cli("scan", snap, "-f", "json", "--no-second-opinion").out)
    loops = {f["subject"].rsplit("/", 1)[-1]: f for f in record["findings"] if "symlink loop" in f["message"]}
    assert sorted(loops) == ["self", "up"]
