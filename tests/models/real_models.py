"""Files the way ML libraries really write them, and the malicious twin of each.

Benign files are written by the libraries themselves where they are installed in the test venv
(scikit-learn + joblib, numpy, torch); where a library is not installed (gensim, Lightning, a
Python 2 interpreter, TensorFlow Lite) the bytes are written the way that library writes them:
protocol 0/2 opcodes by hand, a FlatBuffer with the ``flatbuffers`` builder. Nothing is ever
loaded. Each sample says whether it must pass at the default threshold (``--fail-on low``: only
info findings allowed) or fail (``expect``: the rule ids that must be reported at low or above).
The benchmark (benchmarks/models.py) reuses this set for its false-positive column.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from tests.models.corpus import GLOBAL, UNKNOWN, System

FLEX_OP = "MODEL-TFLITE-FLEX-OP"


@dataclasses.dataclass(frozen=True)
class RealSample:
    name: str
    expect: frozenset[str]  # empty: must pass at the default threshold
    info: frozenset[str] = frozenset()  # names that a benign sample's info findings must mention


# --- gensim (Python 2, protocol 0) -------------------------------------------------------------


def _p0_array(payload: bytes, dtype: bytes = b"f4") -> bytes:
    """A float32 numpy array as Python 2 numpy pickles it at protocol 0: the data is one escaped
    STRING line (gensim models carry such lines of hundreds of KB)."""
    escaped = "".join(f"\\x{b:02x}" for b in payload).encode()
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR"
        b"(I1\n(I" + str(len(payload) // 4).encode() + b"\ntcnumpy\ndtype\n(S'" + dtype + b"'\nI0\nI1\ntR"
        b"(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbI00\nS'" + escaped + b"'\ntb"
    )


def gensim_py2(extra: bytes = b"") -> bytes:
    """A gensim 3 Word2Vec saved by Python 2 (``SaveLoad.save`` with protocol 0 there): copy_reg,
    __builtin__ names, numpy's old RandomState helper, gensim's call_on_class_only, a 160 KB line."""
    vectors = _p0_array(bytes(range(256)) * 160)  # 40 KB of float data -> ~160 KB of escaped text
    return (
        b"ccopy_reg\n_reconstructor\np0\n(cgensim.models.word2vec\nWord2Vec\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n"
        b"(dp5\nS'syn0'\np6\n" + vectors + b"p7\nsS'random'\np8\n"
        b"cnumpy.random\n__RandomState_ctor\np9\n(tRp10\n(S'MT19937'\np11\n"
        + _p0_array(bytes(624 * 4), b"u4")
        + b"I624\nI0\nF0.0\ntbsS'load'\np12\n"
        b"cgensim.utils\ncall_on_class_only\np13\nsS'vocab'\np14\n(dp15\nS'cat'\np16\n"
        b"ccopy_reg\n_reconstructor\n(cgensim.models.keyedvectors\nVocab\nc__builtin__\nobject\nNtR(dS'count'\nL12L\nsb"
        b"ssS'iter_range'\np17\nc__builtin__\nxrange\n(I0\nI5\nI1\ntRsS'int_type'\nc__builtin__\nlong\n"
        b"sS'matrix'\ncnumpy.core.multiarray\n_reconstruct\n(cnumpy.matrixlib.defmatrix\nmatrix\n(I0\ntS'b'\ntR"
        b"(I1\n(I1\nI1\ntcnumpy\ndtype\n(S'f8'\nI0\nI1\ntR(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbI00\nS'\\x00\\x00\\x00\\x00"
        b"\\x00\\x00\\xf0?'\ntbs" + extra + b"b."
    )


# --- numpy object arrays -----------------------------------------------------------------------


def npy_with_pickle(pickled: bytes) -> bytes:
    """A version 1.0 .npy of an object array whose data is ``pickled`` (what np.save writes)."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (3,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + pickled


def numpy_objects_py2(item: bytes = b"") -> bytes:
    """An object array pickled by Python 2 numpy (protocol 2): py2 names for set/xrange/unicode."""
    return (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87Rq\x03"
        b"(K\x01K\x03\x85cnumpy\ndtype\nq\x04U\x02O8K\x00K\x01\x87Rq\x05(K\x03U\x01|NNNJ\xff\xff\xff\xff"
        b"J\xff\xff\xff\xffK?tb\x89]q\x06(U\x01ac__builtin__\nset\n]K\x01a\x85R"
        b"c__builtin__\nxrange\nK\x00K\x03K\x01\x87R" + item + b"etb."
    )


# --- TFLite ------------------------------------------------------------------------------------


def tflite(ops: list[tuple[int, str | None]], associated: dict[str, bytes] | None = None) -> bytes:
    """A TFLite model as the converter lays it out: schema version 3, operator codes, one subgraph
    using each code once, an empty buffer 0; ``associated`` files zipped after the flatbuffer the
    way TFLite metadata packs labels and vocabularies."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    codes = []
    for builtin, custom in ops:
        name = b.CreateString(custom) if custom is not None else None
        b.StartObject(4)
        b.PrependInt32Slot(3, builtin, 0)
        b.PrependInt32Slot(2, 1, 1)
        if name is not None:
            b.PrependUOffsetTRelativeSlot(1, name, 0)
        b.PrependInt8Slot(0, min(builtin, 127), 0)
        codes.append(b.EndObject())
    operators = []
    for i in range(len(ops)):
        b.StartObject(3)
        b.PrependUint32Slot(0, i, 0)
        operators.append(b.EndObject())

    def vector(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()

    ops_vec = vector(operators)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(3, ops_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()
    b.StartObject(3)
    empty_buffer = b.EndObject()
    codes_vec = vector(codes)
    subgraphs = vector([subgraph])
    buffers = vector([empty_buffer])
    desc = b.CreateString("MLIR Converted.")
    b.StartObject(8)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
    b.PrependUint32Slot(0, 3, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    out = bytes(b.Output())
    if associated:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in associated.items():
                zf.writestr(name, data)
        out += buf.getvalue()
    return out


CONV_2D, FULLY_CONNECTED, SOFTMAX, RESHAPE, CUSTOM = 3, 9, 25, 22, 32


# --- __main__ classes (nanoGPT) ----------------------------------------------------------------


@dataclasses.dataclass
class GPTConfig:
    block_size: int = 64
    vocab_size: int = 50304
    n_layer: int = 2
    dropout: float = 0.0


def _train(*args: object) -> None:  # pragma: no cover - never called: only pickled by reference
    pass


class _CallsMain:
    """Pickles as a call of a __main__ function with an argument of the file's choosing."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_train, ("true",))


def _as_main(*objs: object) -> Callable[[], None]:
    """Make ``objs`` pickle as ``__main__.<name>`` (as they do when defined in a training script);
    returns the undo."""
    main = sys.modules["__main__"]
    saved = []
    for obj in objs:
        name = obj.__name__  # type: ignore[attr-defined]
        saved.append((obj, obj.__module__, obj.__qualname__, name, getattr(main, name, None)))  # type: ignore[attr-defined]
        obj.__module__ = "__main__"
        setattr(main, name, obj)

    def undo() -> None:
        for obj, module, _qual, name, old in saved:
            obj.__module__ = module  # type: ignore[attr-defined]
            if old is None:
                delattr(main, name)
            else:
                setattr(main, name, old)

    return undo


def _with_main(objs: tuple[object, ...], write: Callable[[], None]) -> None:
    undo = _as_main(*objs)
    try:
        write()
    finally:
        undo()


# --- Lightning ---------------------------------------------------------------------------------


class AttributeDict(dict):  # type: ignore[type-arg]
    """Lightning's AttributeDict (a dict subclass), pickled under Lightning's module name."""

    def __getattr__(self, key: str) -> object:
        return self[key]


def _library_module(name: str, *classes: type) -> Callable[[], None]:
    """Register ``classes`` under the module name their library gives them (the library itself is
    not installed here), so that pickle writes exactly the names the library's files carry."""
    parts = name.split(".")
    made = []
    for i in range(1, len(parts) + 1):
        part = ".".join(parts[:i])
        if part not in sys.modules:
            made.append(part)
            sys.modules[part] = types.ModuleType(part)
    for cls in classes:
        setattr(sys.modules[name], cls.__name__, cls)
        cls.__module__ = name

    def undo() -> None:
        for cls in classes:
            cls.__module__ = __name__
        for part in made:
            del sys.modules[part]

    return undo


def _lightning_module() -> Callable[[], None]:
    return _library_module("lightning_fabric.utilities.data", AttributeDict)


# --- transformers training_args.bin ------------------------------------------------------------


class IntervalStrategy(str, enum.Enum):
    """transformers' ExplicitEnum subclasses are (str, Enum): pickled as a call with the value."""

    NO = "no"
    STEPS = "steps"


class OptimizerNames(str, enum.Enum):
    ADAMW_TORCH = "adamw_torch"


@dataclasses.dataclass
class TrainingArguments:
    output_dir: str = "out"
    eval_strategy: IntervalStrategy = IntervalStrategy.STEPS
    save_strategy: IntervalStrategy = IntervalStrategy.NO
    optim: OptimizerNames = OptimizerNames.ADAMW_TORCH
    learning_rate: float = 5e-5
    report_to: list = dataclasses.field(default_factory=list)  # type: ignore[type-arg]


def training_args(path: Path, evil: bool = False) -> None:
    """``torch.save(TrainingArguments)`` as the Trainer writes training_args.bin."""
    import torch

    undo = _library_module("transformers.trainer_utils", IntervalStrategy)
    undo2 = _library_module("transformers.training_args", OptimizerNames, TrainingArguments)
    try:
        args = TrainingArguments(report_to=[System()] if evil else ["tensorboard"])
        torch.save(args, path)
    finally:
        undo2()
        undo()


def lightning_checkpoint(path: Path, evil: bool = False) -> None:
    import torch

    net = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.ones(1, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    args = argparse.Namespace(lr=1e-3, data_dir=Path("/data/train"), out=PurePosixPath("runs/1"))
    if evil:
        args.hook = System()
    undo = _lightning_module()
    try:
        hparams = AttributeDict(lr=1e-3, batch_size=32, data_dir=Path("data"), args=args)
        ckpt = {
            "epoch": 3,
            "global_step": 120,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": net.state_dict(),
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 3}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.5)}},
            "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [sched.state_dict()],
            "hparams_name": "kwargs",
            "hyper_parameters": hparams,
            "extra": types.SimpleNamespace(seed=7),
        }
        torch.save(ckpt, path)
    finally:
        undo()


# --- the set -----------------------------------------------------------------------------------


def build_real_models(root: Path) -> list[RealSample]:
    """Write every sample under ``root`` and return the list."""
    import joblib
    import numpy as np
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    root.mkdir(parents=True, exist_ok=True)
    samples: list[RealSample] = []

    def add(name: str, data: bytes | Callable[[Path], None], expect: set[str], info: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        path = root / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        samples.append(RealSample(name, frozenset(expect), frozenset(info)))

    # scikit-learn through joblib (plain and compressed) and plain pickle
    rng = np.random.RandomState(0)
    x = rng.rand(40, 3)
    y = (x[:, 0] > 0.5).astype(int)
    pipe = Pipeline(
        [
            ("cols", ColumnTransformer([("scale", StandardScaler(), [0, 1]), ("hot", OneHotEncoder(), [2])])),
            ("clf", LogisticRegression()),
        ]
    ).fit(np.column_stack([x[:, :2], (x[:, 2] * 3).astype(int)]), y)
    forest = RandomForestClassifier(n_estimators=3, random_state=rng).fit(x, y)
    knn = KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree").fit(x, y)
    models = {"pipeline": pipe, "forest": forest, "knn": knn}
    add("sklearn_pipeline.joblib", lambda p: joblib.dump(models, p), set())
    add("sklearn_pipeline_zlib.joblib", lambda p: joblib.dump(models, p, compress=3), set())
    add("sklearn_pipeline_lzma.joblib", lambda p: joblib.dump(models, p, compress=("lzma", 3)), set())
    add("sklearn_pipeline.pkl", pickle.dumps(models, protocol=4), set())
    evil_pipe = Pipeline([("run", FunctionTransformer(func=os.system)), ("clf", LogisticRegression())])
    add("sklearn_pipeline_evil.joblib", lambda p: joblib.dump(evil_pipe, p, compress=3), {GLOBAL})

    # gensim (Python 2, protocol 0, a 160 KB text argument)
    add("gensim_word2vec_py2.model", gensim_py2(), set())
    add("gensim_word2vec_py2_evil.model", gensim_py2(b"S'x'\nc__builtin__\neval\n(S'1+1'\ntRs"), {GLOBAL})

    # numpy object arrays from Python 2 and Python 3, numpy value types
    add("numpy_objects_py2.npy", npy_with_pickle(numpy_objects_py2()), set())
    add(
        "numpy_objects_py2_evil.npy",
        npy_with_pickle(numpy_objects_py2(b"cposix\nsystem\nU\x04true\x85R")),
        {GLOBAL},
    )
    from fractions import Fraction

    objects = np.array([{"a": 1}, Fraction(1, 3), Path("x/y")], dtype=object)
    add("numpy_objects_py3.npy", lambda p: np.save(p, objects), set())
    add("numpy_objects_py3_evil.npy", lambda p: np.save(p, np.array([1, System()], dtype=object)), {GLOBAL})
    state = {
        "matrix": np.matrix([[1.0, 2.0]]),
        "rs": np.random.RandomState(1),
        "rng": np.random.default_rng(2),
        "masked": np.ma.masked_array([1, 2], mask=[0, 1]),
    }
    add("numpy_values.pkl", pickle.dumps(state, protocol=2), set())

    # Lightning checkpoints
    add("lightning.ckpt", lambda p: lightning_checkpoint(p), set())
    add("lightning_evil.ckpt", lambda p: lightning_checkpoint(p, evil=True), {GLOBAL})

    # transformers training_args.bin (a dataclass with str enums)
    add("training_args.bin", lambda p: training_args(p), set())
    add("training_args_evil.bin", lambda p: training_args(p, evil=True), {GLOBAL})

    # TFLite with and without Flex ops (and associated files zipped after the flatbuffer)
    plain = [(CONV_2D, None), (FULLY_CONNECTED, None), (SOFTMAX, None)]
    add("model.tflite", tflite(plain, {"labels.txt": b"background\nperson\nbicycle\n"}), set())
    flex = [*plain, (CUSTOM, "FlexRFFT"), (CUSTOM, "FlexAddV2"), (CUSTOM, "TFLite_Detection_PostProcess")]
    add("model_flex.tflite", tflite(flex), set(), {"RFFT"})
    add("model_flex_pyfunc.tflite", tflite([*flex, (CUSTOM, "FlexPyFunc")]), {FLEX_OP})
    add("model_flex_writefile.tflite", tflite([*plain, (CUSTOM, "FlexWriteFile")]), {FLEX_OP})
    add("model_zip_evil.tflite", tflite(plain, {"labels.pkl": pickle.dumps(System(), protocol=2)}), {GLOBAL})

    # nanoGPT: a checkpoint with a __main__ config class, and a whole pickled __main__ module
    cfg = GPTConfig()

    class GPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = torch.nn.Embedding(16, 4)
            self.head = torch.nn.Linear(4, 16)

    GPT.__qualname__ = "GPT"
    net = GPT()
    ckpt = {
        "model": net.state_dict(),
        "model_args": dataclasses.asdict(cfg),
        "iter_num": 100,
        "best_val_loss": torch.tensor(2.5),
        "config": cfg,
    }
    add("nanogpt_ckpt.pt", lambda p: _with_main((GPTConfig,), lambda: torch.save(ckpt, p)), set(), {"GPTConfig"})
    add("nanogpt_module.pt", lambda p: _with_main((GPT,), lambda: torch.save(net, p)), set(), {"GPT"})
    add(
        "nanogpt_main_call.pt",
        lambda p: _with_main((GPTConfig, _train), lambda: torch.save({**ckpt, "hook": _CallsMain()}, p)),
        {UNKNOWN},
    )
    return samples
