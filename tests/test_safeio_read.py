"""``safeio.read_upto`` / ``read_bounded``: a bounded read sized by the file, never short of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.safeio import read_bounded, read_upto


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 5000])
def test_a_file_is_read_whole_up_to_one_byte_past_the_limit(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    with open(path, "rb", buffering=0) as fh:
        assert read_upto(fh, 100) == path.read_bytes()[:101]
    if size <= 100:
        assert read_bounded(path, 100) == path.read_bytes()
    else:
        with pytest.raises(ScanError, match="larger than 100 bytes"):
            read_bounded(path, 100)


def test_the_read_starts_where_the_file_stands_and_sees_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 10)
    with open(path, "rb", buffering=0) as fh, open(path, "ab") as grower:
        fh.read(2)
        grower.write(b"b" * 50)  # appended after the reader opened it
        grower.flush()
        assert read_upto(fh, 30) == (b"a" * 8 + b"b" * 50)[:31]
