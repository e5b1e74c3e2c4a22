"""Real models pass at the default threshold; the malicious twin of each still fails.

The files are written by the libraries (scikit-learn/joblib, numpy, torch) or byte for byte the
way the library writes them (gensim under Python 2, Lightning, TFLite): see real_models.py.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import pytest

from scanner.core import Finding, Severity
from scanner.formats import sniff
from scanner.models import globals_policy as gp
from scanner.models.api import FormatContext
from scanner.models.pickle_scan import PickleScan
from tests.models.corpus import proto4, sbu, stack_global
from tests.models.real_models import RealSample, build_real_models, gensim_py2, tflite

DEFAULT_FAIL_ON = Severity.LOW


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RealSample], dict[str, list[Finding]]]:
    from scanner.models.dispatch import scan_path

    root = tmp_path_factory.mktemp("real-models")
    samples = build_real_models(root)
    found: dict[str, list[Finding]] = defaultdict(list)
    for f in scan_path(root).findings:
        found[Path(f.subject.split("!", 1)[0]).name].append(f)
    return root, samples, found


def test_benign_files_pass_at_the_default_threshold(real) -> None:  # type: ignore[no-untyped-def]
    _, samples, found = real
    benign = [s for s in samples if not s.expect]
    assert len(benign) >= 13
    blocking = {
        s.name: [(f.id, f.severity.value, f.message) for f in found[s.name] if f.severity >= DEFAULT_FAIL_ON]
        for s in benign
    }
    assert {k: v for k, v in blocking.items() if v} == {}
    for s in benign:  # what is reported at info names what it is about
        text = " ".join(f.message for f in found[s.name])
        assert all(name in text for name in s.info), (s.name, text)


def test_malicious_twins_still_fail(real) -> None:  # type: ignore[no-untyped-def]
    _, samples, found = real
    evil = [s for s in samples if s.expect]
    assert len(evil) >= 9
    for s in evil:
        blocking = {f.id for f in found[s.name] if f.severity >= DEFAULT_FAIL_ON}
        assert s.expect <= blocking, (s.name, blocking)


def test_each_decision_keeps_its_evidence(real) -> None:  # type: ignore[no-untyped-def]
    _, _, found = real
    (cfg,) = found["nanogpt_ckpt.pt"]
    assert (cfg.severity, cfg.evidence["global"], cfg.evidence["use"]) == (
        Severity.INFO,
        "__main__.GPTConfig",
        "reconstructed",
    )
    assert "NEWOBJ" in cfg.evidence["how"] and "loading program" in cfg.evidence["decision"]
    call = next(f for f in found["nanogpt_main_call.pt"] if f.evidence["global"] == "__main__._train")
    assert (call.severity, call.evidence["use"]) == (Severity.MEDIUM, "called")
    assert "REDUCE" in call.evidence["how"]
    evil = next(f for f in found["gensim_word2vec_py2_evil.model"] if f.severity >= DEFAULT_FAIL_ON)
    assert (evil.evidence["global"], evil.evidence["resolved"], evil.severity) == (
        "__builtin__.eval",
        "builtins.eval",
        Severity.CRITICAL,
    )


def scan(data: bytes) -> list[Finding]:
    return PickleScan(io.BytesIO(data), len(data), "m.pkl", FormatContext()).run()


def test_python2_names_are_judged_as_their_python3_twins() -> None:
    for module, name in (("__builtin__", "xrange"), ("__builtin__", "long"), ("copy_reg", "_reconstructor")):
        assert gp.judge(module, name).kind == gp.SAFE, (module, name)
    assert gp.judge("__builtin__", "reduce").kind == gp.DENIED  # functools.reduce calls what it is given
    assert gp.judge("__builtin__", "eval").severity == Severity.CRITICAL


def test_long_protocol_0_argument_is_streamed_with_bounded_memory() -> None:
    import tracemalloc

    data = gensim_py2()
    longest = max(len(line) for line in data.split(b"\n"))
    assert longest > 158_000
    tracemalloc.start()
    findings = scan(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert findings == [] and peak < 4 * longest  # the line is never held whole (buffers + walk state)
    quoted = b"S'" + b"a" * 300_000 + b"\n."  # a long STRING without its closing quote is still malformed
    assert [f.id for f in scan(quoted)] == ["MODEL-PICKLE-MALFORMED"]
    name = b"c" + b"m" * 70_000 + b"\nx\n."
    assert "name longer" in scan(name)[0].message


@pytest.mark.parametrize(
    ("body", "use", "severity"),
    [
        (sbu("mylib") + sbu("Cfg") + b"\x93)\x81", "reconstructed", Severity.LOW),  # NEWOBJ
        (sbu("__main__") + sbu("Cfg") + b"\x93)\x81", "reconstructed", Severity.INFO),
        (stack_global("__main__", "run", "x"), "called", Severity.MEDIUM),  # REDUCE with an argument
        (stack_global("mylib", "Cfg", "x"), "called", Severity.MEDIUM),
        # copyreg._reconstructor(cls, object, None) reconstructs; an unknown base is called
        (
            sbu("copyreg") + sbu("_reconstructor") + b"\x93" + sbu("mylib") + sbu("Cfg") + b"\x93"
            + sbu("builtins") + sbu("object") + b"\x93N\x87R",
            "reconstructed",
            Severity.LOW,
        ),
        (
            sbu("copyreg") + sbu("_reconstructor") + b"\x93" + sbu("builtins") + sbu("list") + b"\x93"
            + sbu("mylib") + sbu("Base") + b"\x93N\x87R",
            "called",
            Severity.MEDIUM,
        ),
        # handed to a callable that calls it: torch's _rebuild_from_type_v2(func, type, args, state)
        (
            sbu("torch._tensor") + sbu("_rebuild_from_type_v2") + b"\x93(" + sbu("__main__") + sbu("run") + b"\x93"
            + sbu("torch") + sbu("Tensor") + b"\x93" + sbu("x") + b"\x85}tR",
            "called",
            Severity.MEDIUM,
        ),
        # only stored as a value
        (b"}" + sbu("k") + sbu("gensim.models.word2vec") + sbu("Word2Vec") + b"\x93s", None, None),
    ],
)  # fmt: skip
def test_severity_follows_the_use(body: bytes, use: str | None, severity: Severity | None) -> None:
    findings = scan(proto4(body))
    if use is None:
        assert findings == []
        return
    (f,) = findings
    assert (f.id, f.evidence["use"], f.severity) == ("MODEL-PICKLE-UNKNOWN-GLOBAL", use, severity)


def test_hiding_a_call_behind_a_container_is_still_a_call() -> None:
    # tuple([__main__.run, ...]) built at load time, then used as the arguments of a rebuild helper
    body = (
        sbu("torch._tensor") + sbu("_rebuild_from_type_v2") + b"\x93"
        + sbu("builtins") + sbu("tuple") + b"\x93" + b"](" + sbu("__main__") + sbu("run") + b"\x93"
        + sbu("torch") + sbu("Tensor") + b"\x93" + sbu("x") + b"\x85}e\x85R" + b"R"
    )  # fmt: skip
    (f,) = scan(proto4(body))
    assert (f.evidence["global"], f.evidence["use"], f.severity) == ("__main__.run", "called", Severity.MEDIUM)


def test_gensim_classes_are_safe_to_reconstruct_but_not_to_call() -> None:
    assert scan(proto4(sbu("gensim.models.word2vec") + sbu("Word2Vec") + b"\x93)\x81}b")) == []
    (f,) = scan(proto4(stack_global("gensim.models.word2vec", "Word2Vec", "corpus.txt")))
    assert f.severity == Severity.MEDIUM and "only to reconstruct" in f.evidence["decision"]


def test_bypass_classes_stay_caught() -> None:
    # dotted attribute traversal, code objects, __main__ callables, py2 spellings
    cases = {
        ("torch.serialization", "os.system"): Severity.CRITICAL,
        ("pathlib", "Path.write_text"): Severity.HIGH,
        ("marshal", "loads"): Severity.CRITICAL,
        ("types", "FunctionType"): Severity.CRITICAL,
        ("types", "CodeType"): Severity.CRITICAL,
        ("__builtin__", "getattr"): Severity.CRITICAL,
        ("copy_reg", "_reconstructor.__globals__"): Severity.CRITICAL,
        ("__main__", "os.system"): Severity.CRITICAL,
    }
    for (module, name), severity in cases.items():
        for use in gp.Use:
            j = gp.judge_use(module, name, use)
            assert (j.rule, j.severity) == (gp.RULE_GLOBAL, severity), (module, name, use)


def test_tflite_is_sniffed_apart_from_protobuf() -> None:
    data = tflite([(3, None)])
    for name in ("model.tflite", "model.pb", "model.onnx", "weights.bin"):
        assert sniff.sniff(data[: sniff.HEAD_BYTES], len(data), name) == sniff.TFLITE
    assert sniff.sniff(b"\x08\x07\x12\x04\xff\x00\x01\x02", 8, "model.tflite") == sniff.PROTOBUF


def test_hostile_tflite_is_unscannable_not_clean(tmp_path: Path) -> None:
    from scanner.models.dispatch import scan_path

    good = tflite([(32, "FlexAddV2")])
    cases = {
        "truncated.tflite": good[: len(good) // 2],
        "bad_root.tflite": b"\xf0\xff\x00\x00TFL3" + good[8:],
        "version.tflite": good.replace(b"\x03\x00\x00\x00", b"\x07\x00\x00\x00", 1),
        "no_identifier.tflite": good[:4] + b"XXXX" + good[8:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    verdicts = {Path(f.path).name: f.verdict for f in scan_path(tmp_path).files}
    assert verdicts == dict.fromkeys(cases, "unscannable")


def test_cli_passes_a_real_model_dir_with_the_second_opinion(cli, real, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, samples, _ = real
    benign = tmp_path / "benign"
    benign.mkdir()
    for s in samples:
        if not s.expect and s.name.endswith((".pt", ".ckpt", ".pkl", ".npy", ".joblib")):
            (benign / s.name).write_bytes((root / s.name).read_bytes())
    r = cli("scan", benign, "-f", "json")
    doc = json.loads(r.out)
    assert r.code == 0, [(f["id"], f["subject"], f["severity"]) for f in doc["findings"]]


def test_state_onto_an_imported_object_and_calling_a_built_object_are_caught() -> None:
    # BUILD onto a class (patches its attributes); the pickler never writes this
    (f,) = scan(proto4(sbu("collections") + sbu("OrderedDict") + b"\x93}" + sbu("x") + b"Nsb"))
    assert (f.id, f.severity) == ("MODEL-PICKLE-GLOBAL", Severity.HIGH) and "BUILD" in f.message
    # an instance reconstructed, then called with the file's arguments (its __call__ runs)
    body = sbu("torch.nn.modules.linear") + sbu("Linear") + b"\x93)\x81" + sbu("x") + b"\x85R"
    (f,) = scan(proto4(body))
    assert (f.id, f.severity) == ("MODEL-PICKLE-DYNAMIC-GLOBAL", Severity.HIGH)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("gensim.models.keyedvectors", "KeyedVectors.load"),
        ("gensim.utils", "unpickle"),
        ("torch.nn.modules.module", "Module.load_state_dict"),
        ("pathlib", "Path.write_text"),
    ],
)
def test_loaders_reached_through_safe_names_are_denied(module: str, name: str) -> None:
    for use in gp.Use:
        assert gp.judge_use(module, name, use).severity >= Severity.HIGH


def test_a_class_safe_to_reconstruct_is_denied_when_called_for_io() -> None:
    assert gp.judge_use("numpy", "memmap", gp.Use.RECONSTRUCTED).rule is None
    assert gp.judge_use("numpy", "memmap", gp.Use.CALLED).severity == Severity.HIGH


def test_enum_members_looked_up_by_value_are_not_calls() -> None:
    lookup = sbu("transformers.trainer_utils") + sbu("IntervalStrategy") + b"\x93" + sbu("steps") + b"\x85R"
    assert scan(proto4(lookup)) == []
    # the same enum called with something other than one constant is judged as a call
    call = sbu("transformers.trainer_utils") + sbu("IntervalStrategy") + b"\x93" + sbu("a") + sbu("b") + b"\x86R"
    (f,) = scan(proto4(call))
    assert (f.evidence["use"], f.severity) == ("called", Severity.MEDIUM)


def test_hydra_config_in_checkpoint_hparams_is_reconstructed_only() -> None:
    # the shape of a pickled omegaconf DictConfig: NEWOBJ + BUILD with metadata dataclasses, nodes
    # and typing references (omegaconf/basecontainer.py __getstate__)
    def newobj(module: str, name: str, state: bytes) -> bytes:
        return sbu(module) + sbu(name) + b"\x93)\x81" + state + b"b"

    meta = newobj("omegaconf.base", "ContainerMetadata", b"}" + sbu("key_type") + sbu("typing") + sbu("Any") + b"\x93s")
    node = newobj("omegaconf.nodes", "AnyNode", b"}" + sbu("_val") + sbu("0.001") + b"s")
    body = newobj(
        "omegaconf.dictconfig",
        "DictConfig",
        b"}" + sbu("_metadata") + meta + b"s" + sbu("_content") + b"}" + sbu("lr") + node + b"ss",
    )
    assert scan(proto4(body)) == []
    (f,) = scan(proto4(stack_global("omegaconf.dictconfig", "DictConfig", "x")))
    assert f.severity == Severity.MEDIUM  # a config class called with the file's arguments is not a reconstruction
