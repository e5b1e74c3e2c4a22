"""Standard input has no name, so what it is comes from its content alone
(``scanner.artifact.unnamed_kind``): a CycloneDX BOM, a requirements file when every line is a
requirement, a pip option or a comment, else a model file. The kind only picks the inventory
reader: the model checks read the bytes whatever it is, so a pickle whose lines look like
requirements is still denied as a pickle, and text that is neither is denied as nothing to judge.
``--kind`` says what the bytes are."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest

from scanner.artifact import HEAD_BYTES, unnamed_kind
from scanner.core import ArtifactKind

VULNERABLE = b"Jinja2==2.11.2\n"  # PYSEC-2021-66 in the bundled snapshot (tests/vulns/test_audit.py)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("true",)


@pytest.fixture(autouse=True)
def _apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def _gate(cli, monkeypatch: pytest.MonkeyPatch, data: bytes, *args: str) -> dict:
    _stdin(monkeypatch, data)
    r = cli("gate", "-", "--no-ledger", "-f", "json", *args)
    assert r.code in (0, 1), r.err
    return json.loads(r.out)


def _ids(record: dict) -> set[str]:
    return {f["id"] for f in record["findings"]}


def test_piped_requirements_are_audited(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _gate(cli, monkeypatch, b"# pinned\n" + VULNERABLE + b"idna==3.7 \\\n    --hash=sha256:abcd\n")
    assert record["artifact"]["kind"] == "requirements" and record["artifact"]["name"] == "stdin"
    known = {
        (f["evidence"]["package"], f["evidence"]["vuln_id"]) for f in record["findings"] if f["id"] == "VULN-KNOWN"
    }
    assert ("jinja2", "PYSEC-2021-66") in known
    assert {c["name"] for c in record["sbom"]["components"]} >= {"jinja2", "idna"}
    assert "MODEL-NOTHING-TO-JUDGE" not in _ids(record)


def test_scanner_audit_of_piped_requirements_finds_the_vulnerability(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, ``audit -`` read the bytes as a model file: no component, "no findings", exit 0."""
    _stdin(monkeypatch, VULNERABLE)
    r = cli("audit", "-", "-f", "json")
    assert r.code == 1, r.err
    assert "PYSEC-2021-66" in r.out


def test_a_piped_pickle_is_still_a_model_file_and_denied(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _gate(cli, monkeypatch, pickle.dumps(_Payload(), protocol=4))
    assert record["artifact"]["kind"] == "model-file"
    assert record["decision"]["allow"] is False
    assert any(f["id"].startswith("MODEL-PICKLE") and f["severity"] == "critical" for f in record["findings"])


def test_a_pickle_whose_lines_read_as_requirements_is_still_judged_as_a_pickle(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cos`` and ``system`` are valid requirement names, and the same bytes make an unpickler
    import os.system: read as requirements (the kind), judged as a pickle too (the content)."""
    data = b"cos\nsystem\n"
    record = _gate(cli, monkeypatch, data)
    assert record["artifact"]["kind"] == "requirements"
    assert "MODEL-PICKLE-GLOBAL" in _ids(record)
    assert record["decision"]["allow"] is False
    # the same when the user says it is a requirements file
    forced = _gate(cli, monkeypatch, data, "--kind", "requirements")
    assert "MODEL-PICKLE-GLOBAL" in _ids(forced) and forced["decision"]["allow"] is False


def test_text_that_is_not_requirements_is_denied_as_nothing_to_judge(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vulnerable pin hidden among lines that are not requirements does not make a clean verdict."""
    record = _gate(cli, monkeypatch, VULNERABLE + b"this is not a requirement\n")
    assert record["artifact"]["kind"] == "model-file"
    assert "MODEL-NOTHING-TO-JUDGE" in _ids(record) and record["decision"]["allow"] is False


def test_kind_says_what_the_bytes_are(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _gate(cli, monkeypatch, VULNERABLE, "--kind", "model-file")
    assert record["artifact"]["kind"] == "model-file" and record["decision"]["allow"] is False


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"jinja2==3.1.6\n", ArtifactKind.REQUIREMENTS),
        (
            b"-r x.txt\n--index-url https://example.org/simple\nflask>=2; python_version > '3'\n",
            ArtifactKind.REQUIREMENTS,
        ),
        (b"# only a comment\n\n", ArtifactKind.MODEL_FILE),  # nothing that says requirements
        (b"jinja2==3.1.6\n[project]\n", ArtifactKind.MODEL_FILE),
        (b"jinja2==3.1.6\x00\n", ArtifactKind.MODEL_FILE),
        (b"\xff\xfejinja2\n", ArtifactKind.MODEL_FILE),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}', ArtifactKind.SBOM),
        # a long file: the head's last, cut line is not judged; the lines before it are
        (b"idna==3.7\n" * (HEAD_BYTES // 10 + 50), ArtifactKind.REQUIREMENTS),
        (b"idna==3.7\n" * (HEAD_BYTES // 10 - 2) + b"not a requirement\n" + b"x" * HEAD_BYTES, ArtifactKind.MODEL_FILE),
    ],
)
def test_unnamed_kind(tmp_path: Path, data: bytes, kind: ArtifactKind) -> None:
    path = tmp_path / "stdin"
    path.write_bytes(data)
    assert unnamed_kind(path) == kind
