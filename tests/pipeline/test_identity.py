"""One identity: each file is opened once, and the digest recorded is of the bytes examined.

A file replaced right after it was opened (the pipeline's test hook ``after_open``, called at the
worst moment) must not yield a record carrying the other file's digest; special files are listed
as findings and never read (a FIFO must not hang the run)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.files import FileChanged, FileEntry, FileSet
from scanner.pipeline import GATE, SCAN, GateOptions, run
from tests.pipeline.conftest import evil_pickle, model_findings

BENIGN = b"just some text, nothing to see\n"


def _artifact(tmp_path: Path, content: bytes) -> Path:
    root = tmp_path / "artifact"
    root.mkdir()
    (root / "weights.pkl").write_bytes(content)
    (root / "README.md").write_text("a model\n")
    return root


def _digest_of_tree(tmp_path: Path, content: bytes) -> str:
    twin = tmp_path / "twin" / "artifact"
    twin.mkdir(parents=True)
    (twin / "weights.pkl").write_bytes(content)
    (twin / "README.md").write_text("a model\n")
    return FileSet(twin).artifact_digest()


def test_file_replaced_after_open_keeps_the_digest_of_what_was_scanned(tmp_path: Path) -> None:
    root = _artifact(tmp_path, evil_pickle())
    spare = tmp_path / "spare"

    def swap(entry: FileEntry) -> None:
        if entry.rel == "weights.pkl":
            spare.write_bytes(BENIGN)
            os.replace(spare, root / "weights.pkl")  # the name now holds other bytes

    outcome = run(root, GATE, GateOptions(), after_open=swap)
    assert (root / "weights.pkl").read_bytes() == BENIGN  # the swap happened
    assert outcome.decision is not None and not outcome.decision.allow  # the pickle was judged
    assert "weights.pkl" in model_findings(outcome.record["findings"])
    files = {f["path"]: f for f in outcome.record["artifact"]["files"]}
    assert files["weights.pkl"]["sha256"] == hashlib.sha256(evil_pickle()).hexdigest()
    assert outcome.record["artifact"]["digest"] == _digest_of_tree(tmp_path, evil_pickle())
    assert outcome.artifact.digest != FileSet(root).artifact_digest()  # not the digest of what is there now


def test_file_rewritten_in_place_after_open_stops_the_run(tmp_path: Path) -> None:
    root = _artifact(tmp_path, BENIGN)

    def rewrite(entry: FileEntry) -> None:
        if entry.rel == "weights.pkl":
            with open(root / "weights.pkl", "ab") as fh:  # same inode, other bytes
                fh.write(evil_pickle())

    with pytest.raises(FileChanged, match="changed while it was being read"):
        run(root, SCAN, GateOptions(), after_open=rewrite)


def test_fifo_in_a_model_dir_is_a_finding_and_never_read(tmp_path: Path) -> None:
    root = _artifact(tmp_path, BENIGN)
    os.mkfifo(root / "pipe.bin")
    # a child process, so that a hang fails the test instead of stopping the suite
    r = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(root), "-f", "json", "--no-second-opinion"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert r.returncode == 1, r.stderr
    record = json.loads(r.stdout)
    found = [f for f in record["findings"] if f["subject"].endswith("pipe.bin")]
    assert found and "is a fifo, not a regular file" in found[0]["message"]
    listed = {f["path"]: f for f in record["artifact"]["files"]}
    assert listed["pipe.bin"]["not_read"] == "special" and listed["pipe.bin"]["sha256"] is None


def test_fifo_given_as_the_artifact_exits_2(tmp_path: Path) -> None:
    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    r = subprocess.run(
        [sys.executable, "-m", "scanner", "gate", str(fifo), "--no-ledger"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert r.returncode == 2
    assert "model.pkl" in r.stderr and "fifo" in r.stderr and "Traceback" not in r.stderr


def test_each_file_is_hashed_once_per_run(tmp_path: Path) -> None:
    """The inventory and the record reuse the digests of the model check's pass."""
    root = _artifact(tmp_path, BENIGN)
    opened: list[str] = []
    outcome = run(root, GATE, GateOptions(), after_open=lambda e: opened.append(e.rel))
    assert sorted(opened) == ["README.md", "weights.pkl"]
    sbom_hashes = {
        c["name"]: c["hashes"][0]["content"]
        for c in outcome.record["sbom"]["components"]
        if c.get("type") == "file" and c.get("hashes")
    }
    assert sbom_hashes["weights.pkl"] == hashlib.sha256(BENIGN).hexdigest()


def test_link_repointed_outside_between_walk_and_open_stops_the_run(tmp_path: Path) -> None:
    """The walk saw ``b.link`` resolve inside the root; re-pointed outside before it is opened
    (while the previous file is open), the descriptor's inode differs: never read, exit 2."""
    root = _artifact(tmp_path, BENIGN)
    (root / "target.bin").write_bytes(BENIGN)
    os.symlink("target.bin", root / "b.link")
    secret = tmp_path / "secret.bin"
    secret.write_bytes(evil_pickle())

    def repoint(entry: FileEntry) -> None:
        if entry.rel == "README.md":  # walked before b.link
            os.unlink(root / "b.link")
            os.symlink(secret, root / "b.link")

    with pytest.raises(FileChanged, match="replaced while the artifact was being read"):
        run(root, SCAN, GateOptions(), after_open=repoint)


def test_an_empty_folder_is_part_of_the_digest(tmp_path: Path) -> None:
    """An empty ``*.dist-info`` folder turns a model folder into an environment (another kind,
    another verdict): two trees that differ only by it must not share a digest; a tree without
    empty folders keeps the digest it had (the sorted lines of its files only)."""
    root = _artifact(tmp_path, BENIGN)
    plain = FileSet(root).artifact_digest()
    lines = sorted(
        f"{n}\0{hashlib.sha256((root / n).read_bytes()).hexdigest()}\n".encode() for n in ("README.md", "weights.pkl")
    )
    assert plain == "sha256:" + hashlib.sha256(b"".join(lines)).hexdigest()
    (root / "x.dist-info").mkdir()
    marked = FileSet(root).artifact_digest()
    assert marked != plain
    (root / "x.dist-info").rmdir()
    (root / "y.dist-info" / "deeper").mkdir(parents=True)
    assert FileSet(root).artifact_digest() not in (plain, marked)
    (root / "y.dist-info" / "deeper").rmdir()
    assert FileSet(root).artifact_digest() not in (plain, marked)  # y.dist-info itself is empty now
