"""Signature files are read once per run, and verification works from the bytes the run read.

Swaps are made with real filesystem operations at fixed moments: the walk's ``after_open`` hook
(``scanner.files.FileSet``: right after a file of the artifact was opened) and, for files beside
the artifact, a replacement made between two steps of the run (``DocumentReader``: reading
again in the same run returns the same bytes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.files import FileEntry, FileSet
from scanner.options import GateOptions, VerifyOptions
from scanner.pipeline import VERIFY, run
from scanner.verify.api import Options, verify_artifact
from scanner.verify.documents import MAX_BYTES, DocumentReader
from tests.verify.conftest import ASSETS, GITHUB, flip_byte
from tests.verify.test_model_signing import make_model, sign_with_key

WHL = "bundle_v3_github.whl"
WHL_ID = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"


def _signed_wheel(tmp_path: Path) -> tuple[Path, Path]:
    artifact = tmp_path / WHL
    shutil.copyfile(ASSETS / WHL, artifact)
    bundle = tmp_path / f"{WHL}.sigstore"
    shutil.copyfile(ASSETS / f"{WHL}.sigstore", bundle)
    return artifact, bundle


def _whl_options() -> GateOptions:
    return GateOptions(verify=VerifyOptions(cert_identity=WHL_ID, cert_oidc_issuer=GITHUB))


def test_a_file_read_again_in_the_same_run_gives_the_bytes_verified(tmp_path: Path) -> None:
    artifact, bundle = _signed_wheel(tmp_path)
    valid = bundle.read_bytes()
    reader = DocumentReader(FileSet(artifact))
    opts = Options(rules=Options.from_options(_whl_options().verify).rules)
    [first] = verify_artifact(artifact, bundle, opts, reader=reader)
    assert first.verified, first.error
    shutil.copyfile(ASSETS / "bundle_v3.txt.sigstore", bundle)  # another artifact's bundle swapped in
    [second] = verify_artifact(artifact, bundle, opts, reader=reader)
    assert second.verified and second.document == first.document
    assert first.document is not None and first.document.sha256 == hashlib.sha256(valid).hexdigest()
    assert reader.inputs([bundle, bundle]) == (first.document,)
    # a new run reads the file as it is now
    [fresh] = verify_artifact(artifact, bundle, opts)
    assert not fresh.verified and fresh.document is not None and fresh.document.sha256 != first.document.sha256


def test_the_verify_command_names_the_bytes_it_verified(tmp_path: Path) -> None:
    artifact, bundle = _signed_wheel(tmp_path)
    outcome = run(artifact, VERIFY, _whl_options())
    [signatures, provenance] = outcome.results
    expected = {"path": str(bundle), "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(), "size": 0}
    expected["size"] = bundle.stat().st_size
    assert [i.to_dict() for i in signatures.inputs] == [expected]
    assert [i.to_dict() for i in provenance.inputs] == [expected]  # peeked at for SLSA: the same read
    assert outcome.record["inputs"]["signature_files"] == [expected]
    from scanner.report.html import render

    page = render(outcome.record)  # the auditor's page names the file and the bytes verified
    assert f"sha256:{expected['sha256']}" in page and str(bundle) in page


def test_an_oversized_signature_file_is_named_without_a_digest(tmp_path: Path, keys) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"payload\n")
    big = tmp_path / "a.bin.sigstore.json"
    with big.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    outcome = run(artifact, VERIFY, GateOptions(verify=VerifyOptions(key=keys["signer"].public)))
    [entry] = outcome.record["inputs"]["signature_files"]
    assert entry == {"path": str(big), "sha256": None, "size": MAX_BYTES + 1}
    assert outcome.record["sections"]["signatures"][0]["error"].startswith("signature file is 16777217 bytes")


def test_a_signature_file_that_is_a_fifo_stops_the_run(tmp_path: Path, keys) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"payload\n")
    fifo = tmp_path / "sig.json"
    os.mkfifo(fifo)
    options = GateOptions(verify=VerifyOptions(key=keys["signer"].public, bundles=(fifo,)))
    with pytest.raises(ScanError, match="not a regular file"):
        run(artifact, VERIFY, options)


def test_a_model_signature_beside_the_model_is_verified_from_the_bytes_read(tmp_path: Path, keys) -> None:
    """model-signing reads a signature by path: it is given a private copy of the bytes the run
    read, so the file beside the model is opened once."""
    model = make_model(tmp_path)
    sig = sign_with_key(model, keys["signer"].private, model.with_name("tiny-model.sig"))
    valid = sig.read_bytes()
    reader = DocumentReader(FileSet(model))
    [first] = verify_artifact(model, sig, Options(key=keys["signer"].public), reader=reader)
    assert first.verified, first.error
    sig.write_bytes(b"{}")  # replaced after the read: the run keeps the bytes it verified
    [again] = verify_artifact(model, sig, Options(key=keys["signer"].public), reader=reader)
    assert again.verified and again.document == first.document
    assert first.document is not None and first.document.sha256 == hashlib.sha256(valid).hexdigest()


def test_a_model_signature_inside_the_model_replaced_after_the_walk_stops_the_run(tmp_path: Path, keys) -> None:
    """``model.sig`` is part of the artifact's digest (the walk hashed it): verifying other bytes
    under that digest would record a signature nobody checked against what was hashed."""
    model = make_model(tmp_path)
    sig = sign_with_key(model, keys["signer"].private, model / "model.sig")
    forged = tmp_path / "forged.sig"
    forged.write_bytes(sig.read_bytes().replace(b'"', b' "', 1))  # same content to a JSON reader
    swapped: list[str] = []

    def after_open(entry: FileEntry) -> None:
        if entry.rel == "model.sig" and not swapped:
            os.replace(forged, sig)  # the walk hashes the file it opened; the name now holds another
            swapped.append(entry.rel)

    options = GateOptions(verify=VerifyOptions(key=keys["signer"].public))
    with pytest.raises(ScanError, match="changed while the artifact was being read") as err:
        run(model, VERIFY, options, after_open=after_open)
    assert swapped and str(sig) in str(err.value)


def test_an_unchanged_model_signature_inside_the_model_verifies(tmp_path: Path, keys) -> None:
    model = make_model(tmp_path)
    sign_with_key(model, keys["signer"].private, model / "model.sig")
    outcome = run(model, VERIFY, GateOptions(verify=VerifyOptions(key=keys["signer"].public)))
    [sig] = outcome.record["sections"]["signatures"]
    assert sig["verified"] is True, sig
    [listed] = outcome.record["inputs"]["signature_files"]
    walked = {f["path"]: f["sha256"] for f in outcome.record["artifact"]["files"]}
    assert listed["sha256"] == walked["model.sig"]


def test_the_artifact_swapped_after_the_walk_is_verified_as_walked(tmp_path: Path) -> None:
    """The walk hashed a tampered wheel (its digest is the artifact's); the valid one is put back
    right after. The signature must be checked against the bytes the walk hashed, not the file
    as it is by then — else the tampered digest would be recorded as signed."""
    artifact, _bundle = _signed_wheel(tmp_path)
    valid = tmp_path / "valid.whl"
    shutil.copyfile(artifact, valid)
    flip_byte(artifact, 100)
    swapped: list[str] = []

    def after_open(entry: FileEntry) -> None:
        if not swapped:
            os.replace(valid, artifact)
            swapped.append(entry.rel)

    outcome = run(artifact, VERIFY, _whl_options(), after_open=after_open)
    assert swapped
    [sig] = outcome.record["sections"]["signatures"]
    assert sig["verified"] is False and "artifact changed" in sig["error"], sig
    assert (
        artifact.read_bytes() != b""
        and outcome.artifact.digest != "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()
    )


def test_a_model_file_swapped_after_the_walk_is_not_recorded_as_signed(tmp_path: Path, keys) -> None:
    """The walk hashes a tampered weights file (the artifact digest is made of it); the signed
    one is put back right after, before model-signing hashes the directory by name."""
    model = make_model(tmp_path)
    sign_with_key(model, keys["signer"].private, model.with_name("tiny-model.sig"))
    weights = model / "model.safetensors"
    signed = tmp_path / "signed.safetensors"
    shutil.copyfile(weights, signed)
    flip_byte(weights, 1000)
    swapped: list[str] = []

    def after_open(entry: FileEntry) -> None:
        if entry.rel == "model.safetensors" and not swapped:
            os.replace(signed, weights)
            swapped.append(entry.rel)

    options = GateOptions(verify=VerifyOptions(key=keys["signer"].public))
    with pytest.raises(ScanError, match=r"changed while the artifact was being read \(model.safetensors\)"):
        run(model, VERIFY, options, after_open=after_open)
    assert swapped
    # the same model, unchanged, verifies
    outcome = run(model, VERIFY, options)
    assert outcome.record["sections"]["signatures"][0]["verified"] is True
