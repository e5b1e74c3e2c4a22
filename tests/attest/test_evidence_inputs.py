"""Attestation files given with ``--attestation`` are evidence the verdict rests on: each is read
once, evaluated from those bytes, and named in the evidence record (``inputs.signature_files``:
path, sha256, size of exactly the bytes evaluated), in the reports and in the gate's own signed
summary (``inputAttestations``) — never hashed again after the decision, when the file may
hold something else.

The swap is made deterministic without touching our code: the gate runs as a real ``scanner``
process with a Python audit hook that replaces the attestation file right after the process read
it (``tests.batch.test_beside_swap``)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from tests.attest.conftest import CDX, data_file, make_model, metrics_bom, write_json
from tests.batch.test_beside_swap import _attacked


def _attest(cli, model: Path, key: Path, out: Path, **metrics: float) -> Path:
    pred = write_json(out.with_suffix(".predicate.json"), metrics_bom(**metrics))
    run = cli("attest", model, "--predicate-type", CDX, "--predicate", pred, "--sign-key", key, "-o", out)
    assert run.code == 0, run.err
    return out


def _listed(path: Path, raw: bytes) -> dict[str, object]:
    return {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}


def test_an_attestation_swapped_after_evaluation_is_recorded_as_evaluated(cli, tmp_path: Path, keys) -> None:
    model = make_model(tmp_path / "sentiment", [1.0, 2.0])
    valid = _attest(cli, model, keys["eval"].private, tmp_path / "eval.dsse.json", accuracy=0.95)
    forged = _attest(cli, model, keys["other"].private, tmp_path / "forged.dsse.json", accuracy=0.5)
    evaluated, swapped_in = valid.read_bytes(), forged.read_bytes()
    data = data_file(tmp_path, staging={"quality": {"min": {"accuracy": 0.9}, "signed_only": True}})
    vsa = tmp_path / "vsa.json"
    run, opens = _attacked(
        tmp_path, valid, forged,
        "gate", model, "--stage", "staging", "--data", data, "--no-ledger", "-f", "json",
        "--attestation", valid, "--attestation-key", keys["eval"].public,
        "--sign-key", keys["gate"].private, "--attestation-output", vsa,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert valid.read_bytes() == swapped_in  # the attacker swapped it right after the gate read it
    assert opens == [1]  # read once
    record = json.loads(run.stdout)
    assert record["decision"]["allow"] is True
    assert record["quality"]["metrics"]["accuracy"]["value"] == 0.95  # what was evaluated
    assert record["inputs"]["signature_files"] == [_listed(valid, evaluated)]

    # the gate's signed summary names the same bytes, not the file as it is now
    envelope = json.loads(vsa.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    inputs = statement["predicate"]["inputAttestations"]
    assert {"uri": valid.resolve().as_uri(), "digest": {"sha256": hashlib.sha256(evaluated).hexdigest()}} in inputs
    assert hashlib.sha256(swapped_in).hexdigest() not in json.dumps(inputs)


def test_attestation_files_are_listed_once_in_the_record_and_the_reports(cli, tmp_path: Path, keys) -> None:
    model = make_model(tmp_path / "sentiment", [1.0, 2.0])
    good = _attest(cli, model, keys["eval"].private, tmp_path / "eval.dsse.json", accuracy=0.95)
    untrusted = _attest(cli, model, keys["other"].private, tmp_path / "other.dsse.json", accuracy=0.99)
    not_json = tmp_path / "broken.json"
    not_json.write_bytes(b"{not json")
    data = data_file(tmp_path, dev={"quality": {"min": {"accuracy": 0.9}}})
    out = tmp_path / "record.json"
    run = cli(
        "gate", model, "--stage", "dev", "--data", data, "--no-ledger", "-q",
        "--attestation", good, "--attestation", untrusted, "--attestation", not_json, "--attestation", good,
        "--attestation-key", keys["eval"].public, "-f", f"json={out}",
    )  # fmt: skip
    assert run.code in (0, 1), run.err
    record = json.loads(out.read_text())
    # every file evaluated (counted or not), once, with the bytes evaluated
    assert record["inputs"]["signature_files"] == [
        _listed(good, good.read_bytes()),
        _listed(untrusted, untrusted.read_bytes()),
        _listed(not_json, not_json.read_bytes()),
    ]
    from scanner.report.html import render as html
    from scanner.report.markdown import render as markdown
    from scanner.textsafe import markdown as md_text

    page, text = html(record), markdown(record)
    for path in (good, untrusted, not_json):
        digest = f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        assert str(path) in page and digest in page
        assert md_text(str(path)) in text and f"`{digest}`" in text
    from tests.batch.test_beside_key import _valid

    _valid(record)


def test_a_file_verified_as_a_signature_and_evaluated_as_an_attestation_is_read_once(cli, tmp_path: Path, keys) -> None:
    """One file named by ``--bundle`` and ``--attestation``: the signature check and the
    attestation evaluation must judge the same bytes, and the record name those (a second read
    would evaluate what the attacker put there in between, under the digest of the first)."""
    model = make_model(tmp_path / "sentiment", [1.0, 2.0])
    valid = _attest(cli, model, keys["eval"].private, tmp_path / "eval.dsse.json", accuracy=0.95)
    forged = _attest(cli, model, keys["other"].private, tmp_path / "forged.dsse.json", accuracy=0.5)
    evaluated = valid.read_bytes()
    data = data_file(tmp_path, dev={"quality": {"min": {"accuracy": 0.9}, "signed_only": True}})
    run, opens = _attacked(
        tmp_path, valid, forged,
        "gate", model, "--stage", "dev", "--data", data, "--no-ledger", "-f", "json",
        "--bundle", valid, "--key", keys["eval"].public,
        "--attestation", valid, "--attestation-key", keys["eval"].public,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert opens == [1]
    record = json.loads(run.stdout)
    assert [s["verified"] for s in record["sections"]["signatures"]] == [True]
    assert [a["counted"] for a in record["quality"]["attestations"]] == [True]
    assert record["quality"]["metrics"]["accuracy"]["value"] == 0.95
    assert record["inputs"]["signature_files"] == [_listed(valid, evaluated)]


def test_an_attestation_named_through_a_link_or_a_fifo_stops_the_gate(cli, tmp_path: Path, keys) -> None:
    model = make_model(tmp_path / "sentiment", [1.0, 2.0])
    valid = _attest(cli, model, keys["eval"].private, tmp_path / "eval.dsse.json", accuracy=0.95)
    link = tmp_path / "link.dsse.json"
    link.symlink_to(valid)
    fifo = tmp_path / "fifo.dsse.json"
    os.mkfifo(fifo)
    for named, what in ((link, "is a symlink: not read"), (fifo, "not a regular file")):
        run = cli("gate", model, "--stage", "dev", "--no-ledger", "--attestation", named, "-q")
        assert run.code == 2 and str(named) in run.err and what in run.err, run.err
