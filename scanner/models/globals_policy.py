"""Which imports a pickle may make: an allowlist of known-safe globals, a denylist with severities,
and everything else "unknown" (a lower, configurable severity).

A denied module denies every submodule too (``os`` covers ``os.path``); names are judged after
Python 2 names are mapped the way the unpickler maps them (``_compat_pickle``).
"""

from __future__ import annotations

import _compat_pickle
import re
from dataclasses import dataclass

from scanner.core import Severity

SAFE = "safe"
DENIED = "denied"
UNKNOWN = "unknown"

# Whole modules (and their submodules) that run code, touch files, processes or the network,
# or load further serialized objects.
_DENIED_MODULES: dict[str, tuple[Severity, str]] = {
    "os": (Severity.CRITICAL, "runs commands and touches files"),
    "posix": (Severity.CRITICAL, "runs commands and touches files"),
    "nt": (Severity.CRITICAL, "runs commands and touches files"),
    "subprocess": (Severity.CRITICAL, "runs commands"),
    "_posixsubprocess": (Severity.CRITICAL, "runs commands"),
    "pty": (Severity.CRITICAL, "runs commands"),
    "commands": (Severity.CRITICAL, "runs commands"),
    "popen2": (Severity.CRITICAL, "runs commands"),
    "multiprocessing": (Severity.CRITICAL, "starts processes"),
    "runpy": (Severity.CRITICAL, "runs Python modules"),
    "importlib": (Severity.CRITICAL, "imports arbitrary code"),
    "imp": (Severity.CRITICAL, "imports arbitrary code"),
    "zipimport": (Severity.CRITICAL, "imports arbitrary code"),
    "pkgutil": (Severity.HIGH, "imports arbitrary code"),
    "code": (Severity.CRITICAL, "runs Python source"),
    "codeop": (Severity.CRITICAL, "compiles Python source"),
    "timeit": (Severity.CRITICAL, "runs Python source"),
    "cProfile": (Severity.CRITICAL, "runs Python source"),
    "profile": (Severity.CRITICAL, "runs Python source"),
    "trace": (Severity.CRITICAL, "runs Python source"),
    "pdb": (Severity.CRITICAL, "runs Python source"),
    "bdb": (Severity.CRITICAL, "runs Python source"),
    "marshal": (Severity.CRITICAL, "builds code objects"),
    "types": (Severity.CRITICAL, "builds code and function objects"),
    "ctypes": (Severity.CRITICAL, "calls native code"),
    "_ctypes": (Severity.CRITICAL, "calls native code"),
    "cffi": (Severity.CRITICAL, "calls native code"),
    "pip": (Severity.CRITICAL, "installs packages"),
    "ensurepip": (Severity.CRITICAL, "installs packages"),
    "setuptools": (Severity.HIGH, "builds and installs packages"),
    "distutils": (Severity.HIGH, "builds and installs packages"),
    "venv": (Severity.HIGH, "creates environments"),
    "site": (Severity.HIGH, "changes the import path"),
    "sys": (Severity.CRITICAL, "reaches interpreter internals"),
    "gc": (Severity.HIGH, "reaches interpreter internals"),
    "inspect": (Severity.HIGH, "reaches interpreter internals"),
    "shutil": (Severity.CRITICAL, "copies, moves and deletes files"),
    "tempfile": (Severity.HIGH, "creates files"),
    "glob": (Severity.MEDIUM, "lists files"),
    "pathlib": (Severity.HIGH, "reads and writes files"),
    "io": (Severity.HIGH, "opens files"),
    "_io": (Severity.HIGH, "opens files"),
    "fileinput": (Severity.HIGH, "reads files"),
    "linecache": (Severity.MEDIUM, "reads files"),
    "webbrowser": (Severity.CRITICAL, "opens URLs and runs a browser"),
    "socket": (Severity.CRITICAL, "opens network connections"),
    "_socket": (Severity.CRITICAL, "opens network connections"),
    "ssl": (Severity.HIGH, "opens network connections"),
    "asyncio": (Severity.CRITICAL, "runs subprocesses and network connections"),
    "urllib": (Severity.HIGH, "fetches URLs"),
    "urllib2": (Severity.HIGH, "fetches URLs"),
    "http": (Severity.HIGH, "fetches URLs"),
    "httplib": (Severity.HIGH, "fetches URLs"),
    "requests": (Severity.HIGH, "fetches URLs"),
    "httpx": (Severity.HIGH, "fetches URLs"),
    "aiohttp": (Severity.HIGH, "fetches URLs"),
    "ftplib": (Severity.HIGH, "fetches URLs"),
    "smtplib": (Severity.HIGH, "sends mail"),
    "telnetlib": (Severity.HIGH, "opens network connections"),
    "xmlrpc": (Severity.HIGH, "calls remote procedures"),
    "threading": (Severity.HIGH, "starts threads"),
    "_thread": (Severity.HIGH, "starts threads"),
    "signal": (Severity.HIGH, "changes signal handling"),
    "pickle": (Severity.CRITICAL, "loads a nested pickle"),
    "_pickle": (Severity.CRITICAL, "loads a nested pickle"),
    "cPickle": (Severity.CRITICAL, "loads a nested pickle"),
    "pickletools": (Severity.HIGH, "handles nested pickles"),
    "dill": (Severity.CRITICAL, "loads a nested pickle or code"),
    "cloudpickle": (Severity.CRITICAL, "loads a nested pickle or code"),
    "shelve": (Severity.CRITICAL, "loads nested pickles"),
    "torch.hub": (Severity.CRITICAL, "downloads and runs code"),
    "torch.jit": (Severity.HIGH, "loads TorchScript"),
    "torch.package": (Severity.HIGH, "loads packaged code"),
    "torch.ops": (Severity.HIGH, "calls native operators"),
    "torch._dynamo": (Severity.HIGH, "compiles and runs code"),
    "torch._inductor": (Severity.HIGH, "compiles and runs code"),
    "torch.utils.cpp_extension": (Severity.CRITICAL, "compiles and loads native code"),
    "numpy.testing": (Severity.CRITICAL, "runs Python source (numpy.testing runstring)"),
    "numpy.f2py": (Severity.CRITICAL, "compiles native code"),
    "numpy.distutils": (Severity.HIGH, "builds native code"),
    "pydoc": (Severity.HIGH, "runs pagers and imports by name"),
    "keras": (Severity.MEDIUM, "Keras objects may carry Python code"),
    "builtins.__builtins__": (Severity.CRITICAL, "reaches every built-in"),
    "operator": (Severity.HIGH, "reaches attributes and methods by name"),
    "functools": (Severity.HIGH, "wraps calls to other callables"),
    "jinja2": (Severity.HIGH, "renders templates that may reach Python"),
    "yaml": (Severity.HIGH, "loads YAML that may build objects"),
}

# Single names denied where the rest of the module is not.
_DENIED_NAMES: dict[tuple[str, str], tuple[Severity, str]] = {
    ("builtins", n): (Severity.CRITICAL, "runs or reaches arbitrary code")
    for n in (
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "__import__",
        "open",
        "breakpoint",
        "input",
        "globals",
        "locals",
        "vars",
        "memoryview",
        "help",
        "exit",
        "quit",
        "execfile",
        "file",
        "reload",
        "apply",
    )
}
_DENIED_NAMES.update(
    {
        ("torch", "load"): (Severity.CRITICAL, "loads a nested pickle"),
        ("torch.serialization", "load"): (Severity.CRITICAL, "loads a nested pickle"),
        ("torch", "from_file"): (Severity.HIGH, "reads files"),
        ("torch", "save"): (Severity.HIGH, "writes files"),
        ("numpy", "load"): (Severity.CRITICAL, "loads arrays that may hold pickles"),
        ("numpy", "fromfile"): (Severity.HIGH, "reads files"),
        ("numpy", "save"): (Severity.HIGH, "writes files"),
        ("numpy", "savetxt"): (Severity.HIGH, "writes files"),
        ("numpy", "loadtxt"): (Severity.HIGH, "reads files"),
        ("numpy.lib.npyio", "load"): (Severity.CRITICAL, "loads arrays that may hold pickles"),
        ("joblib", "load"): (Severity.CRITICAL, "loads a nested pickle"),
        ("joblib.numpy_pickle", "load"): (Severity.CRITICAL, "loads a nested pickle"),
        ("sklearn.externals.joblib", "load"): (Severity.CRITICAL, "loads a nested pickle"),
        ("pandas", "read_pickle"): (Severity.CRITICAL, "loads a nested pickle"),
        ("pandas.io.pickle", "read_pickle"): (Severity.CRITICAL, "loads a nested pickle"),
    }
)

_SAFE_BUILTINS = {
    "set",
    "frozenset",
    "dict",
    "list",
    "tuple",
    "bytearray",
    "bytes",
    "complex",
    "int",
    "float",
    "str",
    "bool",
    "slice",
    "range",
    "object",
    "NoneType",
    "Ellipsis",
    "NotImplemented",
}

_SAFE_EXACT: set[tuple[str, str]] = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "Counter"),
    ("collections", "deque"),
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("copyreg", "__newobj_ex__"),
    ("_codecs", "encode"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("fractions", "Fraction"),
    ("uuid", "UUID"),
    ("argparse", "Namespace"),
    ("re", "_compile"),
    ("enum", "Enum"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "dtype"),
    ("torch", "layout"),
    ("torch", "memory_format"),
    ("torch", "Tensor"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch._tensor", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.nn.parameter", "Buffer"),
    ("torch.storage", "UntypedStorage"),
    ("torch.storage", "TypedStorage"),
    ("torch.storage", "_load_from_bytes"),
    ("torch.serialization", "_get_layout"),
    ("torch.distributed._tensor.placement_types", "Shard"),
    ("torch.distributed._tensor.placement_types", "Replicate"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy", "matrix"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.ma.core", "_mareconstruct"),
    ("numpy.ma.core", "MaskedArray"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random.mtrand", "RandomState"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("joblib.numpy_pickle_compat", "NDArrayWrapper"),
    ("joblib.numpy_pickle_compat", "ZNDArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("scipy.sparse._csc", "csc_matrix"),
    ("scipy.sparse._coo", "coo_matrix"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.series", "Series"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas._libs.internals", "_unpickle_block"),
}

# A module prefix whose classes (CapitalisedNames) and rebuild helpers are safe.
_SAFE_PATTERNS = [
    re.compile(r"^torch\._utils\._rebuild_[a-z0-9_]+$"),
    re.compile(r"^torch\.[A-Za-z]*Storage$"),
    re.compile(
        r"^torch\.(float|double|half|bfloat16|complex|int|uint|bool|long|short|cfloat|cdouble|qint|quint|float8)"
        r"[a-z0-9_]*$"
    ),
    re.compile(
        r"^torch\.(strided|sparse_coo|sparse_csr|sparse_csc|sparse_bsr|sparse_bsc|_mkldnn|"
        r"contiguous_format|channels_last|channels_last_3d|preserve_format)$"
    ),
    re.compile(r"^torch\.nn\.modules(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"),
    re.compile(r"^numpy\.(float|int|uint|complex|bool|bytes|str|object|void|datetime|timedelta)[a-z0-9_]*$"),
    re.compile(r"^numpy\.dtypes\.[A-Za-z0-9_]+DType$"),
    re.compile(r"^sklearn(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"),
    re.compile(r"^sklearn\.utils\._bunch\.Bunch$"),
    re.compile(r"^sklearn(\.[a-z0-9_]+)+\._(loss|tree)\.[A-Za-z_]+$"),
    re.compile(r"^xgboost(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"),
    re.compile(r"^lightgbm(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"),
]

# Names safe inside a TorchScript archive: resolved by TorchScript's own class table, not imports.
_TORCHSCRIPT_PATTERNS = [re.compile(r"^__torch__\.[A-Za-z0-9_.]+$")]
# Safe helpers inside otherwise denied modules (TorchScript's list/tensor rebuilders).
_SAFE_FIRST = [re.compile(r"^torch\.jit\._pickle\.(build|restore)_[a-z_]+$")]


@dataclass(frozen=True)
class Verdict:
    kind: str  # SAFE / DENIED / UNKNOWN
    severity: Severity
    why: str
    name: str  # the name judged, after mapping Python 2 names


def map_py2(module: str, name: str) -> tuple[str, str]:
    """The name the unpickler actually imports (``fix_imports``): ``__builtin__.eval`` is
    ``builtins.eval``, ``commands.getoutput`` is ``subprocess.getoutput``."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def judge(module: str, name: str, *, torchscript: bool = False) -> Verdict:
    """Judge ``module.name``; the worse of the raw and the Python-2-mapped name wins."""
    mapped = map_py2(module, name)
    first = _judge_one(module, name, torchscript)
    if mapped == (module, name):
        return first
    second = _judge_one(*mapped, torchscript)
    order = {DENIED: 2, UNKNOWN: 1, SAFE: 0}
    if order[second.kind] > order[first.kind] or (second.kind == first.kind and second.severity > first.severity):
        return second
    return first


def _judge_one(module: str, name: str, torchscript: bool) -> Verdict:
    full = f"{module}.{name}"
    if any(p.match(full) for p in _SAFE_FIRST) or (torchscript and any(p.match(full) for p in _TORCHSCRIPT_PATTERNS)):
        return Verdict(SAFE, Severity.INFO, "", full)
    # A dotted name ("os.system" as name with protocol 4 STACK_GLOBAL) reaches attributes.
    head = name.split(".", 1)[0]
    hit = _DENIED_NAMES.get((module, head))
    if hit:
        return Verdict(DENIED, hit[0], hit[1], full)
    for candidate in _prefixes(full):
        hit = _DENIED_MODULES.get(candidate)
        if hit:
            return Verdict(DENIED, hit[0], hit[1], full)
    if "." in name:
        # protocol 4 resolves dotted names by attribute traversal: torch._utils.os.system is os.system
        for part in name.split("."):
            if part.startswith("__") or part in _DENIED_MODULES or ("builtins", part) in _DENIED_NAMES:
                return Verdict(DENIED, Severity.CRITICAL, f"reaches {part!r} through attribute traversal", full)
    if module in ("builtins", "__builtin__"):
        if name in _SAFE_BUILTINS:
            return Verdict(SAFE, Severity.INFO, "", full)
        return Verdict(DENIED, Severity.HIGH, "a built-in outside the data types", full)
    if "." not in name and ((module, name) in _SAFE_EXACT or any(p.match(full) for p in _SAFE_PATTERNS)):
        return Verdict(SAFE, Severity.INFO, "", full)
    return Verdict(UNKNOWN, Severity.MEDIUM, "imports a name outside the known-safe list", full)


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
