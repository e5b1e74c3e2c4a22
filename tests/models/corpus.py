"""The model-scanner test corpus, built in code: malicious samples (payloads harmless if ever run,
such as ``os.system('true')``) and realistic benign twins written by the real libraries.

Nothing here is ever loaded. Each sample names the rule ids the scanner must report for it
(``expect``; an empty set for benign files). The benchmark reuses this corpus for its detection
table.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GLOBAL = "MODEL-PICKLE-GLOBAL"
UNKNOWN = "MODEL-PICKLE-UNKNOWN-GLOBAL"
DYNAMIC = "MODEL-PICKLE-DYNAMIC-GLOBAL"
MALFORMED = "MODEL-PICKLE-MALFORMED"
UNSCANNABLE = "MODEL-UNSCANNABLE"
BOMB = "MODEL-ARCHIVE-BOMB"
DEPTH = "MODEL-ARCHIVE-DEPTH"
PATH = "MODEL-ARCHIVE-PATH"
MISMATCH = "MODEL-ZIP-NAME-MISMATCH"
SYMLINK = "MODEL-SYMLINK-ESCAPE"


@dataclass(frozen=True)
class Sample:
    name: str
    expect: frozenset[str]
    globals: frozenset[str] = frozenset()  # globals that must be named in the findings
    malicious: bool = True


class System:
    """Pickles as os.system('true') (never loaded)."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("true",))


# --- raw opcode builders -------------------------------------------------------------------------


def sbu(text: str) -> bytes:
    """SHORT_BINUNICODE"""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def proto4(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


def stack_global(module: str, name: str, *args: str) -> bytes:
    """module.name(*args) through STACK_GLOBAL + REDUCE."""
    call = b"".join(sbu(a) for a in args)
    return sbu(module) + sbu(name) + b"\x93" + b"(" + call + b"tR"


def memo_split() -> bytes:
    # the module and name strings are memoised early, unrelated data in between, then fetched
    return proto4(
        sbu("builtins") + b"\x94" + b"0" + sbu("padding") + b"0" + sbu("eval") + b"\x94" + b"0"
        b"]" + sbu("x") * 3 + b"0" + b"h\x00h\x01\x93" + b"(" + sbu("1+1") + b"tR"
    )


def dynamic_global() -> bytes:
    # STACK_GLOBAL's module is the result of a call: unresolvable without running it
    return proto4(stack_global("builtins", "str", "os") + sbu("system") + b"\x93" + b"(" + sbu("true") + b"tR")


def nested_loads() -> bytes:
    inner = pickle.dumps(System(), protocol=4)
    return proto4(sbu("pickle") + sbu("loads") + b"\x93" + b"C" + bytes([len(inner)]) + inner + b"\x85R")


def newobj_class() -> bytes:
    return proto4(sbu("subprocess") + sbu("Popen") + b"\x93" + sbu("true") + b"\x85" + b"\x81")


def inst_p0() -> bytes:
    return b"(S'true'\nios\nsystem\n."


def obj_p1() -> bytes:
    return b"(cos\nsystem\nX\x04\x00\x00\x00trueo."


def payload_then_garbage() -> bytes:
    return b"\x80\x04" + stack_global("os", "system", "true") + b"\xff\xfe garbage"


def truncated() -> bytes:
    whole = pickle.dumps({"weights": list(range(200))}, protocol=4)
    return whole[: len(whole) // 2]


def huge_declared() -> bytes:
    return b"\x80\x04\x8e" + struct.pack("<Q", 1 << 60) + b"xx"


def py2_names() -> bytes:
    return b"c__builtin__\neval\n(S'1+1'\ntR0ccommands\ngetoutput\n(S'true'\ntR."


def stacked() -> bytes:
    return pickle.dumps({"ok": 1}, protocol=2) + pickle.dumps(System(), protocol=2)


def denied(module: str, name: str) -> bytes:
    return proto4(stack_global(module, name, "x"))


def unknown_class() -> bytes:
    return proto4(sbu("mylib.models") + sbu("Net") + b"\x93" + b")" + b"\x81")


# --- containers ----------------------------------------------------------------------------------


def torch_zip(payload: bytes, name: str = "archive/data.pkl") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/version", "3\n")
        zf.writestr(name, payload)
        zf.writestr("archive/data/0", b"\x00" * 64)
    return buf.getvalue()


def zip_mismatch_badcrc(payload: bytes) -> bytes:
    """A local header naming the member differently from the central directory, and a bad CRC:
    zipfile refuses it, torch's reader (central directory only) does not."""
    raw = bytearray(torch_zip(payload))
    locals_ = [j for j in range(len(raw)) if raw[j : j + 4] == b"PK\x03\x04"]
    pkl = locals_[1]
    nlen = struct.unpack("<H", raw[pkl + 26 : pkl + 28])[0]
    name = bytes(raw[pkl + 30 : pkl + 30 + nlen])
    raw[pkl + 30 : pkl + 30 + nlen] = name.replace(b"data.pkl", b"data.txt")
    raw[pkl + 14 : pkl + 18] = b"\xde\xad\xbe\xef"  # CRC
    return bytes(raw)


def overlapping_zip() -> bytes:
    """Two central-directory entries pointing at the same local data (the overlapping bomb shape)."""
    body = zlib.compress(b"\0" * 100000)[2:-4]
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(body), 100000, 1, 0) + b"a" + body
    cds = b""
    for n in (b"a", b"b"):
        cds += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(body), 100000, 1, 0, 0, 0, 0, 0, 0
            )
            + n
        )
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, len(cds), len(local), 0)
    return local + cds + eocd


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("weights.bin", "w", force_zip64=True) as fh:
        chunk = b"\0" * (1 << 20)
        for _ in range(64):
            fh.write(chunk)
    return buf.getvalue()


def huge_declared_zip() -> bytes:
    raw = bytearray(torch_zip(b"\x80\x04N."))
    # claim a 1 TiB uncompressed size for the deflated... stored member: rewrite method to deflate
    cd = raw.find(b"PK\x01\x02")
    while cd >= 0:
        raw[cd + 10 : cd + 12] = struct.pack("<H", 8)
        raw[cd + 24 : cd + 28] = struct.pack("<I", 0xFFFFFFF0)
        cd = raw.find(b"PK\x01\x02", cd + 4)
    return bytes(raw)


def tar_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_header(name: bytes, size_field: bytes, kind: bytes = b"0") -> bytes:
    block = bytearray(512)
    block[: len(name)] = name
    block[100:108] = b"0000644\0"
    block[124:136] = size_field
    block[156:157] = kind
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def tar_negative_size() -> bytes:
    return tar_header(b"evil.pkl", b"\xff" * 12) + b"\0" * 1024


def tar_huge_pax() -> bytes:
    size = 4 << 20
    return tar_header(b"././@PaxHeader", b"%011o\0" % size, b"x") + b"\0" * (size + 1024)


def tar_traversal() -> bytes:
    return tar_of({"../../etc/evil.pkl": pickle.dumps({"a": 1}, protocol=2)})


def nested_gz(levels: int, payload: bytes) -> bytes:
    for _ in range(levels):
        payload = gzip.compress(payload, mtime=0)
    return payload


def seven_zip() -> bytes:
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\0" * 24


# --- building ------------------------------------------------------------------------------------


def _torchscript(path: Path) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated, yet such files are still loaded
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)


def build_corpus(root: Path) -> list[Sample]:
    """Write every sample under ``root`` (file name = sample name) and return the list."""
    import joblib
    import numpy as np
    import torch

    root.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []

    def add(
        name: str,
        data: bytes | Callable[[Path], None],
        expect: set[str],
        globals_: set[str] = frozenset(),
        malicious: bool = True,
    ) -> None:
        path = root / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        samples.append(Sample(name, frozenset(expect), frozenset(globals_), malicious))

    sysg = {"posix.system"} if os.name == "posix" else {"nt.system"}
    for proto in range(6):
        add(f"reduce_p{proto}.pkl", pickle.dumps(System(), protocol=proto), {GLOBAL}, sysg)
    add("pickle_named.safetensors", pickle.dumps(System(), protocol=2), {GLOBAL}, sysg)
    add("pytorch_model.bin", pickle.dumps(System(), protocol=2), {GLOBAL}, sysg)
    add("memo_split.pkl", memo_split(), {GLOBAL}, {"builtins.eval"})
    add("dynamic_global.pkl", dynamic_global(), {DYNAMIC})
    add("nested_loads.pkl", nested_loads(), {GLOBAL}, {"pickle.loads", *sysg})
    add("newobj_popen.pkl", newobj_class(), {GLOBAL}, {"subprocess.Popen"})
    add("inst_p0.pkl", inst_p0(), {GLOBAL}, {"os.system"})
    add("obj_p1.pkl", obj_p1(), {GLOBAL}, {"os.system"})
    add("py2_names.pkl", py2_names(), {GLOBAL}, {"__builtin__.eval", "commands.getoutput"})
    add("payload_then_garbage.pkl", payload_then_garbage(), {GLOBAL, MALFORMED}, {"os.system"})
    add("stacked.pkl", stacked(), {GLOBAL}, sysg)
    for module, name in (
        ("runpy", "run_path"),
        ("importlib", "import_module"),
        ("webbrowser", "open"),
        ("socket", "create_connection"),
        ("asyncio.subprocess", "create_subprocess_shell"),
        ("marshal", "loads"),
        ("types", "FunctionType"),
        ("pip._internal", "main"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("numpy.testing._private.utils", "runstring"),
        ("torch.hub", "load"),
        ("shutil", "rmtree"),
    ):
        add(f"denied_{module}.{name}.pkl", denied(module, name), {GLOBAL}, {f"{module}.{name}"})
    add("unknown_class.pkl", unknown_class(), {UNKNOWN}, {"mylib.models.Net"})
    traversal = proto4(sbu("torch.serialization") + sbu("os.system") + b"\x93(" + sbu("true") + b"tR")
    add("attr_traversal.pkl", traversal, {GLOBAL}, {"torch.serialization.os.system"})
    add("truncated.pkl", truncated(), {MALFORMED}, malicious=False)
    add("huge_declared.pkl", huge_declared(), {MALFORMED})

    # torch: real checkpoints and their malicious twins
    state = {"layer.weight": torch.randn(4, 4), "layer.bias": torch.zeros(4)}
    add("torch_benign.pt", lambda p: torch.save(state, p), set(), malicious=False)
    add(
        "torch_legacy_benign.pt",
        lambda p: torch.save(state, p, _use_new_zipfile_serialization=False),
        set(),
        malicious=False,
    )
    add(
        "torch_module_benign.pt",
        lambda p: torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), p),
        set(),
        malicious=False,
    )
    add(
        "torchscript_benign.pt",
        _torchscript,
        set(),
        malicious=False,
    )
    add("torch_malicious.pt", lambda p: torch.save({**state, "x": System()}, p), {GLOBAL}, sysg)
    add(
        "torch_legacy_malicious.pt",
        lambda p: torch.save({**state, "x": System()}, p, _use_new_zipfile_serialization=False),
        {GLOBAL},
        sysg,
    )
    evil = pickle.dumps(System(), protocol=2)
    add("torch_other_member.pt", torch_zip(evil, "archive/extra/weights.pkl"), {GLOBAL}, sysg)
    add("torch_mismatch_badcrc.pt", zip_mismatch_badcrc(evil), {GLOBAL, MISMATCH}, sysg)
    add("torch_nested_bytes.pt", torch_zip(nested_loads()), {GLOBAL}, {"pickle.loads", *sysg})

    # numpy
    add("numpy_benign.npy", lambda p: np.save(p, np.arange(12, dtype=np.float32).reshape(3, 4)), set(), malicious=False)
    add(
        "numpy_objects_benign.npy", lambda p: np.save(p, np.array([1, "a", None], dtype=object)), set(), malicious=False
    )
    add("numpy_malicious.npy", lambda p: np.save(p, np.array([System()], dtype=object)), {GLOBAL}, sysg)
    add(
        "numpy_benign.npz",
        lambda p: np.savez(p, a=np.ones(3), b=np.array(["x", 1], dtype=object)),
        set(),
        malicious=False,
    )
    add(
        "numpy_malicious.npz", lambda p: np.savez(p, a=np.ones(3), b=np.array([System()], dtype=object)), {GLOBAL}, sysg
    )

    # joblib (plain and compressed) and dill
    model = {"coef": np.arange(50, dtype=np.float64), "names": ["a", "b"], "objs": np.array([1, "x"], dtype=object)}
    add("joblib_benign.joblib", lambda p: joblib.dump(model, p), set(), malicious=False)
    add("joblib_malicious.joblib", lambda p: joblib.dump({**model, "x": System()}, p), {GLOBAL}, sysg)
    add(
        "joblib_object_array.joblib",
        lambda p: joblib.dump({"o": np.array([System()], dtype=object)}, p),
        {GLOBAL},
        sysg,
    )
    for method in ("zlib", "gzip", "bz2", "lzma", "xz"):
        add(
            f"joblib_benign_{method}.joblib",
            lambda p, m=method: joblib.dump(model, p, compress=(m, 3)),
            set(),
            malicious=False,
        )
        add(
            f"joblib_malicious_{method}.joblib",
            lambda p, m=method: joblib.dump({"x": System()}, p, compress=(m, 3)),
            {GLOBAL},
            sysg,
        )
    try:
        import dill

        add("dill_lambda.pkl", dill.dumps(lambda x: x + 1), {GLOBAL, UNKNOWN}, {"dill._dill._create_code"})
    except ImportError:  # pragma: no cover - dill is a test extra
        pass

    # archives and hostile input
    add("nested.tar.gz", gzip.compress(tar_of({"inner/model.zip": torch_zip(evil)}), mtime=0), {GLOBAL}, sysg)
    add("model.pkl.bz2", bz2.compress(evil), {GLOBAL}, sysg)
    add("model.pkl.xz", lzma.compress(evil), {GLOBAL}, sysg)
    add("archive.7z", seven_zip(), {UNSCANNABLE})
    add("zip_bomb.zip", zip_bomb(), {BOMB})
    add("overlapping.zip", overlapping_zip(), {BOMB, MISMATCH})
    add("huge_declared.zip", huge_declared_zip(), {BOMB})
    add("deep.gz", nested_gz(12, evil), {DEPTH})
    add("tar_negative_size.tar", tar_negative_size(), {UNSCANNABLE})
    add("tar_huge_pax.tar", tar_huge_pax(), {BOMB})
    add("tar_traversal.tar", tar_traversal(), {PATH})
    add("truncated.zip", torch_zip(evil)[:-30], {UNSCANNABLE})

    # benign text and data that must never be taken for pickles
    for name, text in (
        ("README.md", "# Model\n(hello world) this model is fine.\n"),
        ("config.json", '{"architectures": ["Bert"], "hidden_size": 8}\n'),
        ("vocab.txt", "cat\ndog\n(x\n"),
        ("notes.txt", "I am a note.\n"),
        ("tokenizer.py", "import os\nimport sys\n\ndef f():\n    return 1\n"),
        ("list.json", "[1, 2, 3]\n"),
    ):
        add(name, text.encode(), set(), malicious=False)
    add("random.dat", bytes((i * 7919 + 13) % 251 for i in range(10000)), set(), malicious=False)
    return samples
