"""A signature file beside an artifact swapped during the run that judges it.

The bundle beside an artifact decides its verdict without being part of its digest. The
attacker holds two bundles for the artifact: a valid one (real, from sigstore-python's test
assets) in place while the gate verifies it, and another artifact's bundle swapped in right
after. The verdict on the valid bundle must never be filed in the cache under the key of the
swapped-in one: the next run, which finds the invalid bundle, must judge it again (and deny).

The swap is made deterministic without touching our code: the run is a real ``scanner`` process
with a Python audit hook (``sys.addaudithook``) that waits for the process to open the bundle and
replaces it (``os.replace``, what an attacker with write access to the folder does) at the next
file the process opens — once the verifier has read it. Local batch workers are forked from the
driver, so they carry the hook.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.verify.conftest import ASSETS, GITHUB

WHL = "bundle_v3_github.whl"
WHL_ID = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"

# argv: TARGET REPLACEMENT COUNT_FILE -- scanner arguments...
SWAP_AFTER_READ = r"""
import os, sys

target, replacement, count_file = (os.path.abspath(a) for a in sys.argv[1:4])
state = {"opens": 0, "armed": False, "swapped": False}


def hook(event, args):
    if event != "open" or state["swapped"] or not args or isinstance(args[0], int):
        return
    try:
        path = os.path.abspath(os.fsdecode(args[0]))
    except TypeError:
        return
    if state["armed"]:  # the process opens something else: the bundle was read
        state["swapped"] = True
        os.replace(replacement, target)
        return
    if path == target:
        state["armed"] = True


def count(event, args):
    if event == "open" and args and not isinstance(args[0], int):
        try:
            if os.path.abspath(os.fsdecode(args[0])) == target:
                state["opens"] += 1
        except TypeError:
            pass


sys.addaudithook(count)
sys.addaudithook(hook)
import atexit

atexit.register(lambda: open(count_file, "a").write(f"{os.getpid()} {state['opens']}\n"))
from scanner.cli import main

main(sys.argv[5:])
"""


def _signed_wheel(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """The wheel beside its valid bundle, another artifact's bundle ready to swap in, and policy
    data naming the wheel's signer (the batch takes identities from the policy data)."""
    work = tmp_path / "work"
    work.mkdir()
    artifact = work / WHL
    shutil.copyfile(ASSETS / WHL, artifact)
    bundle = work / f"{WHL}.sigstore"
    shutil.copyfile(ASSETS / f"{WHL}.sigstore", bundle)
    other = tmp_path / "other.sigstore"
    shutil.copyfile(ASSETS / "bundle_v3.txt.sigstore", other)  # a real bundle, of another artifact
    data = json.loads((Path(__file__).resolve().parents[2] / "policies" / "data.json").read_text())
    data["scanner"]["config"]["signatures"]["allowed_identities"] = [{"identity": WHL_ID, "issuer": GITHUB}]
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    return artifact, bundle, other, data_file


def _attacked(
    tmp_path: Path, target: Path, replacement: Path, *args: str | Path
) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """``scanner ARGS`` in a process where ``target`` is replaced by ``replacement`` right after
    the process first read it; returns the run and how often each process opened ``target``."""
    counts = tmp_path / "opens.txt"
    counts.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", SWAP_AFTER_READ, target, replacement, counts, "--", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    opens = [int(line.split()[1]) for line in counts.read_text().splitlines()] if counts.exists() else []
    return proc, opens


def test_a_bundle_swapped_after_verification_is_never_answered_from_the_cache(cli, tmp_path: Path) -> None:
    artifact, bundle, other, data_file = _signed_wheel(tmp_path)
    valid = bundle.read_bytes()
    swapped_in = other.read_bytes()
    cache = tmp_path / "cache"
    flags = ["--stage", "staging", "--data", data_file, "--workers", "1", "--cache", cache, "--no-ledger", "-f", "json"]

    first, _ = _attacked(tmp_path, bundle, other, "batch", artifact, *flags, "--records", tmp_path / "rec1")
    assert first.returncode == 0, first.stdout + first.stderr
    [judged] = json.loads(first.stdout)["results"]
    assert judged["allow"] is True and judged["cached"] is False  # the gate saw the valid bundle
    assert bundle.read_bytes() == swapped_in  # ... and the attacker swapped it right after
    record = json.loads(Path(judged["record"]).read_text())
    assert record["inputs"]["signature_files"] == [
        {"path": str(bundle), "sha256": hashlib.sha256(valid).hexdigest(), "size": len(valid)}
    ]

    second = cli("batch", artifact, *flags, "--records", tmp_path / "rec2")
    [again] = json.loads(second.out)["results"]
    assert again["cached"] is False, "the verdict on the valid bundle was served for the swapped-in one"
    assert again["allow"] is False and second.code == 1
    assert "signature-invalid" in {d["rule"] for d in again["deny"]}

    # the valid bundle back in place: the verdict judged on it is found again
    bundle.write_bytes(valid)
    third = cli("batch", artifact, *flags, "--records", tmp_path / "rec3")
    [hit] = json.loads(third.out)["results"]
    assert hit["cached"] is True and hit["allow"] is True, third.err


def test_the_gate_reads_a_bundle_once_and_records_the_bytes_it_verified(tmp_path: Path) -> None:
    artifact, bundle, other, data_file = _signed_wheel(tmp_path)
    valid, swapped_in = bundle.read_bytes(), other.read_bytes()
    gate = ["gate", artifact, "--stage", "staging", "--data", data_file, "--no-ledger", "-f", "json"]
    run, opens = _attacked(tmp_path, bundle, other, *gate)
    assert run.returncode == 0, run.stdout + run.stderr
    assert opens == [1]  # the signature and the provenance checks share one read
    record = json.loads(run.stdout)
    assert record["decision"]["allow"] is True
    assert bundle.read_bytes() == swapped_in  # swapped after the read: the record names what was verified
    assert record["inputs"]["signature_files"] == [
        {"path": str(bundle), "sha256": hashlib.sha256(valid).hexdigest(), "size": len(valid)}
    ]
    [sig] = record["sections"]["signatures"]
    assert sig["verified"] is True and sig["bundle"] == str(bundle)
