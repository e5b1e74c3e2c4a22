from pathlib import Path

import pytest

from scanner.artifact import detect
from scanner.core import ArtifactKind, Finding, ScanError, Severity
from scanner.files import directory_digest, walk


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.parse("HiGh") is Severity.HIGH
    with pytest.raises(ValueError, match="choose from critical"):
        Severity.parse("severe")


def test_finding_round_trip() -> None:
    f = Finding("MODEL-PICKLE-GLOBAL", "model", Severity.CRITICAL, "a.pkl", "imports os.system", {"offset": 3}, "x")
    assert Finding.from_dict(f.to_dict()) == f


def test_detect_kinds_by_content(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==2.2.2\n")
    assert detect(tmp_path / "requirements.txt").kind is ArtifactKind.REQUIREMENTS
    assert detect(tmp_path).kind is ArtifactKind.APP_DIR
    bom = tmp_path / "bom.json"
    bom.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    assert detect(bom).kind is ArtifactKind.SBOM
    weights = tmp_path / "weights.txt"  # a binary blob with a text name is not a requirements file
    weights.write_bytes(b"\x80\x04K\x01.\x00")
    assert detect(weights).kind is ArtifactKind.MODEL_FILE
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert detect(model).kind is ArtifactKind.MODEL_DIR
    assert detect(model).digest.startswith("sha256:")


def test_detect_missing_path_is_scan_error(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="no such file"):
        detect(tmp_path / "nope")


def test_walk_marks_links_out_of_tree(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_text("x")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.bin").write_bytes(b"a")
    (root / "inside").symlink_to(root / "sub" / "a.bin")
    (root / "escape").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    entries = {e.rel: e for e in walk(root)}
    assert sorted(entries) == ["dirlink", "escape", "inside", "sub/a.bin"]
    assert entries["escape"].escapes and entries["dirlink"].escapes
    assert entries["inside"].is_symlink and not entries["inside"].escapes
    before = directory_digest(root)
    outside.write_text("changed")  # content outside the tree never affects the digest
    assert directory_digest(root) == before
