"""Archives under hostile conditions: limits hold, nothing is extracted, members are named."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from scanner.models.api import Limits
from scanner.models.dispatch import scan_path
from scanner.models.streams import Budget, Inflate, LimitExceeded, buffered
from tests.models.corpus import System, nested_gz, tar_of, torch_zip


def _ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f.id for f in result.findings)


def test_many_overlapping_entries_are_not_inflated(tmp_path: Path) -> None:
    body = zlib.compress(b"\0" * (8 << 20), 9)[2:-4]
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(body), 8 << 20, 1, 0) + b"a" + body
    cds = b"".join(
        struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(body), 8 << 20, 5, 0, 0, 0, 0, 0, 0
        )
        + b"%05d" % i
        for i in range(2000)
    )
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2000, 2000, len(cds), len(local), 0)
    (tmp_path / "bomb.zip").write_bytes(local + cds + eocd)
    start = time.perf_counter()
    result = scan_path(tmp_path / "bomb.zip")
    assert time.perf_counter() - start < 10
    bombs = [f for f in result.findings if f.id == "MODEL-ARCHIVE-BOMB"]
    assert len(bombs) == 1 and "overlap" in bombs[0].message


def test_total_budget_and_ratio_stop_inflation() -> None:
    data = zlib.compress(b"\0" * (40 << 20))
    stream = Inflate(buffered(io.BytesIO(data)), len(data), zlib.decompressobj, Budget(1 << 40, 1 << 40, 200))  # type: ignore[arg-type]
    with pytest.raises(LimitExceeded, match="ratio"):
        stream.seek(0, 2)
    stream = Inflate(buffered(io.BytesIO(data)), len(data), zlib.decompressobj, Budget(1 << 20, 1 << 40, 10**6))  # type: ignore[arg-type]
    with pytest.raises(LimitExceeded, match="decompressed from one file"):
        stream.seek(0, 2)


def test_backward_seek_reinflates_without_charging_twice() -> None:
    payload = bytes(range(256)) * 4096
    data = zlib.compress(payload)
    budget = Budget(len(payload) + 1, 1 << 40, 10**6)
    stream = buffered(Inflate(buffered(io.BytesIO(data)), len(data), zlib.decompressobj, budget))  # type: ignore[arg-type]
    assert stream.read() == payload
    stream.seek(1000)
    assert stream.read(10) == payload[1000:1010]
    assert budget.used == len(payload)


def test_depth_limit_is_configurable(tmp_path: Path) -> None:
    evil = pickle.dumps(System(), protocol=2)
    (tmp_path / "m.gz").write_bytes(nested_gz(3, evil))
    assert _ids(scan_path(tmp_path / "m.gz")) == ["MODEL-PICKLE-GLOBAL"]
    assert _ids(scan_path(tmp_path / "m.gz", limits=Limits(max_depth=2))) == ["MODEL-ARCHIVE-DEPTH"]


def test_entry_limit(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(20):
            zf.writestr(f"f{i}", b"x")
    (tmp_path / "many.zip").write_bytes(buf.getvalue())
    result = scan_path(tmp_path / "many.zip", limits=Limits(max_entries=10))
    assert _ids(result) == ["MODEL-ARCHIVE-BOMB"] and "entries" in result.findings[0].message


def test_deflated_and_prefixed_zip_members(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sub/evil.bin", pickle.dumps(System(), protocol=4))
    (tmp_path / "sfx.zip").write_bytes(b"#!/bin/sh\nexit 0\n" + buf.getvalue())
    (f,) = scan_path(tmp_path / "sfx.zip").findings
    assert f.subject == f"{tmp_path}/sfx.zip!sub/evil.bin"
    assert f.id == "MODEL-PICKLE-GLOBAL"


def test_tar_member_subjects_and_pickle_inside_torch_data_dir(tmp_path: Path) -> None:
    evil = pickle.dumps(System(), protocol=2)
    (tmp_path / "a.tar").write_bytes(tar_of({"weights/model.pt": torch_zip(b"\x80\x02N.", "archive/data.pkl")}))
    assert scan_path(tmp_path / "a.tar").findings == []
    (tmp_path / "b.pt").write_bytes(torch_zip(evil, "archive/data/7"))
    (f,) = scan_path(tmp_path / "b.pt").findings
    assert f.subject == f"{tmp_path}/b.pt!archive/data/7"
