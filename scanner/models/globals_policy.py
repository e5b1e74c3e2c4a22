"""How a pickle may use the names it imports: judged by the name *and* by the use.

Three lists decide what a name is: a denylist with severities (code execution, processes, files,
network, nested loaders; a denied module denies every submodule: ``os`` covers ``os.path``), a
known-safe table read from the libraries' own source (each entry says why it is safe, and whether
it is safe to *call* with any arguments or only to *reconstruct*), and everything else: unknown.

The use comes from the opcodes (see ``scanner.models.pickle_scan``):

- ``CALLED``: invoked by REDUCE / INST / OBJ with arguments the file chose, or handed as an argument
  to a callable that may invoke it (``torch._tensor._rebuild_from_type_v2(f, ...)`` calls ``f``).
- ``RECONSTRUCTED``: a class only allocated (NEWOBJ, ``copyreg._reconstructor``, ``copyreg.__newobj__``,
  numpy's ``_reconstruct``) and given its state by BUILD: the class's own ``__new__`` /
  ``__setstate__`` run, never a callable of the file's choosing with the file's arguments.
- ``REFERENCED``: only imported and stored as a value (a dict entry, part of a BUILD state).

``judge_use`` combines both into one ``Judgement`` (rule, severity and the reason, kept as evidence):
a denied name is critical/high whatever the use; an unknown name invoked with arguments is the
configured unknown severity (medium); an unknown class only reconstructed or referenced is low, and
info when it lives in ``__main__`` (the loading program's own module: the file cannot bring that
code, and importing ``__main__`` runs nothing). A class known safe only to reconstruct (gensim
models, whose constructors train from files) is unknown when called.

Names are judged after Python 2 names are mapped the way the unpickler maps them
(``_compat_pickle``: ``__builtin__.xrange`` is ``builtins.range``); the raw name still counts when
it is itself denied.
"""

from __future__ import annotations

import _compat_pickle
import enum
import re
from dataclasses import dataclass

from scanner.core import Severity

SAFE = "safe"
RULE_GLOBAL = "MODEL-PICKLE-GLOBAL"
RULE_UNKNOWN = "MODEL-PICKLE-UNKNOWN-GLOBAL"
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
    "antigravity": (Severity.HIGH, "opens a web browser when imported"),
    "sklearn.utils._testing": (Severity.HIGH, "test helpers that run scripts and create files"),
    "pandas.io": (Severity.HIGH, "reads and writes files"),
    "pandas.core.computation": (Severity.HIGH, "evaluates expressions"),
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
        ("gensim.utils", "unpickle"): (Severity.CRITICAL, "loads a nested pickle from a file"),
        ("gensim.utils", "pickle"): (Severity.HIGH, "writes files"),
        ("gensim.utils", "smart_open"): (Severity.HIGH, "opens files and URLs"),
        ("gensim.utils", "open"): (Severity.HIGH, "opens files and URLs"),
        ("numpy", "memmap"): (Severity.HIGH, "opens and maps files when called"),
        ("numpy.core.memmap", "memmap"): (Severity.HIGH, "opens and maps files when called"),
        ("numpy._core.memmap", "memmap"): (Severity.HIGH, "opens and maps files when called"),
    }
)

_SAFE_BUILTINS = {
    "set", "frozenset", "dict", "list", "tuple", "bytearray", "bytes", "complex", "int", "float", "str",
    "bool", "slice", "range", "object", "NoneType", "Ellipsis", "NotImplemented",
}  # fmt: skip
_WHY_BUILTIN = "a built-in data type: building one from values runs no other code"

# Tiers of the known-safe table.
CALLABLE = "callable"  # safe to call with any arguments (a value constructor or rebuild helper)
CLASS = "class"  # safe to allocate and give state (new + __setstate__/__dict__); calling it is unknown
ENUM = "enum"  # an Enum: reconstructing, or calling with one constant (member lookup by value), is safe

_W_TORCH = "torch's own tensor/storage rebuild helper or value type: builds tensors from storages, no I/O"
_W_NUMPY = "numpy's array/dtype/scalar reconstruction: builds arrays from bytes, no I/O"
_W_RANDOM = "numpy random state: a fresh generator whose state BUILD sets; no I/O (numpy/random/_pickle.py)"
_W_STDLIB = "a stdlib value type: constructing it from values does no I/O and runs no other code"
_W_PATH = "a path value: constructing one joins strings and never touches the file system"
_W_COPYREG = "the pickle protocol's own reconstruction helper: allocates the class given to it"
_W_JOBLIB = "joblib's array wrapper: array bytes follow it in the stream and are read as data"
_W_SPARSE = "scipy sparse container: built from arrays, no I/O in construction or state"
_W_PANDAS = "pandas data structure or its unpickle helper: built from arrays and labels, no I/O"
_W_SKLEARN = (
    "scikit-learn estimator or Cython helper: estimators' __init__ only stores parameters (a rule "
    "sklearn's check_estimator enforces), __setstate__ restores __dict__ and checks the version"
)
_W_SKLEARN_NEWOBJ = "scikit-learn's newObj(cls) pickling helper: returns cls.__new__(cls), nothing else"
_W_GENSIM = (
    "gensim model/corpus class: pickled through SaveLoad as __dict__ state; no gensim class defines a "
    "__setstate__/__reduce__ with side effects (only rpmodel's, which assigns __dict__); its constructors "
    "train from corpora or files, so calling one is judged as unknown"
)
_W_LIGHTNING = "Lightning AttributeDict: a dict subclass exposing keys as attributes; no __setstate__ or __reduce__"
_W_TYPING = "a typing construct referenced as a value (annotations in configs); referencing it runs nothing"

# Exact names: (module, name) -> (tier, why). Checked before the denylist, so that a value type of an
# otherwise denied module (pathlib paths, types.SimpleNamespace) passes while the rest stays denied.
_SAFE_EXACT: dict[tuple[str, str], tuple[str, str]] = {
    **{("collections", n): (CALLABLE, _W_STDLIB) for n in ("OrderedDict", "defaultdict", "Counter", "deque")},
    ("copyreg", "_reconstructor"): (CALLABLE, _W_COPYREG),
    ("copyreg", "__newobj__"): (CALLABLE, _W_COPYREG),
    ("copyreg", "__newobj_ex__"): (CALLABLE, _W_COPYREG),
    ("_codecs", "encode"): (CALLABLE, "encodes a str to bytes (how protocol 2 writes bytes for Python 2)"),
    **{("datetime", n): (CALLABLE, _W_STDLIB) for n in ("datetime", "date", "time", "timedelta", "timezone")},
    ("decimal", "Decimal"): (CALLABLE, _W_STDLIB),
    ("fractions", "Fraction"): (CALLABLE, _W_STDLIB),
    ("uuid", "UUID"): (CALLABLE, _W_STDLIB),
    ("uuid", "SafeUUID"): (CALLABLE, _W_STDLIB),
    ("array", "array"): (CALLABLE, _W_STDLIB),
    ("array", "_array_reconstructor"): (CALLABLE, "array's unpickle helper: builds an array from machine values"),
    **{
        ("ipaddress", n): (CALLABLE, _W_STDLIB)
        for n in ("IPv4Address", "IPv6Address", "IPv4Network", "IPv6Network", "IPv4Interface", "IPv6Interface")
    },
    ("argparse", "Namespace"): (CALLABLE, "argparse.Namespace: a plain attribute bag (Lightning hparams)"),
    ("types", "SimpleNamespace"): (CALLABLE, "types.SimpleNamespace: a plain attribute bag"),
    ("re", "_compile"): (CALLABLE, "compiles a regular expression; runs no Python code"),
    ("enum", "Enum"): (CALLABLE, _W_STDLIB),
    **{
        (m, n): (CALLABLE, _W_PATH)
        for m in ("pathlib", "pathlib._local")
        for n in ("PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath")
    },
    **{
        ("typing", n): (CLASS, _W_TYPING)
        for n in ("Any", "Optional", "Union", "List", "Dict", "Tuple", "Set", "Callable", "Sequence", "Mapping")
    },
    ("torch", "Size"): (CALLABLE, _W_TORCH),
    ("torch", "device"): (CALLABLE, _W_TORCH),
    ("torch", "dtype"): (CALLABLE, _W_TORCH),
    ("torch", "layout"): (CALLABLE, _W_TORCH),
    ("torch", "memory_format"): (CALLABLE, _W_TORCH),
    ("torch", "Tensor"): (CALLABLE, _W_TORCH),
    ("torch._tensor", "_rebuild_from_type_v2"): (CALLABLE, _W_TORCH),
    ("torch._tensor", "Tensor"): (CALLABLE, _W_TORCH),
    ("torch.nn.parameter", "Parameter"): (CALLABLE, _W_TORCH),
    ("torch.nn.parameter", "Buffer"): (CALLABLE, _W_TORCH),
    ("torch.storage", "UntypedStorage"): (CALLABLE, _W_TORCH),
    ("torch.storage", "TypedStorage"): (CALLABLE, _W_TORCH),
    ("torch.storage", "_load_from_bytes"): (CALLABLE, "storage from bytes (scanned as a nested file)"),
    ("torch.serialization", "_get_layout"): (CALLABLE, _W_TORCH),
    ("torch.torch_version", "TorchVersion"): (CALLABLE, "a version string subclass"),
    ("torch.distributed._tensor.placement_types", "Shard"): (CALLABLE, _W_TORCH),
    ("torch.distributed._tensor.placement_types", "Replicate"): (CALLABLE, _W_TORCH),
    ("numpy", "ndarray"): (CALLABLE, _W_NUMPY),
    ("numpy", "dtype"): (CALLABLE, _W_NUMPY),
    ("numpy", "matrix"): (CALLABLE, _W_NUMPY),
    ("numpy.matrixlib.defmatrix", "matrix"): (CALLABLE, "numpy.matrix: an ndarray subclass built from values"),
    ("numpy.core.multiarray", "_reconstruct"): (CALLABLE, _W_NUMPY),
    ("numpy.core.multiarray", "scalar"): (CALLABLE, _W_NUMPY),
    ("numpy._core.multiarray", "_reconstruct"): (CALLABLE, _W_NUMPY),
    ("numpy._core.multiarray", "scalar"): (CALLABLE, _W_NUMPY),
    ("numpy.core.numeric", "_frombuffer"): (CALLABLE, _W_NUMPY),
    ("numpy._core.numeric", "_frombuffer"): (CALLABLE, _W_NUMPY),
    ("numpy.ma.core", "_mareconstruct"): (CALLABLE, _W_NUMPY),
    ("numpy.ma.core", "MaskedArray"): (CALLABLE, _W_NUMPY),
    ("numpy.ma", "MaskedArray"): (CALLABLE, _W_NUMPY),
    ("numpy", "memmap"): (CLASS, "reconstructing gives an in-memory array; called with arguments it opens a file"),
    ("numpy.core.memmap", "memmap"): (CLASS, "reconstructing gives an in-memory array; called it opens a file"),
    ("numpy._core.memmap", "memmap"): (CLASS, "reconstructing gives an in-memory array; called it opens a file"),
    ("numpy.random", "__RandomState_ctor"): (CALLABLE, _W_RANDOM),
    ("numpy.random._pickle", "__randomstate_ctor"): (CALLABLE, _W_RANDOM),
    ("numpy.random._pickle", "__bit_generator_ctor"): (CALLABLE, _W_RANDOM),
    ("numpy.random._pickle", "__generator_ctor"): (CALLABLE, _W_RANDOM),
    ("numpy.random.mtrand", "RandomState"): (CALLABLE, _W_RANDOM),
    ("numpy.random._generator", "Generator"): (CALLABLE, _W_RANDOM),
    ("numpy.random.bit_generator", "SeedSequence"): (CALLABLE, _W_RANDOM),
    ("numpy.random._mt19937", "MT19937"): (CALLABLE, _W_RANDOM),
    ("numpy.random._pcg64", "PCG64"): (CALLABLE, _W_RANDOM),
    ("numpy.random._pcg64", "PCG64DXSM"): (CALLABLE, _W_RANDOM),
    ("numpy.random._philox", "Philox"): (CALLABLE, _W_RANDOM),
    ("numpy.random._sfc64", "SFC64"): (CALLABLE, _W_RANDOM),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): (CALLABLE, _W_JOBLIB),
    ("joblib.numpy_pickle_compat", "NDArrayWrapper"): (CALLABLE, _W_JOBLIB),
    ("joblib.numpy_pickle_compat", "ZNDArrayWrapper"): (CALLABLE, _W_JOBLIB),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"): (CALLABLE, _W_JOBLIB),
    ("sklearn.metrics._dist_metrics", "newObj"): (CALLABLE, _W_SKLEARN_NEWOBJ),
    ("sklearn.neighbors._kd_tree", "newObj"): (CALLABLE, _W_SKLEARN_NEWOBJ),
    ("sklearn.neighbors._ball_tree", "newObj"): (CALLABLE, _W_SKLEARN_NEWOBJ),
    ("sklearn.neighbors._binary_tree", "newObj"): (CALLABLE, _W_SKLEARN_NEWOBJ),
    ("scipy.sparse._csr", "csr_matrix"): (CALLABLE, _W_SPARSE),
    ("scipy.sparse._csc", "csc_matrix"): (CALLABLE, _W_SPARSE),
    ("scipy.sparse._coo", "coo_matrix"): (CALLABLE, _W_SPARSE),
    ("pandas.core.frame", "DataFrame"): (CALLABLE, _W_PANDAS),
    ("pandas.core.series", "Series"): (CALLABLE, _W_PANDAS),
    ("pandas.core.internals.managers", "BlockManager"): (CALLABLE, _W_PANDAS),
    ("pandas.core.indexes.base", "_new_Index"): (CALLABLE, _W_PANDAS),
    ("pandas.core.indexes.base", "Index"): (CALLABLE, _W_PANDAS),
    ("pandas.core.indexes.range", "RangeIndex"): (CALLABLE, _W_PANDAS),
    ("pandas._libs.internals", "_unpickle_block"): (CALLABLE, _W_PANDAS),
    ("gensim.utils", "call_on_class_only"): (
        CALLABLE,
        "gensim 3 stores it as an instance's `load` attribute; calling it only raises AttributeError",
    ),
    **{
        (m, "AttributeDict"): (CLASS, _W_LIGHTNING)
        for m in (
            "lightning_fabric.utilities.data",
            "lightning.fabric.utilities.data",
            "pytorch_lightning.utilities.parsing",
            "lightning.pytorch.utilities.parsing",
        )
    },
}

# Cython's generated unpickle helper of a cdef class: checks a layout checksum, allocates the class
# given as its first argument (``cls.__new__(cls)``) and assigns the fields from the state tuple.
_PYX_UNPICKLE = re.compile(r"^(numpy|sklearn|scipy|pandas)(\.[A-Za-z0-9_]+)+\.__pyx_unpickle_[A-Za-z0-9_]+$")
_W_PYX = "Cython's generated unpickle helper: allocates the cdef class given to it and assigns its fields"

_W_HF_ENUM = (
    "a transformers ExplicitEnum (str, Enum): calling it with a value looks a member up; its _missing_ only "
    "raises ValueError (transformers/utils/generic.py)"
)
_W_HF_ARGS = (
    "a transformers dataclass (training_args.bin): no __setstate__/__reduce__, state restored into __dict__; "
    "calling it runs __post_init__, which may create directories"
)
_SAFE_EXACT.update(
    {
        **{
            (m, n): (ENUM, _W_HF_ENUM)
            for m, names in (
                ("transformers.training_args", ("OptimizerNames", "ParallelMode")),
                (
                    "transformers.trainer_utils",
                    (
                        "IntervalStrategy",
                        "SaveStrategy",
                        "HubStrategy",
                        "HPSearchBackend",
                        "SchedulerType",
                        "FSDPOption",
                    ),
                ),
                ("transformers.utils.generic", ("PaddingStrategy", "TensorType", "ExplicitEnum")),
                ("transformers.debug_utils", ("DebugOption",)),
            )
            for n in names
        },
        ("transformers.training_args", "TrainingArguments"): (CLASS, _W_HF_ARGS),
        ("transformers.training_args_seq2seq", "Seq2SeqTrainingArguments"): (CLASS, _W_HF_ARGS),
        ("transformers.trainer_pt_utils", "AcceleratorConfig"): (CLASS, _W_HF_ARGS),
        ("enum", "Enum"): (ENUM, "the enum base class"),
    }
)

_W_OMEGACONF = (
    "an omegaconf config container, node or metadata dataclass (Hydra configs in Lightning hparams): "
    "__setstate__ updates __dict__ and rebuilds typing annotations, no I/O; interpolations are strings "
    "resolved only when read (omegaconf/base.py, basecontainer.py)"
)

# Patterns over the dotted name: (pattern, tier, why).
_SAFE_PATTERNS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^torch\._utils\._rebuild_[a-z0-9_]+$"), CALLABLE, _W_TORCH),
    (re.compile(r"^torch\.[A-Za-z]*Storage$"), CALLABLE, _W_TORCH),
    (
        re.compile(
            r"^torch\.(float|double|half|bfloat16|complex|int|uint|bool|long|short|cfloat|cdouble|qint|quint|float8)"
            r"[a-z0-9_]*$"
        ),
        CALLABLE,
        "a torch dtype object",
    ),
    (
        re.compile(
            r"^torch\.(strided|sparse_coo|sparse_csr|sparse_csc|sparse_bsr|sparse_bsc|_mkldnn|"
            r"contiguous_format|channels_last|channels_last_3d|preserve_format)$"
        ),
        CALLABLE,
        "a torch layout or memory-format object",
    ),
    (
        re.compile(r"^torch\.nn\.modules(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"),
        CALLABLE,
        "a torch.nn layer class: construction allocates parameters, no I/O",
    ),
    (
        re.compile(r"^numpy\.(float|int|uint|complex|bool|bytes|str|object|void|datetime|timedelta)[a-z0-9_]*$"),
        CALLABLE,
        "a numpy scalar type",
    ),
    (re.compile(r"^numpy\.dtypes\.[A-Za-z0-9_]+DType$"), CALLABLE, "a numpy dtype class"),
    (_PYX_UNPICKLE, CALLABLE, _W_PYX),
    (re.compile(r"^sklearn(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"), CALLABLE, _W_SKLEARN),
    (re.compile(r"^sklearn(\.[a-z0-9_]+)+\._(loss|tree)\.[A-Za-z_]+$"), CALLABLE, _W_SKLEARN),
    (re.compile(r"^xgboost(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"), CALLABLE, "an xgboost model class"),
    (re.compile(r"^lightgbm(\.[a-z0-9_]+)+\.[A-Z][A-Za-z0-9_]*$"), CALLABLE, "a lightgbm model class"),
    (
        re.compile(r"^scipy\.sparse(\._[a-z]+|\.[a-z]+)?\.[a-z]+_(matrix|array)$"),
        CALLABLE,
        _W_SPARSE,
    ),
    (
        re.compile(
            r"^pandas\.(core|_libs)(\.[a-z0-9_]+)*\.([A-Z][A-Za-z0-9_]*|_new_[A-Za-z]+Index|_unpickle_[a-z_]+|"
            r"new_block[a-z_]*|_[a-z]+_unpickle)$"
        ),
        CALLABLE,
        _W_PANDAS,
    ),
    (
        re.compile(
            r"^gensim\.(models|corpora|similarities|interfaces|utils|matutils|topic_coherence|parsing)"
            r"(\.[a-z0-9_]+)*\.[A-Z][A-Za-z0-9_]*$"
        ),
        CLASS,
        _W_GENSIM,
    ),
    (re.compile(r"^omegaconf\.(dictconfig|listconfig|base|nodes)\.[A-Z][A-Za-z]*$"), CLASS, _W_OMEGACONF),
]

# Names safe inside a TorchScript archive: resolved by TorchScript's own class table, not imports.
_TORCHSCRIPT_PATTERNS = [re.compile(r"^__torch__\.[A-Za-z0-9_.]+$")]
# Safe helpers inside otherwise denied modules (TorchScript's list/tensor rebuilders).
_SAFE_FIRST = [re.compile(r"^torch\.jit\._pickle\.(build|restore)_[a-z_]+$")]

# Reconstruction helpers: (module, name) -> (index of the class argument, index of a base class
# that is *called* (its __init__ runs with the state) or -1). Everything else in their arguments
# counts as handed to a callable.
RECONSTRUCTORS: dict[tuple[str, str], tuple[int, int]] = {
    ("copyreg", "_reconstructor"): (0, 1),
    ("copyreg", "__newobj__"): (0, -1),
    ("copyreg", "__newobj_ex__"): (0, -1),
    ("numpy.core.multiarray", "_reconstruct"): (0, -1),
    ("numpy._core.multiarray", "_reconstruct"): (0, -1),
    ("numpy.ma.core", "_mareconstruct"): (0, 1),
    ("torch._tensor", "_rebuild_from_type_v2"): (1, -1),  # (func, type, args, state): func is called
    ("sklearn.metrics._dist_metrics", "newObj"): (0, -1),
    ("sklearn.neighbors._kd_tree", "newObj"): (0, -1),
    ("sklearn.neighbors._ball_tree", "newObj"): (0, -1),
    ("sklearn.neighbors._binary_tree", "newObj"): (0, -1),
    ("pandas.core.indexes.base", "_new_Index"): (0, -1),
}


@dataclass(frozen=True)
class Verdict:
    kind: str  # SAFE / DENIED / UNKNOWN
    severity: Severity
    why: str
    name: str  # the name judged, after mapping Python 2 names
    tier: str = ""  # for SAFE: CALLABLE or CLASS


class Use(enum.IntEnum):
    """How a pickle uses an imported name; a name used several ways is judged by its worst use."""

    REFERENCED = 0
    RECONSTRUCTED = 1
    CALLED = 2

    @property
    def text(self) -> str:
        return {0: "referenced", 1: "reconstructed", 2: "called"}[int(self)]


@dataclass(frozen=True)
class Judgement:
    """The decision about one imported name in one use. ``rule`` is None when there is nothing to
    report. ``why`` is the reason (kept as the finding's ``decision`` evidence)."""

    rule: str | None
    severity: Severity
    name: str  # as written in the file
    resolved: str  # what the unpickler imports (Python 2 names mapped)
    use: Use
    kind: str  # SAFE / DENIED / UNKNOWN
    why: str


def map_py2(module: str, name: str) -> tuple[str, str]:
    """The name the unpickler actually imports (``fix_imports``): ``__builtin__.eval`` is
    ``builtins.eval``, ``commands.getoutput`` is ``subprocess.getoutput``."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def judge(module: str, name: str, *, torchscript: bool = False) -> Verdict:
    """Judge ``module.name`` by name alone: the Python-2-mapped name (what the unpickler imports),
    or the raw name when that is itself denied and worse."""
    mapped = map_py2(module, name)
    if mapped == (module, name):
        return _judge_one(module, name, torchscript)
    resolved = _judge_one(*mapped, torchscript)
    raw = _judge_one(module, name, torchscript)
    if raw.kind == DENIED and (resolved.kind != DENIED or raw.severity > resolved.severity):
        return raw
    return resolved


def judge_use(
    module: str,
    name: str,
    use: Use,
    *,
    torchscript: bool = False,
    unknown_severity: Severity = Severity.MEDIUM,
) -> Judgement:
    """Judge a global given how the file uses it (the public entry point for every format that
    names Python objects: pickles, skops, ...)."""
    verdict = judge(module, name, torchscript=torchscript)
    raw = f"{module}.{name}"
    resolved = verdict.name
    if verdict.kind == DENIED:
        return Judgement(RULE_GLOBAL, verdict.severity, raw, resolved, use, DENIED, verdict.why)
    if verdict.kind == SAFE and (verdict.tier == CALLABLE or use < Use.CALLED):
        return Judgement(None, Severity.INFO, raw, resolved, use, SAFE, verdict.why)
    if use == Use.CALLED:
        module_r, _, name_r = resolved.rpartition(".")
        denied = _DENIED_NAMES.get((module_r, name_r))
        if verdict.kind == SAFE and denied is not None:  # safe to reconstruct, I/O when called
            return Judgement(RULE_GLOBAL, denied[0], raw, resolved, use, DENIED, f"called: {denied[1]}")
        if verdict.kind == SAFE:
            why = f"known safe only to reconstruct ({verdict.why}), but here called with arguments the file chose"
        elif resolved.startswith("__main__."):
            why = "a name of the loading program (__main__) invoked with arguments the file chose"
        else:
            why = "not on the known-safe list, and invoked with arguments the file chose"
        return Judgement(RULE_UNKNOWN, unknown_severity, raw, resolved, use, UNKNOWN, why)
    if resolved.startswith("__main__."):
        why = (
            f"a class of the loading program (__main__), only {use.text}: the file cannot bring its code, "
            "and no callable of the file's choosing runs"
        )
        return Judgement(RULE_UNKNOWN, min(Severity.INFO, unknown_severity), raw, resolved, use, UNKNOWN, why)
    why = (
        f"not on the known-safe list, only {use.text} (no call with the file's arguments); importing it runs "
        "its module's top-level code"
    )
    return Judgement(RULE_UNKNOWN, min(Severity.LOW, unknown_severity), raw, resolved, use, UNKNOWN, why)


def _safe(module: str, name: str, full: str) -> Verdict | None:
    if "." in name:
        return None
    hit = _SAFE_EXACT.get((module, name))
    if hit is not None:
        return Verdict(SAFE, Severity.INFO, hit[1], full, hit[0])
    for pattern, tier, why in _SAFE_PATTERNS:
        if pattern.match(full):
            return Verdict(SAFE, Severity.INFO, why, full, tier)
    return None


def _judge_one(module: str, name: str, torchscript: bool) -> Verdict:
    full = f"{module}.{name}"
    if any(p.match(full) for p in _SAFE_FIRST) or (torchscript and any(p.match(full) for p in _TORCHSCRIPT_PATTERNS)):
        return Verdict(SAFE, Severity.INFO, "TorchScript's own class table and rebuild helpers", full, CALLABLE)
    if "." not in name and (module, name) in _SAFE_EXACT:
        tier, why = _SAFE_EXACT[(module, name)]
        return Verdict(SAFE, Severity.INFO, why, full, tier)
    # A dotted name ("os.system" as name with protocol 4 STACK_GLOBAL) reaches attributes.
    head = name.split(".", 1)[0]
    hit = _DENIED_NAMES.get((module, head))
    if hit:
        return Verdict(DENIED, hit[0], hit[1], full)
    for candidate in _prefixes(full):
        denied = _DENIED_MODULES.get(candidate)
        if denied:
            return Verdict(DENIED, denied[0], denied[1], full)
    if "." in name:
        # protocol 4 resolves dotted names by attribute traversal: torch._utils.os.system is os.system
        parts = name.split(".")
        for part in parts:
            if part.startswith("__") or part in _DENIED_MODULES or ("builtins", part) in _DENIED_NAMES:
                return Verdict(DENIED, Severity.CRITICAL, f"reaches {part!r} through attribute traversal", full)
        if parts[-1] in _LOADER_METHODS:
            # KeyedVectors.load / Module.load_state_dict...: a method that loads or runs what it is given
            return Verdict(DENIED, Severity.HIGH, f"reaches the method {parts[-1]!r} through attribute traversal", full)
    if module == "builtins":  # (__builtin__ is judged as the builtins it maps to)
        if name in _SAFE_BUILTINS:
            return Verdict(SAFE, Severity.INFO, _WHY_BUILTIN, full, CALLABLE)
        return Verdict(DENIED, Severity.HIGH, "a built-in outside the data types", full)
    safe = _safe(module, name, full)
    if safe is not None:
        return safe
    return Verdict(UNKNOWN, Severity.MEDIUM, "imports a name outside the known-safe list", full)


def is_enum_lookup(module: str, name: str) -> bool:
    """Whether calling ``module.name`` with one constant is an Enum member lookup (ENUM tier)."""
    verdict = judge(module, name)
    return verdict.kind == SAFE and verdict.tier == ENUM


def reconstructor_slots(resolved: str) -> tuple[int, int] | None:
    """For a reconstruction helper (by its resolved dotted name): (class slot, called base slot)."""
    module, _, name = resolved.rpartition(".")
    if _PYX_UNPICKLE.match(resolved):
        return (0, -1)
    return RECONSTRUCTORS.get((module, name))


# Method names that load files, nested pickles or models, or run things, when reached as ``Class.method``.
_LOADER_METHODS = frozenset(
    {
        "load", "loads", "load_model", "load_word2vec_format", "load_fasttext_format", "load_state_dict",
        "from_pretrained", "from_file", "read_pickle", "unpickle", "open", "read", "read_text", "read_bytes",
        "write", "write_text", "write_bytes", "system", "popen", "run", "call", "exec", "eval", "spawn",
        "save", "to_pickle", "mkdir", "unlink", "rmdir", "rename", "replace", "touch", "chmod", "symlink_to",
    }
)  # fmt: skip


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
