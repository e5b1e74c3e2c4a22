"""Under an address-space limit (``ulimit -v 500000``) the policy engine's allocator would abort
the process with SIGABRT: the gate stops first with exit 2 and says why; scans still run."""

from __future__ import annotations

from tests.hostile.conftest import Hostile

SAFE = b"\x80\x04K\x01."


def test_gate_under_ulimit_v_fails_clearly(hostile: Hostile) -> None:
    model = hostile.work / "model.pkl"
    model.write_bytes(SAFE)
    for command in (("gate", model, "--no-ledger"), ("policy", "test")):
        out = hostile.run(*command)  # RLIMIT_AS = 500 MB, as `ulimit -v 500000`
        assert out.code == 2, out.text
        assert "address-space limit (ulimit -v / RLIMIT_AS) is 476 MiB" in out.err
        assert "Failed to initialise snmalloc" not in out.err


def test_scan_and_audit_work_under_the_same_limit(hostile: Hostile) -> None:
    model = hostile.work / "model.pkl"
    model.write_bytes(SAFE)
    assert hostile.run("scan", model, "--no-second-opinion").code == 0
    req = hostile.work / "requirements.txt"
    req.write_text("six==1.16.0\n")
    assert hostile.run("audit", req).code == 0


def test_gate_without_the_limit_decides(hostile: Hostile) -> None:
    model = hostile.work / "model.pkl"
    model.write_bytes(SAFE)
    out = hostile.run("gate", model, "--no-ledger", memory=False)
    assert out.code == 0, out.text
