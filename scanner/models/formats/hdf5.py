"""HDF5 (Keras ``.h5``): the model's JSON config lives in root attributes; judge it as a Keras config.

The HDF5 C library is not safe to use on hostile files: a corrupted variable-length string can
make it loop forever or crash, which no ``try`` catches. So h5py runs in a child process, with a
time limit and a memory cap, and reads only the ``model_config`` and ``training_config``
attributes (their declared storage size is checked first). The child prints them as JSON and the
judging happens here. A file on disk is opened by path; an archive member is piped to the child
through stdin, and nothing is written to disk. Keras is never imported. A file the child cannot
read, or that hits a limit, is unscannable and never clean.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

from scanner.core import Finding
from scanner.models.api import FormatContext, unscannable
from scanner.models.formats import keras_config

FORMAT = "hdf5"
CONFIG_ATTRS = ("model_config", "training_config")
TIMEOUT = 30.0  # seconds for the child to read the attributes
MEMORY = 1 << 30  # bytes the child may map on top of what it had after importing h5py


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def _text(value: Any) -> str | None:
    """An attribute value as text: h5py returns str, bytes, or a 0-d/1-element numpy array."""
    if hasattr(value, "shape") and getattr(value, "size", 0) == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return None


def _read_attributes(source: Any, limit: int) -> dict[str, Any]:
    """Runs in the child: ``{"attrs": {name: {"text"} | {"error"}}, "error": str | None}``."""
    import h5py

    out: dict[str, Any] = {"attrs": {}, "error": None}
    try:
        with h5py.File(source, "r") as h5:
            for name in CONFIG_ATTRS:
                if name not in h5.attrs:
                    continue
                if h5py.h5a.open(h5.id, name.encode()).get_storage_size() > limit:
                    out["attrs"][name] = {"error": f"attribute {name} exceeds {limit} bytes"}
                    continue
                text = _text(h5.attrs[name])
                if text is None:
                    out["attrs"][name] = {"error": f"attribute {name} is not a string"}
                elif len(text) > limit:
                    out["attrs"][name] = {"error": f"attribute {name} exceeds {limit} bytes"}
                else:
                    out["attrs"][name] = {"text": text}
    except Exception as exc:  # the child reports every failure; the parent fails closed
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _child() -> None:
    """Child entry point: serves requests until stdin closes. A request is one JSON line
    ``{"path": str | null, "size": int, "limit": int}`` followed, when ``path`` is null, by
    ``size`` raw bytes of the file; the answer is one JSON line (see ``_read_attributes``)."""
    import io
    import resource

    import h5py  # noqa: F401 - imported before the memory cap, which covers only the reading

    with open("/proc/self/statm") as fh:
        mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY, mapped + MEMORY))
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while line := stdin.readline():
        request = json.loads(line)
        source: Any = request["path"]
        if source is None:
            source = io.BytesIO(stdin.read(request["size"]))
        stdout.write(json.dumps(_read_attributes(source, request["limit"])) + "\n")
        stdout.flush()
        del source


class _ChildReader:
    """One h5py child process serving a whole run (starting Python and importing h5py costs far
    more than reading two attributes). A child that times out, crashes or answers nonsense is
    killed; the file it was reading is unscannable and the next file gets a new child."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        import scanner

        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        package_root = str(Path(scanner.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-c", "from scanner.models.formats.hdf5 import _child; _child()"]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def read(self, path: Path | None, payload: bytes | None, size: int, limit: int) -> dict[str, Any]:
        import selectors

        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        request = json.dumps({"path": str(path) if path else None, "size": size, "limit": limit}) + "\n"
        try:
            proc.stdin.write(request.encode())
            if payload is not None:
                proc.stdin.write(payload)
            proc.stdin.flush()
        except OSError:
            return self._fail("the HDF5 reader stopped")
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(TIMEOUT):
                return self._fail(f"reading the HDF5 attributes took longer than {TIMEOUT:g} s (malformed file?)")
        line = proc.stdout.readline()
        if not line:
            return self._fail("the HDF5 reader failed")
        try:
            result: dict[str, Any] = json.loads(line)
        except ValueError:
            return self._fail("the HDF5 reader returned no result")
        return result

    def _fail(self, reason: str) -> dict[str, Any]:
        proc, self._proc = self._proc, None
        detail = ""
        if proc is not None:
            proc.kill()
            _, err = proc.communicate()
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:]
            detail = f" ({tail[0][:200]})" if tail else f" (exit {proc.returncode})"
        return {"error": reason + detail}

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


_reader = _ChildReader()
atexit.register(_reader.close)


def _on_disk(ctx: FormatContext, subject: str, size: int) -> Path | None:
    """The file on disk when ``data`` is that whole file (not an archive member)."""
    if ctx.path is None or "!" in subject:
        return None
    path = ctx.path
    if not path.exists() and ctx.root is not None:
        path = ctx.root / path
    try:
        return path if path.is_file() and path.stat().st_size == size else None
    except OSError:
        return None


def _run_child(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> dict[str, Any]:
    path = _on_disk(ctx, subject, size)
    payload: bytes | None = None
    if path is None:
        data.seek(0)
        payload = data.read(size)
    return _reader.read(path, payload, len(payload) if payload is not None else size, ctx.limits.max_header_bytes)


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    member = _member(subject)
    if member is not None:
        extra["member"] = member
    result = _run_child(data, size, subject, ctx)
    if result.get("error"):
        return [unscannable(subject, f"HDF5 file could not be read: {result['error']}", **extra)]
    findings: list[Finding] = []
    for name, value in result.get("attrs", {}).items():
        if "error" in value:
            findings.append(unscannable(subject, value["error"], **extra))
            continue
        try:
            config = keras_config.parse_json(value["text"].encode("utf-8"))
        except ValueError as exc:
            findings.append(unscannable(subject, f"attribute {name} is not valid JSON: {exc}", **extra))
            continue
        findings.extend(keras_config.judge_config(config, subject, {**extra, "attribute": name}, name))
    return findings
