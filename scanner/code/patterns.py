"""What the code check looks for: the names of calls by category, with their severities (used by
``scanner.code.analyze``). A name matches a prefix when it starts with it (``subprocess.`` covers
every function of the module)."""

from __future__ import annotations

import re

from scanner.core import Severity

# rule id → (severity anywhere, severity at import time, what it does)
CATEGORIES: dict[str, tuple[Severity, Severity, str]] = {
    "CODE-PROCESS": (Severity.HIGH, Severity.CRITICAL, "runs a process or shell command"),
    "CODE-DYNAMIC": (Severity.HIGH, Severity.CRITICAL, "runs or imports code chosen at run time"),
    "CODE-OBFUSCATED": (Severity.CRITICAL, Severity.CRITICAL, "runs code decoded from data"),
    "CODE-NETWORK": (Severity.HIGH, Severity.CRITICAL, "opens a network connection"),
    "CODE-FILE-WRITE": (Severity.MEDIUM, Severity.HIGH, "writes, moves or deletes files"),
    "CODE-CREDENTIALS": (Severity.HIGH, Severity.CRITICAL, "reads credentials or the whole environment"),
    "CODE-ENV-READ": (Severity.LOW, Severity.MEDIUM, "reads an environment variable"),
    "CODE-IMPORT-TIME-CALL": (Severity.LOW, Severity.LOW, "runs when the module is imported"),
}

PROCESS = (
    "os.system",
    "os.popen",
    "os.exec",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.startfile",
    "posix.system",
    "subprocess.",
    "pty.spawn",
    "commands.",
    "asyncio.create_subprocess_",
    "multiprocessing.Process",
    "platform.popen",
)
DYNAMIC = (
    "builtins.exec",
    "builtins.eval",
    "builtins.compile",
    "builtins.__import__",
    "builtins.execfile",
    "importlib.",
    "imp.",
    "runpy.",
    "marshal.loads",
    "marshal.load",
    "types.CodeType",
    "types.FunctionType",
    "ctypes.",
    "cffi.",
    "code.interact",
    "code.InteractiveInterpreter",
    "pydoc.locate",
    "zipimport.",
)
DECODERS = (
    "base64.",
    "binascii.a2b",
    "binascii.unhexlify",
    "zlib.decompress",
    "gzip.decompress",
    "bz2.decompress",
    "lzma.decompress",
    "codecs.decode",
    "marshal.loads",
    "bytes.fromhex",
    "builtins.bytes.fromhex",
)
RUNNERS = ("builtins.exec", "builtins.eval", "builtins.compile", "types.FunctionType", "marshal.loads")
NETWORK = (
    "socket.",
    "urllib.request.",
    "urllib.urlopen",
    "urllib2.",
    "http.client.",
    "httplib.",
    "requests.",
    "httpx.",
    "aiohttp.",
    "ftplib.",
    "smtplib.",
    "telnetlib.",
    "paramiko.",
    "websocket.",
    "websockets.",
    "xmlrpc.client.",
    "pycurl.",
    "dns.resolver.",
)
FILE_WRITE = (
    "os.remove",
    "os.unlink",
    "os.rmdir",
    "os.removedirs",
    "os.rename",
    "os.renames",
    "os.replace",
    "os.makedirs",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.write",
    "shutil.",
)
FILE_WRITE_METHODS = {"write_text", "write_bytes", "unlink", "rmtree", "rmdir", "chmod", "symlink_to", "touch"}
ENV = ("os.getenv", "os.environ", "os.getenvb", "os.environb", "posix.environ")
ENV_DUMP = ("os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values")
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|SESSION)", re.I)
SECRET_PATH = re.compile(
    r"(\.ssh/|id_rsa|id_ed25519|\.aws/credentials|\.netrc|\.git-credentials|\.docker/config\.json|"
    r"\.kube/config|huggingface/token|\.pypirc|/etc/shadow|/etc/passwd|\.config/gcloud|\.azure/)"
)
# Calls that commonly run at import time in ordinary model code and do nothing but build values.
BENIGN_MODULES = (
    "logging",
    "typing",
    "typing_extensions",
    "dataclasses",
    "functools",
    "enum",
    "re",
    "collections",
    "abc",
    "warnings",
    "math",
    "itertools",
    "operator",
    "string",
    "transformers",
    "torch",
    "numpy",
    "tokenizers",
    "sentencepiece",
    "mlflow",
    "sklearn",
    "pandas",
    "packaging",
)
BENIGN_BUILTINS = {
    "int",
    "str",
    "float",
    "bool",
    "bytes",
    "tuple",
    "list",
    "dict",
    "set",
    "frozenset",
    "object",
    "super",
    "len",
    "range",
    "isinstance",
    "issubclass",
    "property",
    "staticmethod",
    "classmethod",
    "type",
    "max",
    "min",
    "sorted",
    "enumerate",
    "zip",
    "map",
    "print",
    "hasattr",
    "repr",
    "abs",
    "round",
    "sum",
    "any",
    "all",
    "iter",
    "next",
    "slice",
    "NotImplementedError",
    "ValueError",
    "TypeError",
    "RuntimeError",
    "KeyError",
    "ImportError",
}
BUILTINS = set(dir(__import__("builtins")))
