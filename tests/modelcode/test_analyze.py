"""The AST pass on its own: each pattern a model's code can hide, with the exact rule, severity,
line and call (the code is parsed, never imported)."""

from __future__ import annotations

import pytest

from scanner.code.analyze import ParseError, analyze


def issues(src: str) -> list[tuple[str, str, int, str]]:
    return [(i.rule, i.severity.value, i.line, i.call) for i in analyze(src.encode())]


CASES = {
    "os.system at import": ("import os\nos.system('true')\n", [("CODE-PROCESS", "critical", 2, "os.system")]),
    "subprocess at import, aliased": (
        "import subprocess as sp\nsp.run(['true'])\n",
        [("CODE-PROCESS", "critical", 2, "subprocess.run")],
    ),
    "from-import of os.popen inside a function": (
        "from os import popen\n\ndef f():\n    return popen('true').read()\n",
        [("CODE-PROCESS", "high", 4, "os.popen")],
    ),
    "exec of base64 at import": (
        "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
        [("CODE-OBFUSCATED", "critical", 2, "builtins.exec")],
    ),
    "eval of zlib-decompressed text in a method": (
        "import zlib\n\nclass M:\n    def go(self, blob):\n        return eval(zlib.decompress(blob).decode())\n",
        [("CODE-OBFUSCATED", "critical", 5, "builtins.eval")],
    ),
    "marshal code object": (
        "import marshal, types\n\ndef f(b):\n    return types.FunctionType(marshal.loads(b), {})\n",
        [("CODE-DYNAMIC", "high", 4, "marshal.loads"), ("CODE-OBFUSCATED", "critical", 4, "types.FunctionType")],
    ),
    "importlib at import": (
        "import importlib\nmod = importlib.import_module('os')\n",
        [("CODE-DYNAMIC", "critical", 2, "importlib.import_module")],
    ),
    "__import__ chain": (
        "__import__('os').system('true')\n",
        [
            ("CODE-DYNAMIC", "critical", 1, "builtins.__import__"),
            ("CODE-PROCESS", "critical", 1, "os.system"),
        ],
    ),
    "getattr with a constant name": (
        "import os\n\ndef f():\n    getattr(os, 'system')('true')\n",
        [("CODE-PROCESS", "high", 4, "os.system")],
    ),
    "network beacon in __init__": (
        "import socket\n\nclass TinyModel:\n    def __init__(self):\n"
        "        socket.create_connection(('example.invalid', 80))\n",
        [("CODE-NETWORK", "high", 5, "socket.create_connection")],
    ),
    "urllib beacon at import": (
        "import urllib.request\nurllib.request.urlopen('http://example.invalid')\n",
        [("CODE-NETWORK", "critical", 2, "urllib.request.urlopen")],
    ),
    "own function called at import is import time": (
        "import requests\n\ndef _beacon():\n    requests.get('http://example.invalid')\n\n_beacon()\n",
        [("CODE-NETWORK", "critical", 4, "requests.get"), ("CODE-IMPORT-TIME-CALL", "low", 6, "_beacon")],
    ),
    "decorator runs at import": (
        "import subprocess\n\ndef register(f):\n    subprocess.call(['true'])\n    return f\n\n"
        "@register\ndef forward(x):\n    return x\n",
        [("CODE-PROCESS", "critical", 4, "subprocess.call"), ("CODE-IMPORT-TIME-CALL", "low", 7, "register")],
    ),
    "class body runs at import": (
        "import os\n\nclass M:\n    token = os.environ.get('HF_TOKEN')\n",
        [("CODE-CREDENTIALS", "critical", 4, "os.environ.get")],
    ),
    "environment dump": (
        "import os\n\ndef f():\n    return dict(os.environ)\n",
        [
            ("CODE-CREDENTIALS", "high", 4, "builtins.dict"),
        ],
    ),
    "ordinary environment read": (
        "import os\n\ndef f():\n    return os.getenv('LOCAL_RANK', '0')\n",
        [
            ("CODE-ENV-READ", "low", 4, "os.getenv"),
        ],
    ),
    "credential file read": (
        "def f():\n    return open('/root/.aws/credentials').read()\n",
        [
            ("CODE-CREDENTIALS", "high", 2, "builtins.open"),
        ],
    ),
    "file write and delete": (
        "import shutil\n\ndef f(p):\n    open(p, 'w').write('x')\n    shutil.rmtree('/tmp/x')\n",
        [("CODE-FILE-WRITE", "medium", 4, "builtins.open"), ("CODE-FILE-WRITE", "medium", 5, "shutil.rmtree")],
    ),
    "builtins reached through __builtins__": (
        "def f(s):\n    return __builtins__['exec'](s)\n",
        [("CODE-DYNAMIC", "high", 2, "builtins.exec")],
    ),
    "main guard does not run on import": (
        "import os\n\nif __name__ == '__main__':\n    os.system('true')\n",
        [("CODE-PROCESS", "high", 4, "os.system")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pattern(name: str) -> None:
    src, expected = CASES[name]
    assert issues(src) == sorted(expected, key=lambda e: (e[2], e[0], e[3]))


def test_ordinary_model_code_is_quiet() -> None:
    from tests.modelcode.conftest import BENIGN_CONFIG, BENIGN_MODELING

    assert issues(BENIGN_MODELING) == []
    assert issues(BENIGN_CONFIG) == []


def test_unknown_import_time_call_is_low() -> None:
    assert issues("import mypkg\nmypkg.setup()\n") == [("CODE-IMPORT-TIME-CALL", "low", 2, "mypkg.setup")]
    assert issues("from mypkg import *\n\nrun()\n") == [("CODE-IMPORT-TIME-CALL", "low", 3, "run")]


@pytest.mark.parametrize(
    "src",
    [b"def f(:\n", b"x = 1\0\n", b"(" * 300 + b")" * 300, b"x = " + b"-" * 200_000 + b"1\n"],
    ids=["syntax", "nul", "parens", "deep-unary"],
)
def test_unparseable_source_raises(src: bytes) -> None:
    with pytest.raises(ParseError):
        analyze(src)


def test_instantiating_a_class_at_import_runs_its_constructor() -> None:
    src = (
        "import socket\n\n\nclass Model:\n    def __init__(self):\n        socket.socket()\n\n"
        "    def predict(self, x):\n        socket.socket()\n\n\nmodel = Model()\n"
    )
    assert issues(src) == [
        ("CODE-NETWORK", "critical", 6, "socket.socket"),
        ("CODE-NETWORK", "high", 9, "socket.socket"),
    ]
