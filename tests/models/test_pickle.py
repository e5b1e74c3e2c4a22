"""The pickle analyser on hand-written opcode streams: resolution, bounds, settings."""

from __future__ import annotations

import io
import pickle
import tracemalloc

import pytest

from scanner.core import Severity
from scanner.models import globals_policy as gp
from scanner.models.api import FormatContext
from scanner.models.pickle_scan import PickleScan
from tests.models.corpus import System, memo_split, proto4, sbu, stack_global


def scan(data: bytes, **settings):  # type: ignore[no-untyped-def]
    return PickleScan(io.BytesIO(data), len(data), "m.pkl", FormatContext(settings=settings)).run()


def test_memo_resolution_names_global_and_offset() -> None:
    data = memo_split()
    (f,) = scan(data)
    assert (f.id, f.evidence["global"], f.severity) == ("MODEL-PICKLE-GLOBAL", "builtins.eval", Severity.CRITICAL)
    assert data[f.evidence["offset"]] == 0x93  # the STACK_GLOBAL opcode


def test_python2_names_are_mapped_like_the_unpickler() -> None:
    assert gp.map_py2("__builtin__", "eval") == ("builtins", "eval")
    assert gp.map_py2("commands", "getoutput") == ("subprocess", "getoutput")
    assert gp.judge("copy_reg", "_reconstructor").kind == gp.SAFE


def test_submodules_of_denied_modules_are_denied() -> None:
    assert gp.judge("os.path", "join").kind == gp.DENIED
    assert gp.judge("asyncio.subprocess", "create_subprocess_exec").severity == Severity.CRITICAL
    assert gp.judge("torch._utils", "_rebuild_tensor_v2").kind == gp.SAFE
    assert gp.judge("collections", "OrderedDict").kind == gp.SAFE
    assert gp.judge("builtins", "print").kind == gp.DENIED
    assert gp.judge("sklearn.linear_model._base", "LinearRegression").kind == gp.SAFE
    assert gp.judge("__torch__.Net", "forward").kind == gp.UNKNOWN
    assert gp.judge("__torch__", "Net", torchscript=True).kind == gp.SAFE


def test_unknown_global_severity_is_configurable() -> None:
    data = proto4(stack_global("mylib", "Thing", "arg"))  # called with an argument
    (f,) = scan(data)
    assert (f.id, f.severity, f.evidence["use"]) == ("MODEL-PICKLE-UNKNOWN-GLOBAL", Severity.MEDIUM, "called")
    (f,) = scan(data, model_unknown_global_severity=Severity.LOW)
    assert f.severity == Severity.LOW


def test_unknown_class_only_instantiated_is_low() -> None:
    (f,) = scan(proto4(sbu("mylib") + sbu("Thing") + b"\x93)\x81"))
    assert (f.id, f.severity, f.evidence["use"]) == ("MODEL-PICKLE-UNKNOWN-GLOBAL", Severity.LOW, "reconstructed")
    assert "NEWOBJ" in f.evidence["how"] and "mylib.Thing" in f.message


def test_repeated_global_is_one_finding_with_a_count() -> None:
    body = stack_global("os", "system", "a") + b"0" + stack_global("os", "system", "b")
    (f,) = scan(proto4(body))
    assert f.evidence["count"] == 2 and f.evidence["global"] == "os.system"


def test_payload_before_a_broken_stream_is_still_reported() -> None:
    data = b"\x80\x04" + stack_global("subprocess", "run", "true") + b"\x00"
    ids = [f.id for f in scan(data)]
    assert ids == ["MODEL-PICKLE-GLOBAL", "MODEL-PICKLE-MALFORMED"]


def test_stacked_pickles_are_all_analysed() -> None:
    data = b"".join(pickle.dumps(x, protocol=p) for p, x in ((2, 1), (4, [1, 2]), (0, "x"), (3, System())))
    (f,) = scan(data)
    assert f.evidence["global"] in ("posix.system", "nt.system")


def test_benign_pickles_of_plain_data_are_clean() -> None:
    import collections

    for proto in range(6):
        value = {
            "a": [1, 2.5, "x", b"y", None, True],
            "o": collections.OrderedDict(b=(1, 2)),
            "s": {1},
            "f": frozenset(),
        }
        assert scan(pickle.dumps(value, protocol=proto)) == []


def test_large_payloads_are_skipped_not_read() -> None:
    blob = b"\x80\x04\x8e" + (32 << 20).to_bytes(8, "little") + bytes(32 << 20) + b"."
    stream = io.BytesIO(blob)
    tracemalloc.start()
    findings = PickleScan(stream, len(blob), "big.pkl", FormatContext()).run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert findings == [] and peak < 2 << 20


def test_declared_size_past_the_end_is_malformed_not_allocated() -> None:
    (f,) = scan(b"\x80\x04\x8e" + (1 << 62).to_bytes(8, "little") + b"x.")
    assert f.id == "MODEL-PICKLE-MALFORMED" and "past the end" in f.message


@pytest.mark.parametrize(
    "data",
    [b"\x80\x06N.", b"\x80\x04h\x05.", b"\x80\x04R.", b"\x80\x04(t", b"\x80\x04" + b"(" * 10000],
)
def test_malformed_streams_become_findings(data: bytes) -> None:
    assert [f.id for f in scan(data)] == ["MODEL-PICKLE-MALFORMED"]


def test_ext_opcodes_are_dynamic() -> None:
    (f,) = scan(proto4(b"\x82\x01)R"))
    assert f.id == "MODEL-PICKLE-DYNAMIC-GLOBAL" and f.severity == Severity.HIGH


def test_dotted_names_are_judged_by_every_attribute() -> None:
    assert gp.judge("torch._utils", "os.system").severity == Severity.CRITICAL
    assert gp.judge("collections", "OrderedDict.__init__.__globals__").kind == gp.DENIED
    assert gp.judge("mylib", "Outer.Inner").kind == gp.UNKNOWN
    (f,) = scan(proto4(sbu("torch") + sbu("_utils.subprocess.run") + b"\x93" + b")R"))
    assert (f.id, f.evidence["global"], f.severity) == (
        "MODEL-PICKLE-GLOBAL",
        "torch._utils.subprocess.run",
        Severity.CRITICAL,
    )
