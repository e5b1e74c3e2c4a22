"""HDF5 (Keras ``.h5``): the model's JSON config lives in root attributes; judge it as a Keras config.

The HDF5 C library is not safe to use on hostile files: a corrupted variable-length string can
make it loop forever or crash, which no ``try`` catches. So h5py runs in a child process, with a
time limit and a memory cap, and reads only the ``model_config`` and ``training_config``
attributes (their declared storage size is checked first). The child prints them as JSON and the
judging happens here. A file on disk is opened through the descriptor it was hashed from
(``/proc/<pid>/fd/N``, never its name); an archive member is piped to the child through stdin, and
nothing is written to disk. Keras is never imported. A file the child cannot
read, or that hits a limit, is unscannable and never clean.
"""

from __future__ import annotations

import atexit
import json
import os
import stat
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
        if request["path"] is None:
            answer = _read_attributes(io.BytesIO(stdin.read(request["size"])), request["limit"])
        else:
            answer = _read_file(request["path"], request["limit"])
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def _read_file(path: str, limit: int) -> dict[str, Any]:
    """The parent's descriptor (``/proc/<pid>/fd/N``) opened as a Python file object: given a name,
    HDF5 would resolve the link to the file's own name, gone when the file was replaced after the
    parent opened it."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        return {"attrs": {}, "error": f"{type(exc).__name__}: {exc.strerror or exc}"}
    with fh:
        return _read_attributes(fh, limit)


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


def _on_disk(data: BinaryIO, subject: str, size: int) -> Path | None:
    """A name under which the child opens the very file ``data`` reads, when ``data`` is a whole
    file (not an archive member): its descriptor, through ``/proc/<pid>/fd``. Never the file's
    own name: the digest was taken from this descriptor, and the name may hold another file by
    the time the child opens it (a swap after hashing would have the other file judged under this
    digest). Elsewhere (no ``/proc``), ``None``: the bytes are piped to the child."""
    if "!" in subject:
        return None
    try:
        fd = data.fileno()
        path = Path(f"/proc/{os.getpid()}/fd/{fd}")
        st, seen = os.fstat(fd), os.stat(path)  # the descriptor's file, as the child will open it
    except (AttributeError, OSError, ValueError):
        return None
    same = (st.st_dev, st.st_ino) == (seen.st_dev, seen.st_ino)
    return path if same and st.st_size == size and stat.S_ISREG(st.st_mode) else None


def _run_child(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> dict[str, Any]:
    path = _on_disk(data, subject, size)
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
