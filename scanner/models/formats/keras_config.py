"""Keras model configs (JSON): the ``config.json`` of a ``.keras`` v3 zip, a standalone model JSON,
or the ``model_config`` / ``training_config`` attributes of a Keras ``.h5`` file.

What loading such a config can do, judged without Keras:

- ``MODEL-KERAS-LAMBDA`` (critical): a Lambda layer carrying marshalled Python bytecode, run on load
  or first call. The marshal stream is walked by a small reader of our own (``marshal.loads`` is
  never called) to name the identifiers and strings the code uses.
- ``MODEL-KERAS-SAFE-MODE-OFF`` (critical): a config that calls ``enable_unsafe_deserialization``
  (turning Keras' safe mode off for what follows, CVE-2025-9906).
- ``MODEL-KERAS-UNSAFE-FUNCTION`` (high): Keras' own functions that fetch or read files when named
  in a config (``get_file``, ``load_model``…, CVE-2025-8747) and lookup layers whose vocabulary
  is a file path (CVE-2025-12058).
- ``MODEL-KERAS-CUSTOM-OBJECT``: a ``module`` / ``registered_name`` / dotted ``class_name`` outside
  Keras' own packages — high for modules such as ``os``, ``subprocess``, ``builtins``; medium for
  other code (the training script's ``__main__``, third-party packages).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any, BinaryIO

from scanner import jsonfile
from scanner.core import Finding, Severity
from scanner.models.api import FormatContext, finding, unscannable

FORMAT = "json"
LAMBDA = "MODEL-KERAS-LAMBDA"
CUSTOM = "MODEL-KERAS-CUSTOM-OBJECT"
SAFE_MODE_OFF = "MODEL-KERAS-SAFE-MODE-OFF"
UNSAFE_FUNCTION = "MODEL-KERAS-UNSAFE-FUNCTION"

MAX_DEPTH = 200
MAX_FINDINGS = 50

KERAS_PACKAGES = frozenset(
    {
        "keras",
        "tf_keras",
        "keras_core",
        "keras_hub",
        "keras_nlp",
        "keras_cv",
        "tensorflow.keras",
        "tensorflow.python.keras",
    }
)
DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "builtins",
        "__builtin__",
        "sys",
        "shutil",
        "socket",
        "importlib",
        "runpy",
        "pickle",
        "_pickle",
        "marshal",
        "types",
        "code",
        "codeop",
        "ctypes",
        "pty",
        "webbrowser",
        "urllib",
        "urllib2",
        "requests",
        "http",
        "ftplib",
        "telnetlib",
        "smtplib",
        "multiprocessing",
        "asyncio",
        "commands",
        "platform",
        "pdb",
        "timeit",
        "dill",
        "joblib",
        "torch.hub",
    }
)
# Keras' own callables that reach files or the network when a config names them.
UNSAFE_KERAS_FUNCTIONS = frozenset(
    {
        "get_file",
        "load_model",
        "load_weights",
        "load_img",
        "enable_unsafe_deserialization",
        "deserialize_keras_object",
        "register_keras_serializable",
        "text_dataset_from_directory",
        "image_dataset_from_directory",
        "audio_dataset_from_directory",
    }
)
LOOKUP_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})

# Names in Lambda bytecode worth calling out in the message.
DANGEROUS_NAMES = frozenset(
    {"os", "system", "popen", "subprocess", "eval", "exec", "__import__", "open", "compile", "getattr", "socket"}
)


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def _package_allowed(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in KERAS_PACKAGES)


def _module_severity(module: str) -> Severity:
    top = module.split(".")[0]
    if module in DANGEROUS_MODULES or top in DANGEROUS_MODULES:
        return Severity.HIGH
    return Severity.MEDIUM


# --- marshal (read-only walk, never executed) ------------------------------------------------

# Code object layouts: (int32 fields before the objects, object count before firstlineno, objects after).
_LAYOUTS = {
    "3.11+": (5, 8, 2),  # argcount posonly kwonly stacksize flags | code consts names localsplus… | linetable exc
    "3.8-3.10": (6, 8, 1),  # + nlocals | code consts names varnames freevars cellvars filename name | lnotab
    "3.0-3.7": (5, 8, 1),  # no posonlyargcount
}


class _MarshalError(ValueError):
    pass


class _Marshal:
    """Walks a marshal stream, collecting strings; ``layout`` fixes the code-object shape."""

    def __init__(self, raw: bytes, layout: tuple[int, int, int]) -> None:
        self.raw = raw
        self.pos = 0
        self.layout = layout
        self.strings: list[str] = []
        self.code_names: list[str] = []
        self.depth = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.raw):
            raise _MarshalError("truncated")
        out = self.raw[self.pos : self.pos + n]
        self.pos += n
        return out

    def i32(self) -> int:
        return int(struct.unpack("<i", self.take(4))[0])

    def obj(self) -> Any:
        self.depth += 1
        if self.depth > 100:
            raise _MarshalError("nesting")
        try:
            return self._obj()
        finally:
            self.depth -= 1

    def _obj(self) -> Any:
        code = self.take(1)[0] & 0x7F  # strip FLAG_REF
        t = chr(code)
        if t in "0NFTS.":
            return None
        if t == "i":
            return self.i32()
        if t == "r":
            self.i32()
            return None
        if t == "l":
            n = abs(self.i32())
            self.take(2 * n)
            return None
        if t == "g":
            self.take(8)
            return None
        if t == "y":
            self.take(16)
            return None
        if t in "fx":
            for _ in range(1 if t == "f" else 2):
                self.take(self.take(1)[0])
            return None
        if t == "s":
            self.take(self.i32())
            return None
        if t in "tuaA":
            text = self.take(self.i32()).decode("utf-8", "replace")
            self.strings.append(text)
            return text
        if t in "zZ":
            text = self.take(self.take(1)[0]).decode("latin-1")
            self.strings.append(text)
            return text
        if t in "([<>":
            return [self.obj() for _ in range(self.i32())]
        if t == ")":
            return [self.obj() for _ in range(self.take(1)[0])]
        if t == "{":
            while self.raw[self.pos : self.pos + 1] != b"0":
                self.obj()
                self.obj()
            self.take(1)
            return None
        if t == "c":
            ints, before, after = self.layout
            self.take(4 * ints)
            fields = [self.obj() for _ in range(before)]
            self.i32()  # firstlineno
            for _ in range(after):
                self.obj()
            names = fields[2]
            if isinstance(names, list):
                self.code_names.extend(n for n in names if isinstance(n, str))
            return None
        raise _MarshalError(f"unknown marshal type {t!r}")


def describe_bytecode(raw: bytes) -> dict[str, Any]:
    """Names and strings used by a marshalled code object, found without unmarshalling it.

    Tries each known code-object layout and keeps the one that consumes the stream exactly.
    """
    info: dict[str, Any] = {"bytes": len(raw)}
    if not raw or raw[0] & 0x7F != ord("c"):
        info["layout"] = None
        return info
    for label, layout in _LAYOUTS.items():
        walker = _Marshal(raw, layout)
        try:
            walker.obj()
        except (_MarshalError, IndexError, struct.error):
            continue
        if walker.pos != len(raw):
            continue
        names = list(dict.fromkeys(walker.code_names))
        strings = [s for s in dict.fromkeys(walker.strings) if s not in names]
        info.update(
            layout=f"python {label}",
            names=names[:50],
            strings=strings[:50],
            dangerous=sorted({n for n in names + strings if n in DANGEROUS_NAMES}),
        )
        return info
    info["layout"] = None
    return info


def _decode_code(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


# --- config walk -----------------------------------------------------------------------------


class _Judge:
    def __init__(self, subject: str, extra: dict[str, Any]) -> None:
        self.subject = subject
        self.extra = extra
        self.findings: list[Finding] = []
        self.seen: set[tuple[str, str, str]] = set()

    def add(self, rule: str, severity: Severity, path: str, message: str, fix: str, **evidence: Any) -> None:
        key = (rule, path, message)
        if key in self.seen or len(self.findings) >= MAX_FINDINGS:
            return
        self.seen.add(key)
        self.findings.append(
            finding(rule, severity, self.subject, message, fix=fix, path=path, **evidence, **self.extra)
        )

    def walk(self, node: Any, path: str, layer: str | None, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise RecursionError
        if isinstance(node, list):
            for i, item in enumerate(node):
                self.walk(item, f"{path}[{i}]", layer, depth + 1)
            return
        if not isinstance(node, dict):
            if isinstance(node, str) and "enable_unsafe_deserialization" in node:
                self.safe_mode_off(path, layer)
            return
        config = node.get("config")
        class_name = node.get("class_name")
        if isinstance(class_name, str):
            name = config.get("name") if isinstance(config, dict) else None
            layer = name if isinstance(name, str) else layer
            self.judge_object(node, class_name, path, layer)
        if node.get("safe_mode") is False:
            self.safe_mode_off(path, layer)
        for key, value in node.items():
            self.walk(value, f"{path}.{key}" if path else key, layer, depth + 1)

    def safe_mode_off(self, path: str, layer: str | None) -> None:
        if any(f.id == SAFE_MODE_OFF for f in self.findings):
            return  # one is enough: the string and the object naming it are the same entry
        self.add(
            SAFE_MODE_OFF,
            Severity.CRITICAL,
            path,
            "config turns Keras safe mode off (enable_unsafe_deserialization / safe_mode false): everything after "
            "it may run code on load",
            "remove the entry; never load this model with safe_mode=False",
            layer=layer,
        )

    def judge_object(self, node: dict[str, Any], class_name: str, path: str, layer: str | None) -> None:
        module = node.get("module")
        registered = node.get("registered_name")
        config = node.get("config")
        if class_name == "Lambda" and isinstance(config, dict):
            self.judge_lambda(config, path, layer)
        if class_name == "__lambda__" and isinstance(config, dict):
            self.lambda_code(config.get("code"), path, layer)
        if class_name in LOOKUP_LAYERS and isinstance(config, dict) and isinstance(config.get("vocabulary"), str):
            self.add(
                UNSAFE_FUNCTION,
                Severity.HIGH,
                path,
                f"{class_name} layer {layer!r} reads its vocabulary from the file {config['vocabulary']!r} on load "
                "(local file read, CVE-2025-12058)",
                "ship the vocabulary inside the model instead of as a path",
                layer=layer,
                function=class_name,
                file=config["vocabulary"],
            )
        # Where loading would import from: the module, else a registered package, else a dotted class.
        names: list[tuple[str, str]] = []
        if isinstance(module, str) and module:
            names.append(("module", module))
        elif isinstance(registered, str) and ">" in registered:
            names.append(("registered_name", registered.split(">", 1)[0]))
        elif "." in class_name:
            names.append(("class_name", class_name.rsplit(".", 1)[0]))
        target = class_name
        for source, mod in names:
            if _package_allowed(mod):
                if class_name in UNSAFE_KERAS_FUNCTIONS or (
                    isinstance(config, str) and config in UNSAFE_KERAS_FUNCTIONS
                ):
                    func = config if isinstance(config, str) and config in UNSAFE_KERAS_FUNCTIONS else class_name
                    if func == "enable_unsafe_deserialization":
                        self.safe_mode_off(path, layer)
                    else:
                        self.add(
                            UNSAFE_FUNCTION,
                            Severity.HIGH,
                            path,
                            f"config calls {mod}.{func}, which fetches or reads files when the model is loaded "
                            "(CVE-2025-8747)",
                            "remove the entry",
                            layer=layer,
                            function=f"{mod}.{func}",
                        )
                continue
            if isinstance(config, str) and class_name == "function":
                target = config  # Keras 3 serializes a plain function as class_name "function", config = name
            severity = _module_severity(mod)
            self.add(
                CUSTOM,
                severity,
                path,
                f"config names {mod}.{target} ({source}), code outside Keras that loading imports"
                + (" — a module that reaches the OS or the interpreter" if severity is Severity.HIGH else ""),
                "load only with reviewed custom objects, or re-export without custom code",
                layer=layer,
                module=mod,
                name=target,
                source=source,
            )

    def judge_lambda(self, config: dict[str, Any], path: str, layer: str | None) -> None:
        function = config.get("function")
        ftype = config.get("function_type")
        if isinstance(function, list) and function and isinstance(function[0], str) and ftype != "function":
            self.lambda_code(function[0], path, layer)  # Keras 2: func_dump -> [code, defaults, closure]
        elif isinstance(function, str) and ftype == "lambda":
            self.lambda_code(function, path, layer)
        elif isinstance(function, str) and ftype == "function":
            module = config.get("module")
            mod = module if isinstance(module, str) else "?"
            if not _package_allowed(mod):
                self.add(
                    CUSTOM,
                    _module_severity(mod),
                    path,
                    f"Lambda layer {layer!r} calls the function {mod}.{function}",
                    "load only with reviewed custom objects, or re-export without custom code",
                    layer=layer,
                    module=mod,
                    name=function,
                    source="Lambda",
                )
        # Keras 3: {"class_name": "__lambda__", ...} nested dicts are found by the walk.

    def lambda_code(self, code: Any, path: str, layer: str | None) -> None:
        raw = _decode_code(code) if isinstance(code, str) else None
        info: dict[str, Any] = describe_bytecode(raw) if raw else {"bytes": 0, "layout": None}
        shown: list[str] = info.get("dangerous") or info.get("names", [])[:5]
        uses = ", ".join(shown)
        self.add(
            LAMBDA,
            Severity.CRITICAL,
            path,
            f"Lambda layer {layer!r} carries marshalled Python bytecode that runs when the model is loaded or called"
            + (f" (uses {uses})" if uses else ""),
            "rebuild the model without Lambda layers (a registered custom layer, reviewed)",
            layer=layer,
            bytecode=info,
        )


def judge_config(config: Any, subject: str, extra: dict[str, Any], prefix: str = "") -> list[Finding]:
    """Findings for a parsed Keras config (any JSON value). ``prefix`` names where it came from."""
    judge = _Judge(subject, extra)
    try:
        judge.walk(config, prefix, None)
    except RecursionError:
        judge.findings.append(unscannable(subject, f"Keras config nests deeper than {MAX_DEPTH} levels", **extra))
    return judge.findings


def parse_json(raw: bytes) -> Any:
    """JSON parse that turns hostile nesting into ValueError."""
    try:
        return jsonfile.loads(raw)
    except RecursionError:
        raise ValueError("JSON nests too deeply") from None


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    member = _member(subject)
    if member is not None:
        extra["member"] = member
    if size > ctx.limits.max_header_bytes:
        return [unscannable(subject, f"Keras config of {size} bytes exceeds the limit", **extra)]
    data.seek(0)
    raw = data.read(size)
    if len(raw) != size:
        return [unscannable(subject, f"expected {size} bytes, read {len(raw)}", **extra)]
    try:
        config = parse_json(raw)
    except ValueError as exc:
        return [unscannable(subject, f"not valid JSON: {exc}", **extra)]
    return judge_config(config, subject, extra)
