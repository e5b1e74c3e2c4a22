"""One identity for HDF5 files too: h5py runs in a child process, which must read the bytes the
digest was taken from — not whatever the file's name holds by the time the child opens it.

The attack: a Keras ``.h5`` with a Lambda layer is opened and hashed; right then (the pipeline's
test hook ``after_open``) its name is given to a benign file of the same size. A child reading by
name judged the benign one, and the record (and a batch cache entry) said "allowed" under the
malicious file's digest — a verdict a later run over the unchanged malicious file would reuse."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from scanner.files import FileEntry
from scanner.pipeline import GATE, GateOptions, run
from tests.formats.test_keras import TRAINING, keras2_config, lambda2, write_h5


def _same_size_pair(tmp_path: Path) -> tuple[Path, Path]:
    evil_config = keras2_config(lambda2("1"))
    size = len(json.dumps(evil_config))
    benign_config = keras2_config()
    benign_config["config"]["pad"] = ""
    benign_config["config"]["pad"] = "x" * (size - len(json.dumps(benign_config)))
    assert len(json.dumps(benign_config)) == size
    evil = write_h5(tmp_path / "evil.h5", evil_config, TRAINING)
    benign = write_h5(tmp_path / "benign.h5", benign_config, TRAINING)
    assert evil.stat().st_size == benign.stat().st_size
    return evil, benign


def test_an_hdf5_file_swapped_after_it_was_hashed_is_judged_as_hashed(tmp_path: Path) -> None:
    evil, benign = _same_size_pair(tmp_path)
    root = tmp_path / "artifact"
    root.mkdir()
    (root / "model.h5").write_bytes(evil.read_bytes())

    def swap(entry: FileEntry) -> None:
        if entry.rel == "model.h5":
            spare = tmp_path / "spare.h5"
            spare.write_bytes(benign.read_bytes())
            os.replace(spare, root / "model.h5")

    outcome = run(root, GATE, GateOptions(), after_open=swap)
    assert (root / "model.h5").read_bytes() == benign.read_bytes()  # the swap happened
    files = {f["path"]: f for f in outcome.record["artifact"]["files"]}
    assert files["model.h5"]["sha256"] == hashlib.sha256(evil.read_bytes()).hexdigest()
    assert outcome.decision is not None and not outcome.decision.allow, outcome.decision
    assert "MODEL-KERAS-LAMBDA" in [f["id"] for f in outcome.record["findings"]]  # judged, not unreadable
