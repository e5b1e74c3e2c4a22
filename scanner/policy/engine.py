"""The policy engine: Rego modules + data + one input → Decision.

The modules and the data are compiled once into a plan (bundle) when the engine is made (a
policy that does not compile fails before any scanning); each ``evaluate`` then only sets the
input and runs the precompiled plan, which is several times faster than re-adding the modules
per query. Every call into the Rego engine (regopy) goes through ``scanner.policy.rego``, which
also handles regopy's traps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.core import Decision, Reason, ScanError
from scanner.policy import rego
from scanner.userdirs import cache_dir

QUERY = "data.scanner.gate"
# Only the decision leaves the engine (reading `data.scanner.gate` whole would also serialise
# every helper rule). A policy without a `warn` (or `deny`) rule makes the direct query
# undefined: the engine then falls back to the slower query that reads the package whole.
DECISION_QUERY = (
    'decision := {"allow": data.scanner.gate.allow, "deny": data.scanner.gate.deny, "warn": data.scanner.gate.warn}'
)
FALLBACK_QUERY = (
    "decision := {"
    '"allow": data.scanner.gate.allow, '
    '"deny": object.get(data.scanner.gate, "deny", set()), '
    '"warn": object.get(data.scanner.gate, "warn", set())}'
)


@dataclass(frozen=True)
class Module:
    path: Path
    text: str


class PolicyEngine:
    """Loads every ``.rego`` file of a directory (``*_test.rego`` excluded) and a data document,
    and compiles them once."""

    def __init__(
        self,
        policy_dir: Path,
        data: dict[str, Any] | None = None,
        *,
        include_tests: bool = False,
        cache: bool = True,
    ):
        self.policy_dir = policy_dir
        self.modules = read_modules(policy_dir, include_tests=include_tests)
        self.data = data or {}
        self._bundles: list[Any] = [None, None]  # DECISION_QUERY, FALLBACK_QUERY
        self._cache = BundleCache(cache_dir() / "policy", self.modules, self.data, policy_dir) if cache else None
        references = self._cache.references() if self._cache is not None else None
        if references is None:
            references = References.scan(self.modules)
            if self._cache is not None:
                self._cache.save_references(references)
        self._references = references
        self._compiled: Any = None  # the interpreter holding the modules, compiled only when needed
        loaded = self._cache.load(0) if self._cache is not None else None
        if loaded is not None:
            self._interpreter, self._bundles[0] = loaded
        else:
            self._interpreter = self._compiled = compile_modules(self.modules, self.data)

    def reads(self, key: str) -> bool:
        """Whether a module can read ``input.sbom.KEY`` (a word it names; see ``References``):
        the caller may leave out a large part of the input no module reads."""
        return self._references.everything or key in self._references.words

    def evaluate(self, input_doc: dict[str, Any]) -> Decision:
        raw = self._run_decision(input_doc)
        if not isinstance(raw, dict) or not isinstance(raw.get("allow"), bool):
            raise ScanError(f"{QUERY}.allow is not defined as true or false", self.policy_dir)
        deny = tuple(_reason(r) for r in _entries(raw.get("deny")))
        warn = tuple(_reason(r) for r in _entries(raw.get("warn")))
        # A deny always wins: a policy that says allow while naming a deny reason is not an allow.
        return Decision(allow=raw["allow"] and not deny, deny=deny, warn=warn)

    def query(self, input_doc: dict[str, Any] | None, query: str) -> Any:
        """Evaluate any query against the compiled modules (uncompiled path; tests, ad hoc use).
        Returns the first expression's value, or None when it is undefined."""
        if self._compiled is None:  # the engine runs a cached bundle: compile for ad hoc queries
            self._compiled = compile_modules(self.modules, self.data)
        self._set_input(input_doc if input_doc is not None else {}, self._compiled)
        result = rego.query(self._compiled, query, self.policy_dir)
        exprs = result.get("expressions") if isinstance(result, dict) else None
        return exprs[0] if exprs else None

    def _run_decision(self, input_doc: dict[str, Any]) -> Any:
        raw = self._run_bundle(0, input_doc)
        if raw is None:
            raw = self._run_bundle(1, input_doc)
        return raw

    def _run_bundle(self, which: int, input_doc: dict[str, Any]) -> Any:
        if self._bundles[which] is None:
            self._bundles[which] = self._bundle(which)
        self._set_input(input_doc)  # on the interpreter the plan was loaded into
        result = rego.query_bundle(self._interpreter, self._bundles[which], self.policy_dir)
        bindings = result.get("bindings") if isinstance(result, dict) else None
        return bindings.get("decision") if isinstance(bindings, dict) else None

    def _bundle(self, which: int) -> Any:
        """The compiled plan of one query: from the cache, else built (and cached)."""
        if self._cache is not None and self._interpreter is not self._compiled:
            bundle = self._cache.load_into(self._interpreter, which)
            if bundle is not None:
                return bundle
        if self._compiled is None:
            self._compiled = compile_modules(self.modules, self.data)
            self._interpreter = self._compiled
            self._bundles = [None, None]  # bundles belong to the interpreter that loaded them
        bundle = rego.build(
            self._compiled, self.modules, self.policy_dir, query=(DECISION_QUERY, FALLBACK_QUERY)[which]
        )
        if self._cache is not None:
            self._cache.save(self._compiled, bundle, which)
        return bundle

    def _set_input(self, input_doc: dict[str, Any], interpreter: Any = None) -> None:
        # kept alive on the engine: the Rego engine reads it during the query
        self._input = rego.set_input(interpreter or self._interpreter, self._references.view(input_doc))


class BundleCache:
    """Compiled decision plans kept across runs, keyed by everything that decides them: the
    engine's version, the query, every module (path and text) and the data. Compiling the shipped
    policies costs tens of milliseconds per process; loading the saved plan about one. The cache
    lives in the user's cache directory (with the vulnerability database), never in a scanned
    tree. A plan that does not load is rebuilt; files are written whole and renamed into place.

    Modules are keyed by their path inside the policy directory, not by where that directory
    is: the same policies checked out elsewhere (a CI workspace, the private copy each batch
    run judges from) compile to the same plan, and reuse it instead of adding a plan per
    location to the cache."""

    def __init__(
        self, directory: Path, modules: Sequence[Module], data: dict[str, Any], root: Path | None = None
    ) -> None:
        import hashlib

        from scanner import __version__

        h = hashlib.sha256()
        h.update(f"regopy {rego.VERSION}\0scanner {__version__}\0".encode())
        for m in modules:
            name = m.path.relative_to(root).as_posix() if root is not None and m.path.is_relative_to(root) else m.path
            h.update(f"{name}\0{len(m.text)}\0".encode())
            h.update(m.text.encode("utf-8"))
        h.update(json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())
        self.directory = directory
        self.key = h.hexdigest()

    def _path(self, which: int) -> Path:
        return self.directory / f"{self.key}-{which}.rbb"

    def references(self) -> References | None:
        """The input keys the modules read (scanning the sources costs as much as the plan)."""
        try:
            doc = json.loads((self.directory / f"{self.key}.refs.json").read_text(encoding="utf-8"))
            return References(frozenset(doc["words"]), bool(doc["everything"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_references(self, refs: References) -> None:
        self._write(
            self.directory / f"{self.key}.refs.json",
            lambda tmp: tmp.write_text(json.dumps({"words": sorted(refs.words), "everything": refs.everything})),
        )

    def _write(self, path: Path, write: Callable[[Path], object]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, path)
        except OSError:  # a cache that cannot be written only costs time
            with contextlib.suppress(OSError):
                tmp.unlink()

    def load(self, which: int) -> tuple[Any, Any] | None:
        """(a fresh interpreter, the plan loaded into it), or None when not cached."""
        interpreter = rego.interpreter()
        bundle = self.load_into(interpreter, which)
        return (interpreter, bundle) if bundle is not None else None

    def load_into(self, interpreter: Any, which: int) -> Any:
        path = self._path(which)
        if not path.is_file():
            return None
        return rego.load_bundle(interpreter, path)

    def save(self, interpreter: Any, bundle: Any, which: int) -> None:
        self._write(self._path(which), lambda tmp: rego.save_bundle(interpreter, bundle, tmp))


_STRIP = re.compile(r'("(?:\\.|[^"\\\n])*"|`[^`]*`)|#[^\n]*')
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `input` used as a whole (iterated, passed to a function), not through `.key` / `[...]`
_BARE_INPUT = re.compile(r"\binput\b(?!\s*[.\[])")
# keys whose sub-keys are pruned too (the large, derived parts of the document)
_PRUNED_CHILDREN = ("findings_index", "sbom")


@dataclass(frozen=True)
class References:
    """Which input keys the modules can read, found by the words in their source.

    regopy ingests roughly ten microseconds per value, so handing it 10,000 findings costs far
    more than evaluating the shipped policies (which read the bounded summaries of
    ``findings_index.open``). The engine therefore passes a top-level key (and a sub-key of
    ``findings_index`` and ``sbom``, and a waiver's ``matched`` list) only when its name appears
    as a word in some module (comments aside). So are the fields of the records the summaries
    repeat: a key of ``sbom.summary``, and a key of an example in ``findings_index.open`` and of
    its ``evidence`` (the shipped policies read four or five of an example's dozen values; the
    examples are most of what the engine ingests). A module that uses ``input`` as a whole gets
    everything. A false match only costs time; a key that is never named cannot be read."""

    words: frozenset[str]
    everything: bool

    @classmethod
    def scan(cls, modules: Sequence[Module]) -> References:
        words: set[str] = set()
        everything = False
        for m in modules:
            # identifiers in the code, plus string literals taken whole: a string names an input
            # key only as a whole literal (input["waivers"], object.get(input, "waivers", [])),
            # never as a word inside a message ("waivers-applied")
            words.update(x.group(1)[1:-1] for x in _STRIP.finditer(m.text) if x.group(1))
            code = _STRIP.sub(lambda x: '""' if x.group(1) else "", m.text)
            words.update(_WORD.findall(code))
            everything = everything or bool(
                _BARE_INPUT.search(_STRIP.sub(lambda x: '""' if x.group(1) else "", m.text))
            )
        return cls(frozenset(words), everything)

    def view(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.everything or not isinstance(doc, dict):
            return doc
        words = self.words
        view = {k: v for k, v in doc.items() if k in words}
        for key in _PRUNED_CHILDREN:
            part = view.get(key)
            if isinstance(part, dict):
                view[key] = {k: v for k, v in part.items() if k in words}
        sbom = view.get("sbom")
        if isinstance(sbom, dict) and isinstance(sbom.get("summary"), dict):
            sbom["summary"] = {k: v for k, v in sbom["summary"].items() if k in words}
        index = view.get("findings_index")
        if isinstance(index, dict) and isinstance(index.get("open"), dict):
            index["open"] = _examples_view(index["open"], words)
        waivers = view.get("waivers")
        if isinstance(waivers, list) and "matched" not in words:
            view["waivers"] = [
                {k: v for k, v in w.items() if k != "matched"} if isinstance(w, dict) else w for w in waivers
            ]
        return view


def _examples_view(part: dict[str, Any], words: frozenset[str]) -> dict[str, Any]:
    """``part`` (a tree of summaries: rule ids and severities as keys, groups as leaves) with
    each group's examples cut to the keys ``words`` names, their ``evidence`` too."""
    out: dict[str, Any] = {}
    for k, v in part.items():
        if not isinstance(v, dict):
            out[k] = v
        elif k == "evidence":
            out[k] = {e: x for e, x in v.items() if e in words}
        else:
            out[k] = _examples_view(v, words)
    examples = out.get("examples")
    if isinstance(examples, list):
        out["examples"] = [
            _examples_view({k: v for k, v in e.items() if k in words}, words) if isinstance(e, dict) else e
            for e in examples
        ]
    return out


def read_modules(policy_dir: Path, *, include_tests: bool = False) -> list[Module]:
    if not policy_dir.is_dir():
        raise ScanError("policy directory not found", policy_dir)
    files = sorted(p for p in policy_dir.rglob("*.rego") if include_tests or not p.name.endswith("_test.rego"))
    if not files:
        raise ScanError("no .rego policy files", policy_dir)
    modules = []
    for p in files:
        try:
            modules.append(Module(p, p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ScanError(f"cannot read policy: {exc}", p) from None
    return modules


def compile_modules(modules: Sequence[Module], data: dict[str, Any]) -> Any:
    """An interpreter holding the modules and the data; compile errors → ScanError."""
    return rego.compile_modules(modules, data)


def _entries(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _reason(entry: Any) -> Reason:
    if isinstance(entry, dict):
        remediation = entry.get("remediation")
        return Reason(
            rule=str(entry.get("rule", "unnamed")),
            message=str(entry.get("message", "")),
            remediation=str(remediation) if remediation is not None else None,
        )
    return Reason(rule="unnamed", message=str(entry))
