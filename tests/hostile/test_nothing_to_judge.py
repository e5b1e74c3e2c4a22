"""Nothing to judge is not clean, and ``--fail-on`` never hides that a check could not examine
everything."""

from __future__ import annotations

import struct

import pytest

from tests.hostile.conftest import Hostile, findings, ids


def _npy(shape: tuple[int, ...], payload: bytes) -> bytes:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


LOADER_NAMES = {
    "model.pt": b"",
    "weights.bin": bytes(range(1, 200)) * 20,
    "model.pth": bytes(range(1, 200)) * 20,
    "model.ckpt": bytes(range(1, 200)) * 20,
    "model.pkl": bytes(range(1, 200)) * 20,
    "model.joblib": bytes(range(1, 200)) * 20,
    "pytorch_model.bin": b"",
}


def test_empty_or_random_bytes_under_a_loader_name(hostile: Hostile) -> None:
    model = hostile.work / "model"
    model.mkdir()
    for name, content in LOADER_NAMES.items():  # no magic number of any format, not text
        (model / name).write_bytes(content)
    out = hostile.run("scan", model, "-f", "json", "--no-second-opinion", "--fail-on", "critical")
    assert out.code == 1
    found = sorted((f["subject"].rsplit("/", 1)[-1], f["id"]) for f in findings(out))
    assert found == sorted((name, "MODEL-UNSCANNABLE") for name in LOADER_NAMES)
    single = hostile.run("scan", model / "model.pt", "-f", "json", "--no-second-opinion", "--fail-on", "none")
    assert single.code == 1 and ids(single) == {"MODEL-UNSCANNABLE"}


def test_npy_header_promising_8_tib_over_64_bytes(hostile: Hostile) -> None:
    path = hostile.work / "big.npy"
    path.write_bytes(_npy((1 << 40,), b"\x00" * 64))  # 2**40 float64 = 8 TiB
    out = hostile.run("scan", path, "-f", "json", "--no-second-opinion", "--fail-on", "critical")
    assert out.code == 1
    (f,) = findings(out)
    assert f["id"] == "MODEL-UNSCANNABLE" and "promises 8796093022208 bytes" in f["message"]


def test_honest_npy_is_clean(hostile: Hostile) -> None:
    path = hostile.work / "ok.npy"
    path.write_bytes(_npy((8,), b"\x00" * 64))
    out = hostile.run("scan", path, "-f", "json", "--no-second-opinion")
    assert out.code == 0, out.text
    assert findings(out) == []


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"README.md": "# a model\n", "notes.txt": "hello\n"},
        {"config.json": '{"hidden_size": 8, "bogus": [1, 2]}'},
    ],
    ids=["empty-dir", "text-only", "unknown-json"],
)
def test_nothing_in_a_model_format(hostile: Hostile, files: dict[str, str]) -> None:
    model = hostile.work / "model"
    model.mkdir()
    for name, text in files.items():
        (model / name).write_text(text)
    out = hostile.run("scan", model, "-f", "json", "--no-second-opinion", "--fail-on", "critical")
    assert out.code == 1
    assert ids(out) == {"MODEL-NOTHING-TO-JUDGE"}
    gate = hostile.run("gate", model, "--kind", "model-dir", "-f", "json", "--no-ledger", memory=False)
    assert gate.code == 1
    assert "MODEL-NOTHING-TO-JUDGE" in ids(gate)


def test_unknown_json_gated_as_a_model_file(hostile: Hostile) -> None:
    path = hostile.work / "thing.json"
    path.write_text('{"anything": true}')
    out = hostile.run("gate", path, "--kind", "model-file", "-f", "json", "--no-ledger", memory=False)
    assert out.code == 1
    assert "MODEL-NOTHING-TO-JUDGE" in ids(out)


def test_empty_requirements_file(hostile: Hostile) -> None:
    req = hostile.work / "requirements.txt"
    req.write_text("# nothing here\n")
    out = hostile.run("audit", req, "-f", "json", "--fail-on", "critical")
    assert out.code == 1
    assert ids(out) == {"VULN-NOTHING-TO-AUDIT"}


def test_fail_on_never_hides_unaudited_dependencies(hostile: Hostile) -> None:
    req = hostile.work / "requirements.txt"
    req.write_text("requests\nflask>=2\nsix\n")  # 0 of 3 auditable
    out = hostile.run("audit", req, "-f", "json", "--fail-on", "high")
    assert out.code == 1
    assert ids(out) == {"VULN-UNAUDITED"}
    assert "not everything could be examined" in out.err


def test_fail_on_never_hides_an_unscannable_model(hostile: Hostile) -> None:
    path = hostile.work / "model.pt"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)  # a zip that is not one
    for threshold in ("critical", "none"):
        out = hostile.run("scan", path, "-f", "json", "--no-second-opinion", "--fail-on", threshold)
        assert out.code == 1, threshold
        assert ids(out) == {"MODEL-UNSCANNABLE"}
