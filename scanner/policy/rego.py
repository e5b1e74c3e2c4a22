"""The one module that talks to regopy (Microsoft's rego-cpp binding). Everything else in the
policy package — the engine, its plan cache, ``scanner policy test`` — calls these functions, so
a regopy upgrade (or a different Rego engine) touches this file only.

regopy 1.5.2 traps handled here (see ``tests/policy/test_conformance.py``):

- result strings are written without escaping (see ``rego_safe``);
- compile errors are printed on the C-level stdout: it is redirected while regopy runs, so a
  report on stdout stays clean, and the error is raised as a ScanError naming file:line:col;
- an evaluation error comes back as an s-expression in place of JSON: it becomes a ScanError;
- its public ``Interpreter.query`` returns an object without the raw output text, so queries run
  through ``regopy.rego_shared`` on the interpreter's handle (``_impl``) — only here;
- the input object must stay alive while a query runs (``set_input`` returns it to keep).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from json.encoder import encode_basestring as _escape  # what json.dumps(str, ensure_ascii=False) calls
from pathlib import Path
from typing import Any, Protocol

from scanner.errors import ScanError
from scanner.policy import address_space

# regopy's allocator aborts the process (SIGABRT) under a low address-space limit when the
# library loads: stop first, with exit 2 and a message, before importing it.
address_space.check()

import regopy  # noqa: E402
from regopy import (  # noqa: E402
    Input,
    Interpreter,
    RegoError,
    rego_shared,
)
from regopy.interpreter import BundleFormat  # noqa: E402
from regopy.rego_shared import (  # noqa: E402
    rego_bundle_query,
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_new_input,
    rego_output_ok,
    rego_output_string,
    rego_query,
)

VERSION: str = regopy.__version__


class Source(Protocol):
    """A Rego module: where it came from and its text."""

    @property
    def path(self) -> Path: ...

    @property
    def text(self) -> str: ...


def interpreter() -> Any:
    """A fresh, empty interpreter."""
    return Interpreter()


def compile_modules(modules: Sequence[Source], data: dict[str, Any]) -> Any:
    """An interpreter holding the modules and the data; compile errors → ScanError."""
    rego = Interpreter()
    for m in modules:
        try:
            with captured_stdout() as out:
                rego.add_module(str(m.path), m.text)
        except RegoError as exc:
            raise compile_error(str(exc), out.text, modules, m.path) from None
    try:
        # Data is trusted configuration (it holds regular expressions): added as it is.
        rego.add_data_json(json.dumps(data, allow_nan=False))
    except (RegoError, ValueError) as exc:
        raise ScanError(f"policy data rejected by the engine: {exc}") from None
    return rego


def build(
    rego: Any, modules: Sequence[Source], where: Path, *, query: str | None, entrypoints: Sequence[str] = ()
) -> Any:
    """A compiled plan (bundle) for one query, or for named entry points; errors → ScanError."""
    try:
        with captured_stdout() as out:
            return rego.build(query, list(entrypoints)) if entrypoints else rego.build(query)
    except RegoError as exc:
        raise compile_error(str(exc), out.text, modules, where) from None


def set_input(rego: Any, value: Any) -> Any:
    """Set the input document; returns the engine's copy, which the caller keeps alive while
    querying (regopy reads it during the query: freeing it earlier crashes)."""
    try:
        handle = _input(value)
    except (TypeError, ValueError, OverflowError, RegoError) as exc:
        raise ScanError(f"policy input cannot be passed to the engine: {exc}") from None
    rego.set_input(handle)
    return handle


def _input(value: Any) -> Any:
    """The engine's copy of ``value`` with every string (keys too) escaped by ``rego_safe``:
    the same engine calls as regopy's own ``Input(value)``, value by value, in one pass without
    an escaped copy of the document and without regopy's per-value Python wrappers (a batch
    builds one for every artifact it judges)."""
    lib = rego_shared.rego
    p = rego_new_input()
    string, boolean, integer, floating, null = (
        lib.regoInputString,
        lib.regoInputBoolean,
        lib.regoInputInt,
        lib.regoInputFloat,
        lib.regoInputNull,
    )
    item, obj, array = lib.regoInputObjectItem, lib.regoInputObject, lib.regoInputArray
    ok = rego_shared.Code.OK
    # keys and many values (rule ids, severities, field names) repeat: escape and encode each once
    encoded: dict[str, bytes] = {}

    def add_object(v: Mapping[Any, Any]) -> Any:
        for k, x in v.items():
            add(k)
            add(x)
            if item(p) != ok:
                raise RegoError("Unable to create input")
        return obj(p, len(v))

    def add_array(v: list[Any] | tuple[Any, ...]) -> Any:
        for x in v:
            add(x)
        return array(p, len(v))

    def add(v: Any) -> None:
        kind = type(v)  # the exact types the pipeline builds first: this runs once per value
        if kind is str:
            b = encoded.get(v)
            if b is None:
                b = encoded[v] = rego_safe(v).encode("utf-8")
            code = string(p, b)
        elif kind is dict:
            code = add_object(v)
        elif kind is list:
            code = add_array(v)
        elif isinstance(v, str):
            code = string(p, rego_safe(v).encode("utf-8"))
        elif v is True or v is False:
            code = boolean(p, v)
        elif isinstance(v, int):
            code = integer(p, v)
        elif isinstance(v, float):
            code = floating(p, v)
        elif v is None:
            code = null(p)
        elif isinstance(v, Mapping):
            code = add_object(v)
        elif isinstance(v, (list, tuple)):
            code = add_array(v)
        else:
            raise TypeError(f"cannot pass a {type(v).__name__} to the engine")
        if code != ok:
            raise RegoError("Unable to create input", code)

    try:
        add(value)
    except BaseException:
        rego_shared.rego_free_input(p)
        raise
    handle = Input.__new__(Input)  # owns the built input: regopy frees it with the handle
    handle._impl = p
    return handle


def query(rego: Any, text: str, where: Path) -> Any:
    """Evaluate a query on the interpreter (uncompiled); the decoded result, None if undefined."""
    with captured_stdout():
        impl = rego_query(rego._impl, text)
    return _read_output(impl, where)


def query_bundle(rego: Any, bundle: Any, where: Path) -> Any:
    """Run a compiled plan's query; the decoded result, None if undefined."""
    with captured_stdout():
        impl = rego_bundle_query(rego._impl, bundle._impl)
    return _read_output(impl, where)


def query_entrypoint(rego: Any, bundle: Any, entrypoint: str, where: Path) -> Any:
    """Evaluate one entry point of a compiled plan; the decoded result, None if undefined."""
    with captured_stdout():
        impl = rego_bundle_query_entrypoint(rego._impl, bundle._impl, entrypoint)
    return _read_output(impl, where)


def load_bundle(rego: Any, path: Path) -> Any:
    """A saved plan loaded into ``rego``, or None when it cannot be loaded (rebuild it)."""
    try:
        with captured_stdout():
            bundle = rego.load_bundle(str(path), BundleFormat.Binary)
    except (RegoError, OSError, ValueError):
        return None
    return bundle if bundle.ok() else None


def save_bundle(rego: Any, bundle: Any, path: Path) -> None:
    """Write a compiled plan; OSError when the engine cannot."""
    try:
        with captured_stdout():
            rego.save_bundle(str(path), bundle, BundleFormat.Binary)
    except RegoError as exc:
        raise OSError(str(exc)) from None


_ERROR = re.compile(r"\(error \d+:(?P<file>[^\n|]*)\|(?P<offset>\d+)\|\d+\s*\(errormsg \d+:(?P<msg>[^\n]*)\)")


def compile_error(sexpr: str, printed: str, modules: Sequence[Source], fallback: str | Path) -> ScanError:
    """Turn regopy's error s-expression into ``file:line:col: message`` (first error)."""
    m = _ERROR.search(sexpr)
    if not m:
        first = next((line for line in printed.splitlines() if line.strip() and line != "Errors:"), "")
        return ScanError(f"policy does not compile: {first or sexpr.strip()[:200]}", fallback)
    file, offset, msg = m["file"], int(m["offset"]), m["msg"]
    text = next((mod.text for mod in modules if str(mod.path) == file), None)
    if text is None:
        return ScanError(f"policy does not compile: {msg}", file or fallback)
    # regopy's offsets count bytes of the UTF-8 source
    before = text.encode("utf-8")[:offset].decode("utf-8", "replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return ScanError(f"policy does not compile: {msg}", f"{file}:{line}:{col}")


_ERRMSG = re.compile(r"\(errormsg \d+:([^\n]*)\)")


def _read_output(impl: Any, where: Path) -> Any:
    try:
        ok = rego_output_ok(impl)
        text = rego_output_string(impl)
    finally:
        rego_free_output(impl)
    if text == "undefined":
        return None
    if not ok or text.lstrip().startswith("(error"):
        messages = _ERRMSG.findall(text) or [text.strip()[:300]]
        raise ScanError(f"policy evaluation failed: {'; '.join(dict.fromkeys(messages))}", where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:  # a string the policy computed and regopy did not escape
        raise ScanError(f"policy engine produced unreadable output: {exc}", where) from None


# Strings JSON leaves as they are (no quote, backslash or control character): most of them.
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')


def rego_safe(value: str) -> str:
    """A string pre-escaped as JSON string content (what every string of the input, keys too,
    is turned into on its way to the engine, see ``_input``).

    regopy 1.5.2 writes strings into its result without escaping them, so a quote, backslash or
    control character in a scanned name (a file, a package) would break or silently change the
    decision. Escaped on the way in, the raw output is valid JSON that decodes to the original.
    Policies therefore see ``\\`` for a backslash and ``\\"`` for a quote; rule ids, severities
    and purls never contain either.
    """
    return value if _PLAIN.fullmatch(value) else _escape(value)[1:-1]


class Captured:
    text = ""


@contextlib.contextmanager
def captured_stdout() -> Iterator[Captured]:
    """Redirect the C-level stdout (fd 1) to a temporary file while regopy runs."""
    captured = Captured()
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - no fd 1 at all
        yield captured
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield captured
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read(1 << 16).decode("utf-8", "replace")
