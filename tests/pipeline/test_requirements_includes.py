"""A requirements file judged alone is the file plus every file it includes with ``-r``: each is
read once, hashed, listed in the record, and the artifact digest covers them all, so two runs
with the same digest judged the same dependencies (and a verdict keyed by the digest is not
stale). Includes stay confined to the file's own folder, regular files only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from scanner.check import Check, CheckResult, GateContext
from scanner.core import ScanError
from scanner.options import GateOptions


def _project(tmp_path: Path, deeper: str = "six==1.16.0\n") -> Path:
    """requirements.txt -r other.txt -r more/deeper.txt (the vulnerable pin, if any, is only in
    the deepest file)."""
    project = tmp_path / "app"
    (project / "more").mkdir(parents=True)
    (project / "requirements.txt").write_text("-r other.txt\nsix==1.16.0\n")
    (project / "other.txt").write_text("-r more/deeper.txt\n-c constraints.txt\n")
    (project / "constraints.txt").write_text("six<2\n")
    (project / "more" / "deeper.txt").write_text(deeper)
    return project / "requirements.txt"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _audit(cli, path: Path) -> dict[str, Any]:
    r = cli("audit", path, "-f", "json", "--fail-on", "none")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _known(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["evidence"]["package"], f["evidence"]["vuln_id"]) for f in record["findings"] if f["id"] == "VULN-KNOWN"}


def test_a_lone_file_without_includes_keeps_the_digest_of_its_bytes(cli, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    assert _audit(cli, req)["artifact"]["digest"] == "sha256:" + _sha(req)


def test_changing_an_included_file_changes_the_digest(cli, tmp_path: Path) -> None:
    req = _project(tmp_path)
    before = _audit(cli, req)["artifact"]["digest"]
    assert before != "sha256:" + _sha(req)  # more than the named file's bytes
    assert _audit(cli, req)["artifact"]["digest"] == before  # and stable
    (req.parent / "more" / "deeper.txt").write_text("six==1.16.0\n\n")
    assert _audit(cli, req)["artifact"]["digest"] != before


def test_the_record_and_the_sbom_list_every_included_file(cli, tmp_path: Path) -> None:
    req = _project(tmp_path)
    gate = cli("gate", req, "--stage", "dev", "--no-ledger", "-f", "json")
    assert gate.code in (0, 1), gate.err
    record = json.loads(gate.out)
    files = {f["path"]: f["sha256"] for f in record["artifact"]["files"]}
    project = req.parent
    assert files == {
        "requirements.txt": _sha(req),
        "other.txt": _sha(project / "other.txt"),
        "more/deeper.txt": _sha(project / "more" / "deeper.txt"),
    }  # a constraints file is not read (it only narrows versions): not part of what was judged
    lines = sorted(f"{p}\0{h}\n".encode() for p, h in files.items())
    assert record["artifact"]["digest"] == "sha256:" + hashlib.sha256(b"".join(lines)).hexdigest()
    bom = json.loads(cli("sbom", req).out)
    root = {p["name"]: p["value"] for p in bom["metadata"]["component"].get("properties", [])}
    assert root["scanner:input"] == "requirements:requirements.txt,requirements:other.txt,requirements:more/deeper.txt"


def test_a_vulnerable_pin_only_in_an_included_file_is_found_by_every_command(cli, tmp_path: Path) -> None:
    req = _project(tmp_path, deeper="jinja2==2.11.2\n")
    bom = json.loads(cli("sbom", req).out)
    audit = _audit(cli, req)
    scan = json.loads(cli("scan", req, "-f", "json", "--no-second-opinion").out)
    gate_run = cli("gate", req, "--stage", "dev", "--no-ledger", "-f", "json")
    assert gate_run.code in (0, 1), gate_run.err
    gate = json.loads(gate_run.out)
    props = {p["name"]: p["value"] for p in bom["metadata"].get("properties", [])}
    digests = {props["scanner:artifact-digest"], audit["artifact"]["digest"], scan["artifact"]["digest"]}
    assert digests == {gate["artifact"]["digest"]}
    assert ("jinja2", "PYSEC-2021-66") in _known(audit)
    assert _known(audit) == _known(gate)
    assert "pkg:pypi/jinja2@2.11.2" in {c.get("purl") for c in bom["components"]}


def test_batch_identifies_a_requirements_file_by_its_includes_too(cli, tmp_path: Path) -> None:
    """The batch cache keys a verdict by the artifact digest: an included file changed, the key
    changed, the new dependency judged (not an old 'allowed' from the cache)."""
    req = _project(tmp_path)
    flags = ["--workers", "1", "--cache", tmp_path / "cache", "--records", tmp_path / "rec", "--no-ledger"]

    def batch() -> dict[str, Any]:
        r = cli("batch", req, *flags, "-f", "json")
        result: dict[str, Any] = json.loads(r.out)["results"][0]
        return result

    first = batch()
    gate = json.loads(cli("gate", req, "--stage", "dev", "--no-ledger", "-f", "json").out)
    assert first["digest"] == gate["artifact"]["digest"] and first["cached"] is False
    assert batch()["cached"] is True
    (req.parent / "more" / "deeper.txt").write_text("jinja2==2.11.2\n")
    third = batch()
    assert third["cached"] is False and third["digest"] != first["digest"]


def test_in_a_directory_the_included_files_are_covered_by_its_digest(cli, tmp_path: Path) -> None:
    req = _project(tmp_path)
    project = req.parent
    before = _audit(cli, project)
    assert {f["path"] for f in before["artifact"]["files"]} >= {"other.txt", "more/deeper.txt"}
    (project / "more" / "deeper.txt").write_text("jinja2==2.11.2\n")
    after = _audit(cli, project)
    assert after["artifact"]["digest"] != before["artifact"]["digest"]
    assert ("jinja2", "PYSEC-2021-66") in _known(after)


@pytest.mark.parametrize("command", ["gate", "sbom", "scan"])
def test_an_include_outside_the_folder_a_link_or_a_fifo_is_still_refused(cli, tmp_path: Path, command: str) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (tmp_path / "secret.txt").write_text("six==1.16.0\n")
    (project / "link.txt").symlink_to(tmp_path / "secret.txt")
    os.mkfifo(project / "pipe.txt")
    req = project / "requirements.txt"
    extra = ["--no-ledger"] if command == "gate" else []
    for target in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "pipe.txt", "missing.txt"):
        req.write_text(f"six==1.16.0\n-r {target}\n")
        r = cli(command, req, *extra)
        assert r.code == 2, (target, r.out, r.err)
        assert target.rsplit("/", 1)[-1] in r.err and "Traceback" not in r.err, r.err


class _RewriteInclude(Check):
    """Rewrites an included file after the run hashed the artifact (same size, other pin)."""

    name = "rewrite-include"

    def __init__(self, target: Path) -> None:
        self.target = target

    def examine(self, files: Any, options: GateOptions) -> Any:
        files.artifact_digest()
        self.target.write_text("jinja2==2.11.2\n".replace("2.11.2", "2.11.3"))
        return None

    def run(self, ctx: GateContext) -> CheckResult:
        return CheckResult(check=self.name, findings=[])


def test_an_included_file_rewritten_after_it_was_hashed_stops_the_run(tmp_path: Path) -> None:
    from scanner.pipeline import Stages, run

    req = _project(tmp_path, deeper="jinja2==2.11.2\n")
    stages = Stages("sbom", checks=frozenset({"rewrite-include"}))
    with pytest.raises(ScanError, match="changed"):
        run(req, stages, GateOptions(), checks=[_RewriteInclude(req.parent / "more" / "deeper.txt")])


def test_includes_reached_twice_or_in_a_cycle_are_read_once(cli, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "a.txt").write_text("-r b.txt\n-r requirements.txt\njinja2==2.11.2\n")
    (project / "b.txt").write_text("-r a.txt\nsix==1.16.0\n")
    req = project / "requirements.txt"
    req.write_text("-r a.txt\n-r b.txt\n")
    record = _audit(cli, req)
    assert sorted(f["path"] for f in record["artifact"]["files"]) == ["a.txt", "b.txt", "requirements.txt"]
    assert ("jinja2", "PYSEC-2021-66") in _known(record)


def test_includes_nested_too_deeply_stop_the_run(cli, tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\n")
    (tmp_path / "r12.txt").write_text("six==1.16.0\n")
    r = cli("sbom", tmp_path / "r0.txt")
    assert r.code == 2 and "nested too deeply" in r.err, r.err


def test_the_file_set_reads_nothing_beyond_its_members(tmp_path: Path) -> None:
    from scanner.artifact import file_set
    from scanner.core import ArtifactKind

    req = _project(tmp_path)
    files = file_set(req, ArtifactKind.REQUIREMENTS)
    assert files.members() == ["other.txt", "more/deeper.txt"]
    assert files.read_bytes(req.parent / "other.txt", 1 << 20) == (req.parent / "other.txt").read_bytes()
    with pytest.raises(ScanError, match="not part of the artifact"):
        files.read_bytes(req.parent / "constraints.txt", 1 << 20)
    (req.parent / "other.txt").write_text("-r more/deeper.txt\n-c constraintz.txt\n")  # same size, other bytes
    with pytest.raises(ScanError, match="changed"):
        files.read_bytes(req.parent / "other.txt", 1 << 20)
