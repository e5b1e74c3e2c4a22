"""Archives nested in archives, each level small: one budget for the whole artifact (entries,
nested archives, decompressed bytes, time) stops them with a finding within seconds."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

from scanner.models.api import Limits
from scanner.models.dispatch import scan_path
from tests.hostile.conftest import Hostile, findings

LEAF = b"\x80\x04K\x01."  # a harmless pickle: the integer 1


def recursive_zip(fanout: int, depth: int) -> bytes:
    """``fanout`` copies of the previous level in every level: fanout**depth leaves, a few KB."""
    data, name = LEAF, "w.pkl"
    for level in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(fanout):
                zf.writestr(f"{i}/{name}", data)
        data, name = buf.getvalue(), f"l{level}.zip"
    return data


def test_recursive_zip_bomb_stops_within_seconds_at_default_budgets(hostile: Hostile) -> None:
    bomb = hostile.work / "model.zip"
    bomb.write_bytes(recursive_zip(10, 6))  # a million leaves in about 12 KB
    assert bomb.stat().st_size < 16_000
    out = hostile.run("scan", bomb, "-f", "json", "--no-second-opinion", "--fail-on", "critical")
    assert out.code == 1
    [bombs] = [[f for f in findings(out) if f["id"] == "MODEL-ARCHIVE-BOMB"]]
    assert len(bombs) == 1 and "archives nested inside other content" in bombs[0]["message"]
    assert out.seconds < 15


def test_budget_is_per_artifact_not_per_file(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for i in range(3):  # each file alone is within the budget, together they are not
        (model / f"part{i}.zip").write_bytes(recursive_zip(5, 3))
    (model / "weights.pkl").write_bytes(LEAF)
    result = scan_path(model, limits=Limits(max_artifact_archives=60))
    ids = {(Path(f.subject.split("!")[0]).name, f.id) for f in result.findings}
    assert ("part1.zip", "MODEL-ARCHIVE-BOMB") in ids or ("part2.zip", "MODEL-ARCHIVE-BOMB") in ids
    assert ("part2.zip", "MODEL-UNSCANNABLE") in ids or ("part2.zip", "MODEL-ARCHIVE-BOMB") in ids
    assert ("weights.pkl", "MODEL-UNSCANNABLE") in ids  # never silently skipped once spent
    assert not result.complete


def test_entry_budget_across_levels(tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    path.write_bytes(recursive_zip(8, 3))  # 8 + 64 + 512 entries
    result = scan_path(path, limits=Limits(max_artifact_entries=100))
    assert [f.id for f in result.findings] == ["MODEL-ARCHIVE-BOMB"]
    assert "more than 100 embedded entries" in result.findings[0].message
    assert scan_path(path).findings == []  # the default budget holds an honest archive


def test_decompressed_bytes_budget_across_levels(tmp_path: Path) -> None:
    inner = gzip.compress(b"\0" * (4 << 20))  # 4 MiB of zeros
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(8):
            zf.writestr(f"{i}.pkl.gz", inner)
    path = tmp_path / "m.zip"
    path.write_bytes(buf.getvalue())
    result = scan_path(path, limits=Limits(max_artifact_bytes=10 << 20))
    bombs = [f for f in result.findings if f.id == "MODEL-ARCHIVE-BOMB"]
    assert len(bombs) == 1 and "bytes decompressed from one artifact" in bombs[0].message


def test_time_budget(tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    path.write_bytes(recursive_zip(8, 3))
    result = scan_path(path, limits=Limits(max_artifact_seconds=0.0))
    assert [f.id for f in result.findings] == ["MODEL-ARCHIVE-BOMB"]
    assert "s spent on nested content" in result.findings[0].message
