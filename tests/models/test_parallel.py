"""Files spread over worker processes give exactly the findings of a scan in one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.models import dispatch


def _key(result):  # type: ignore[no-untyped-def]
    return (
        sorted((f.subject, f.id, f.severity.value, str(f.evidence.get("global"))) for f in result.findings),
        [(f.path, f.format, f.verdict, f.size) for f in result.files],
    )


def test_parallel_scan_equals_the_sequential_one(corpus, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, _ = corpus
    sequential = dispatch.scan_path(root, {"model_workers": 1})
    monkeypatch.setattr(dispatch, "PARALLEL_AFTER", 0.0)  # go parallel from the first file
    parallel = dispatch.scan_path(root, {"model_workers": 2})
    assert _key(parallel) == _key(sequential)
    assert len(sequential.files) > 50


def test_small_runs_and_one_worker_stay_in_process() -> None:
    assert dispatch._workers({}, dispatch.MIN_PARALLEL_FILES - 1) == 1
    assert dispatch._workers({"model_workers": 1}, 100) == 1
    assert dispatch._workers({"model_workers": 3}, 100) == 3


def test_hdf5_files_are_read_by_the_parent(tmp_path: Path) -> None:
    (tmp_path / "a.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(8))
    (tmp_path / "b.pkl").write_bytes(b"\x80\x04N.")
    assert dispatch._is_hdf5(tmp_path / "a.h5") and not dispatch._is_hdf5(tmp_path / "b.pkl")
