"""Streaming pickle analysis (protocols 0–5): walk the opcodes, never execute them.

A symbolic stack and memo follow what the unpickler would hold, so that the module and name
given to STACK_GLOBAL are resolved even when they were stored in the memo far earlier, and so
that every REDUCE / BUILD / NEWOBJ / OBJ / INST knows which global it calls. Large string and
bytes payloads are skipped by seeking (memory stays bounded whatever the file size); bytes
payloads that start like a pickle or a zip are handed back to the dispatcher (nested payloads).

Several pickles stacked in one file are all analysed (legacy ``torch.save`` writes five, then
raw storage bytes). joblib's ``NumpyArrayWrapper`` writes array bytes (or, for object arrays, a
further pickle) right after its BUILD opcode; they are skipped or analysed the way joblib reads them.
A malformed opcode ends the analysis of that stream with a finding, keeping everything found
before it: a loader runs every opcode before the broken one.
"""

from __future__ import annotations

import codecs
import pickletools
import re
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.core import Finding, Severity
from scanner.models import globals_policy as gp
from scanner.models.api import FormatContext, finding, unscannable
from scanner.models.streams import LimitExceeded, Window, buffered

CHUNK = 1 << 16
MAX_KEEP = 4096  # longer strings/bytes are skipped by seeking, their value is not kept
MAX_LINE = 1 << 16  # protocol 0 text arguments kept whole; longer ones are streamed through
MAX_NAME = 1 << 16  # a module or class name (GLOBAL / INST): no importable name is longer
MAX_MEMO = 2_000_000
MAX_STACK = 5_000_000
MAX_CONTAINER = 256  # items kept in a symbolic tuple/dict
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_TORCH_PICKLES = 5  # magic, protocol, sys_info, the object, storage keys; then raw bytes

RULE_GLOBAL = gp.RULE_GLOBAL
RULE_UNKNOWN = gp.RULE_UNKNOWN
RULE_DYNAMIC = "MODEL-PICKLE-DYNAMIC-GLOBAL"
RULE_MALFORMED = "MODEL-PICKLE-MALFORMED"

# byte -> (opcode name, argument kind)
OPS: dict[int, tuple[str, str | None]] = {
    ord(op.code.encode("latin-1")): (op.name, op.arg.name if op.arg is not None else None) for op in pickletools.opcodes
}


# Opcodes whose only effect is to push their argument (numbers, strings, bytes, None, booleans).
_CONSTANTS = {
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE",
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT", "NONE", "NEWTRUE", "NEWFALSE",
}  # fmt: skip
_MEMO_PUT = frozenset(("BINPUT", "LONG_BINPUT", "MEMOIZE", "PUT"))
# Fixed-width integer arguments decoded inline in the hot loop: kind -> (width, struct format).
_FIXED = {"uint1": (1, ""), "uint2": (2, "<H"), "int4": (4, "<i"), "uint4": (4, "<I"), "uint8": (8, "<Q")}
# Length-prefixed payloads: kind -> (width of the length, struct format, payload type).
TEXT, BYTES, LATIN1 = 0, 1, 2
_SIZED = {
    "unicodestring1": (1, "", TEXT),
    "unicodestring4": (4, "<I", TEXT),
    "unicodestring8": (8, "<Q", TEXT),
    "bytes1": (1, "", BYTES),
    "bytes4": (4, "<I", BYTES),
    "bytes8": (8, "<Q", BYTES),
    "bytearray8": (8, "<Q", BYTES),
    "string1": (1, "", LATIN1),
    "string4": (4, "<i", LATIN1),
}
# byte -> (name, argument kind, pushes its argument, fixed width or 0, struct format,
#          length width or 0, length format, payload type)
OPINFO: dict[int, tuple[str, str | None, bool, int, str, int, str, int]] = {
    code: (
        name,
        kind,
        name in _CONSTANTS,
        *_FIXED.get(kind or "", (0, "")),
        *_SIZED.get(kind or "", (0, "", 0)),
    )
    for code, (name, kind) in OPS.items()
}


class Malformed(Exception):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


# --- symbolic values ---------------------------------------------------------------------------


class _Any:
    """A value we do not track (a number, a list, a large payload...)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


@dataclass(eq=False)
class _Seen:
    """One distinct imported name that is not safe whatever its use: its uses are collected over
    the whole file and judged at the end (``globals_policy.judge_use``)."""

    module: str
    name: str
    offset: int
    count: int = 1
    use: gp.Use = gp.Use.REFERENCED
    how: str = "only imported and stored as a value"
    escaped: bool = False  # stored in a container this scanner does not follow

    def mark(self, use: gp.Use, how: str) -> None:
        if use > self.use:
            self.use = use
            self.how = how


@dataclass(eq=False)
class Global:
    module: str | None  # None: not resolvable statically
    name: str | None
    offset: int
    seen: _Seen | None = None  # None: safe in every use (or dynamic)

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Call:
    func: Any
    args: Any
    state: Any = None


@dataclass(eq=False)
class SymDict:
    items: dict[Any, Any] = field(default_factory=dict)


# --- reading -----------------------------------------------------------------------------------


class Reader:
    """Buffered reads from ``data`` (which others may also seek: every fill seeks first)."""

    def __init__(self, data: BinaryIO, size: int, start: int = 0) -> None:
        self.data = data
        self.size = size
        self.buf = b""
        self.base = start
        self.i = 0

    @property
    def pos(self) -> int:
        return self.base + self.i

    def _fill(self, need: int) -> None:
        rest = self.buf[self.i :]
        self.base += self.i
        self.i = 0
        self.data.seek(self.base + len(rest))
        more = self.data.read(max(CHUNK, need - len(rest)))
        self.buf = rest + more

    def peek(self, n: int) -> bytes:
        if len(self.buf) - self.i < n:
            self._fill(n)
        return self.buf[self.i : self.i + n]

    def read(self, n: int) -> bytes:
        if len(self.buf) - self.i < n:
            if self.pos + n > self.size:
                raise Malformed(f"truncated: {n} bytes wanted, {max(self.size - self.pos, 0)} left", self.pos)
            self._fill(n)
        out = self.buf[self.i : self.i + n]
        if len(out) < n:
            raise Malformed(f"truncated: {n} bytes wanted, {len(out)} left", self.pos)
        self.i += n
        return out

    def byte(self) -> int:
        if self.i >= len(self.buf):
            self._fill(1)
            if not self.buf:
                return -1
        b = self.buf[self.i]
        self.i += 1
        return b

    def line(self) -> bytes | LongLine:
        """One newline-terminated argument. Up to MAX_LINE bytes it is returned whole; a longer one
        (a Python 2 pickle writes array data as one escaped text line: gensim models carry lines
        of hundreds of KB) is streamed through in chunks and only its ends are kept, so memory
        stays bounded and time linear whatever its length."""
        start = self.pos
        while True:
            j = self.buf.find(b"\n", self.i)
            if j >= 0:
                out = self.buf[self.i : j]
                self.i = j + 1
                return out
            if len(self.buf) - self.i > MAX_LINE:
                return self._long_line(start)
            before = len(self.buf) - self.i
            self._fill(before + CHUNK)
            if len(self.buf) - self.i == before:
                raise Malformed("text argument without a newline", start)

    def _long_line(self, start: int) -> LongLine:
        head = self.buf[self.i : self.i + 16]
        tail = b""
        while True:
            j = self.buf.find(b"\n", self.i)
            if j >= 0:
                tail = (tail + self.buf[self.i : j])[-16:]
                self.i = j + 1
                return LongLine(head, tail, self.pos - 1 - start)
            tail = (tail + self.buf[self.i :])[-16:]
            self.i = len(self.buf)
            self._fill(CHUNK)
            if not self.buf:
                raise Malformed("text argument without a newline", start)

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise Malformed(f"truncated: a {n}-byte payload runs past the end", self.pos)
        if self.i + n <= len(self.buf):
            self.i += n
        else:
            self.base = self.pos + n
            self.buf = b""
            self.i = 0


@dataclass(frozen=True)
class LongLine:
    """A protocol 0 text argument longer than MAX_LINE: its first and last bytes and its length."""

    head: bytes
    tail: bytes
    length: int


# --- analysis ----------------------------------------------------------------------------------


@dataclass
class _Hit:
    rule: str
    severity: Severity
    name: str
    why: str
    offset: int
    count: int = 1


class PickleScan:
    """Analyse every pickle in ``data`` from ``start``; ``findings()`` gives the result."""

    def __init__(
        self,
        data: BinaryIO,
        size: int,
        subject: str,
        ctx: FormatContext,
        *,
        start: int = 0,
        torchscript: bool = False,
        single: bool = False,
    ) -> None:
        self.data = data
        self.size = size
        self.subject = subject
        self.ctx = ctx
        self.r = Reader(data, size, start)
        self.torchscript = torchscript
        self.single = single
        self.hits: dict[tuple[str, str], _Hit] = {}
        self.seen: dict[tuple[str, str], _Seen | None] = {}
        self.tracking = False  # a name whose judgement depends on its use has been imported
        self.opaque_args = False  # some call takes arguments built at load time (not TUPLE opcodes)
        self.extra: list[Finding] = []
        self.pickles = 0
        self.protocols: set[int] = set()
        unknown = ctx.settings.get("model_unknown_global_severity", "medium")
        self.unknown_severity = unknown if isinstance(unknown, Severity) else Severity.parse(str(unknown))

    # -- driver --

    def run(self) -> list[Finding]:
        legacy = False
        while self.r.pos < self.size:
            start = self.r.pos
            try:
                first = self._one_pickle()
            except Malformed as exc:
                self._malformed(exc)
                break
            except LimitExceeded as exc:
                self.extra.append(unscannable(self.subject, str(exc), format="pickle", offset=start))
                break
            self.pickles += 1
            if self.pickles == 1 and first == LEGACY_TORCH_MAGIC:
                legacy = True
            if self.single or (legacy and self.pickles >= LEGACY_TORCH_PICKLES):
                break
            if not self._another_pickle_follows():
                break
        return self.findings()

    def _another_pickle_follows(self) -> bool:
        from scanner.formats.sniff import _is_pickle

        probe = self.r.peek(4096)
        return bool(probe) and _is_pickle(probe, complete=self.r.pos + len(probe) >= self.size)

    def _malformed(self, exc: Malformed) -> None:
        self.extra.append(
            finding(
                RULE_MALFORMED,
                Severity.HIGH,
                self.subject,
                f"malformed pickle at offset {exc.offset}: {exc.reason} (opcodes before it were analysed; "
                "a loader runs them before failing)",
                fix="do not load this file; re-export the model in a safe format",
                offset=exc.offset,
                format="pickle",
                reason=exc.reason,
            )
        )

    def findings(self) -> list[Finding]:
        out: list[tuple[int, Finding]] = []
        for hit in self.hits.values():  # dynamic imports
            out.append(
                (
                    hit.offset,
                    finding(
                        hit.rule,
                        hit.severity,
                        self.subject,
                        f"{hit.why} at offset {hit.offset}",
                        fix="do not load this file",
                        **{"global": hit.name, "offset": hit.offset, "format": "pickle", "count": hit.count},
                    ),
                )
            )
        for seen in self.seen.values():
            if seen is None:
                continue
            if seen.escaped and self.opaque_args:
                seen.mark(gp.Use.CALLED, "stored in a container; a call here takes arguments built at load time")
            j = gp.judge_use(
                seen.module, seen.name, seen.use, torchscript=self.torchscript, unknown_severity=self.unknown_severity
            )
            if j.rule is None:
                continue
            evidence: dict[str, Any] = {
                "global": j.name,
                "offset": seen.offset,
                "format": "pickle",
                "count": seen.count,
                "use": j.use.text,
                "how": seen.how,
                "decision": j.why,
            }
            if j.resolved != j.name:
                evidence["resolved"] = j.resolved
            if j.kind == gp.DENIED:
                what = "imports and calls" if j.use == gp.Use.CALLED else "imports"
                message = f"{what} {j.name}: {j.why}"
                fix = "do not load this file; it can run code when unpickled"
            elif j.use == gp.Use.CALLED:
                message = f"imports and calls {j.name}, which is not on the list of known-safe globals ({seen.how})"
                fix = "check that this callable is expected; load with torch.load(weights_only=True) or convert"
            else:
                message = f"{j.use.text} class {j.name}, which is not on the list of known-safe globals ({seen.how})"
                fix = "check that this class is expected (no call with the file's arguments was found)"
            out.append((seen.offset, finding(j.rule, j.severity, self.subject, message, fix=fix, **evidence)))
        return [f for _, f in sorted(out, key=lambda x: x[0])] + self.extra

    # -- recording --

    def _import(self, module: str, name: str, offset: int) -> Global:
        key = (module, name)
        if key in self.seen:
            seen = self.seen[key]
            if seen is not None:
                seen.count += 1
            return Global(module, name, offset, seen)
        verdict = gp.judge(module, name, torchscript=self.torchscript)
        if verdict.kind == gp.SAFE and verdict.tier == gp.CALLABLE:
            self.seen[key] = None
            return Global(module, name, offset)
        seen = self.seen[key] = _Seen(module, name, offset)
        self.tracking = True
        return Global(module, name, offset, seen)

    def _hit(self, rule: str, severity: Severity, name: str, why: str, offset: int) -> None:
        key = (rule, name)
        hit = self.hits.get(key)
        if hit is None:
            self.hits[key] = _Hit(rule, severity, name, why, offset)
        else:
            hit.count += 1

    def _dynamic(self, why: str, offset: int) -> Global:
        self._hit(
            RULE_DYNAMIC,
            Severity.HIGH,
            f"<dynamic@{offset}>",
            f"{why}: what it imports is decided at load time",
            offset,
        )
        return Global(None, None, offset)

    # -- uses --

    @staticmethod
    def _use(value: Any, use: gp.Use, how: str) -> None:
        if isinstance(value, Global) and value.seen is not None:
            value.seen.mark(use, how)

    def _pass_to(self, args: Any, callee: str, offset: int) -> None:
        """Names inside the arguments of a call may be invoked by the callee."""
        for g in _globals_in(args):
            self._use(g, gp.Use.CALLED, f"passed as an argument to {callee} at offset {offset}")

    def _escape(self, values: Any) -> None:
        for g in _globals_in(values):
            if g.seen is not None:
                g.seen.escaped = True

    def _apply(self, func: Any, args: Any, offset: int, opcode: str) -> None:
        """REDUCE / INST / OBJ: ``func(*args)``."""
        if not isinstance(args, tuple):
            self.opaque_args = True
        if not isinstance(func, Global):
            # the pickler only ever calls imported names: calling an object built at load time (an
            # instance's __call__, a callable returned by another call) runs code chosen at load time
            why = f"{opcode} calls an object built at load time (not an imported name): the code it runs is chosen then"
            self._hit(RULE_DYNAMIC, Severity.HIGH, f"<call@{offset}>", why, offset)
            self.opaque_args = True
        if not self.tracking:
            return
        slots = None
        if isinstance(func, Global) and func.module is not None and func.name is not None:
            slots = gp.reconstructor_slots(".".join(gp.map_py2(func.module, func.name)))
        if slots is not None and isinstance(args, tuple):
            cls_slot, base_slot = slots
            for i, value in enumerate(args):
                if i == cls_slot:
                    self._use(value, gp.Use.RECONSTRUCTED, f"instantiated by {func.dotted} at offset {offset}")
                    continue
                if i == base_slot:
                    how = f"base class given to {func.dotted} at offset {offset}: its __init__ runs with the state"
                    self._use(value, gp.Use.CALLED, how)
                    continue
                self._pass_to(value, func.dotted, offset)
            return
        callee = func.dotted if isinstance(func, Global) else "an object built at load time"
        if isinstance(func, Global):
            n = len(args) if isinstance(args, tuple) else "computed"
            if opcode in ("INST", "OBJ") and args == () and _classlike(func.name):
                self._use(func, gp.Use.RECONSTRUCTED, f"instantiated by {opcode} without arguments at offset {offset}")
            elif (
                func.seen is not None
                and isinstance(args, tuple)
                and len(args) == 1
                and isinstance(args[0], str | int)
                and func.module is not None
                and func.name is not None
                and gp.is_enum_lookup(func.module, func.name)
            ):
                how = f"enum member looked up by the value {args[0]!r} at offset {offset}"
                self._use(func, gp.Use.RECONSTRUCTED, how)
            else:
                self._use(func, gp.Use.CALLED, f"called by {opcode} with {n} argument(s) at offset {offset}")
        self._pass_to(args, callee, offset)

    def _new(self, cls: Any, args: Any, kwargs: Any, offset: int, opcode: str) -> None:
        """NEWOBJ / NEWOBJ_EX: ``cls.__new__(cls, *args, **kwargs)``."""
        if not isinstance(args, tuple):
            self.opaque_args = True
        if not self.tracking:
            return
        self._use(cls, gp.Use.RECONSTRUCTED, f"instantiated by {opcode} at offset {offset}")
        callee = f"{cls.dotted}.__new__" if isinstance(cls, Global) else "__new__"
        self._pass_to(args, callee, offset)
        self._pass_to(kwargs, callee, offset)

    # -- one pickle --

    def _one_pickle(self) -> Any:
        """Walk one pickle to its STOP; returns the top value (to recognise legacy torch)."""
        r = self.r
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}
        memo_dropped = False

        def pop() -> Any:
            if len(stack) <= (marks[-1] if marks else 0):
                raise Malformed("pop from an empty stack", offset)
            return stack.pop()

        def pop_mark() -> list[Any]:
            if not marks:
                raise Malformed("no MARK on the stack", offset)
            at = marks.pop()
            items = stack[at:]
            del stack[at:]
            return items

        def top() -> Any:
            if len(stack) <= (marks[-1] if marks else 0):
                raise Malformed("empty stack", offset)
            return stack[-1]

        unpack = struct.unpack
        arg: Any
        while True:
            buf = r.buf
            i = r.i
            offset = r.base + i
            if i < len(buf):
                code = buf[i]
                r.i = i + 1
            else:
                code = r.byte()
                if code < 0:
                    raise Malformed("the pickle ends without a STOP opcode", offset)
            spec = OPINFO.get(code)
            if spec is None:
                raise Malformed(f"unknown opcode 0x{code:02x}", offset)
            name, kind, const, width, fmt, lwidth, lfmt, ptype = spec
            if lwidth:
                buf = r.buf
                j = r.i + lwidth
                if j <= len(buf):
                    raw = buf[r.i : j]
                    r.i = j
                else:
                    raw = r.read(lwidth)
                    buf = r.buf
                    j = r.i
                n = raw[0] if lwidth == 1 else unpack(lfmt, raw)[0]
                if ptype == TEXT and n <= MAX_KEEP and j + n <= len(buf):
                    # fast path: a short string already in the buffer (inside the file by construction)
                    try:
                        arg = buf[j : j + n].decode("utf-8", "surrogatepass")
                    except UnicodeDecodeError:
                        raise Malformed("bad UTF-8 in a string", offset) from None
                    r.i = j + n
                else:
                    if n < 0:
                        raise Malformed("negative length", offset)
                    arg = self._payload(n, ptype, offset)
            elif width:
                j = r.i
                if j + width <= len(r.buf):
                    raw = r.buf[j : j + width]
                    r.i = j + width
                else:
                    raw = r.read(width)
                arg = raw[0] if width == 1 else unpack(fmt, raw)[0]
            elif kind is not None:
                arg = self._arg(kind, name, offset)
            else:
                arg = None
            if const:
                stack.append(arg)
                if len(stack) > MAX_STACK:
                    raise LimitExceeded(f"pickle stack deeper than {MAX_STACK} items")
                continue
            if name == "APPEND":
                value = pop()
                top()
                if self.tracking:
                    self._escape(value)
                continue
            if name in _MEMO_PUT:
                if len(stack) <= (marks[-1] if marks else 0):
                    raise Malformed("memo put from an empty stack", offset)
                size = len(memo)
                if size < MAX_MEMO:
                    memo[size if name == "MEMOIZE" else arg] = stack[-1]
                else:
                    memo_dropped = True
                continue
            if len(stack) > MAX_STACK:
                raise LimitExceeded(f"pickle stack deeper than {MAX_STACK} items")

            if name == "STOP":
                return top() if stack else None
            if name == "PROTO":
                if arg > 5:
                    raise Malformed(f"unsupported pickle protocol {arg}", offset)
                self.protocols.add(arg)
            elif name in ("FRAME", "READONLY_BUFFER"):
                pass
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "POP":
                if len(stack) > (marks[-1] if marks else 0):
                    stack.pop()
                else:
                    pop_mark()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(top())
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg in memo:
                    stack.append(memo[arg])
                elif memo_dropped:
                    stack.append(ANY)
                else:
                    raise Malformed(f"memo key {arg} not found", offset)
            elif name == "GLOBAL":
                module, gname = arg
                stack.append(self._import(module, gname, offset))
            elif name == "STACK_GLOBAL":
                gname = pop()
                module = pop()
                if isinstance(module, str) and isinstance(gname, str):
                    stack.append(self._import(module, gname, offset))
                else:
                    stack.append(self._dynamic("STACK_GLOBAL takes a module or name that is not a constant", offset))
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(self._dynamic(f"{name} imports through the copyreg extension registry", offset))
            elif name == "INST":
                module, gname = arg
                g = self._import(module, gname, offset)
                args = tuple(pop_mark())
                self._apply(g, args, offset, name)
                stack.append(Call(g, args))
            elif name == "OBJ":
                items = pop_mark()
                if not items:
                    raise Malformed("OBJ without a class", offset)
                args = tuple(items[1:])
                self._apply(items[0], args, offset, name)
                stack.append(Call(items[0], args))
            elif name == "REDUCE":
                args = pop()
                func = pop()
                self._apply(func, args, offset, name)
                stack.append(Call(func, args))
            elif name == "NEWOBJ":
                args = pop()
                cls = pop()
                self._new(cls, args, (), offset, name)
                stack.append(Call(cls, args))
            elif name == "NEWOBJ_EX":
                kwargs = pop()
                args = pop()
                cls = pop()
                self._new(cls, args, kwargs, offset, name)
                stack.append(Call(cls, args))
            elif name == "BUILD":
                state = pop()
                obj = top()
                if isinstance(obj, Call):
                    obj.state = state
                    self._after_build(obj, offset)
                elif isinstance(obj, Global):
                    # the pickler never writes this: state set onto an imported class, function or
                    # module replaces its attributes (its __setstate__ is called unbound with the state)
                    what = obj.dotted if obj.module is not None else "a dynamically imported object"
                    self._hit(RULE_GLOBAL, Severity.HIGH, what, f"BUILD assigns state onto the imported {what}", offset)
            elif name in ("PERSID",):
                stack.append(ANY)
            elif name == "BINPERSID":
                pop()
                stack.append(ANY)
            elif name in ("EMPTY_LIST", "EMPTY_SET", "NEXT_BUFFER"):
                stack.append(ANY)
            elif name == "EMPTY_DICT":
                stack.append(SymDict())
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in ("APPENDS", "ADDITEMS"):
                items = pop_mark()
                top()
                if self.tracking:
                    self._escape(items)
            elif name in ("LIST", "FROZENSET"):
                items = pop_mark()
                if self.tracking:
                    self._escape(items)
                stack.append(ANY)
            elif name == "TUPLE":
                items = pop_mark()
                if len(items) <= MAX_CONTAINER:
                    stack.append(tuple(items))
                else:
                    if self.tracking:
                        self._escape(items)
                    stack.append(ANY)
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = [pop() for _ in range(n)][::-1]
                stack.append(tuple(items))
            elif name == "DICT":
                items = pop_mark()
                d = SymDict()
                self._set_items(d, items)
                stack.append(d)
            elif name == "SETITEM":
                v = pop()
                k = pop()
                target = top()
                if isinstance(target, SymDict):
                    self._set_items(target, [k, v])
                elif self.tracking:
                    self._escape((k, v))
            elif name == "SETITEMS":
                items = pop_mark()
                target = top()
                if isinstance(target, SymDict):
                    self._set_items(target, items)
                elif self.tracking:
                    self._escape(items)
            else:  # pragma: no cover - every opcode is handled above
                raise Malformed(f"unhandled opcode {name}", offset)

    def _set_items(self, d: SymDict, items: list[Any]) -> None:
        for k, v in zip(items[::2], items[1::2], strict=False):
            if len(d.items) < MAX_CONTAINER and isinstance(k, str | int):
                d.items[k] = v
            elif self.tracking:
                self._escape((k, v))

    # -- arguments --

    def _arg(self, kind: str, name: str, offset: int) -> Any:
        r = self.r
        if kind == "uint1":
            return r.read(1)[0]
        if kind == "uint2":
            return struct.unpack("<H", r.read(2))[0]
        if kind == "int4":
            return struct.unpack("<i", r.read(4))[0]
        if kind == "uint4":
            return struct.unpack("<I", r.read(4))[0]
        if kind == "uint8":
            return struct.unpack("<Q", r.read(8))[0]
        if kind == "float8":
            r.skip(8)
            return ANY
        if kind in ("long1", "long4"):
            n = r.read(1)[0] if kind == "long1" else struct.unpack("<i", r.read(4))[0]
            if n < 0:
                raise Malformed("negative length", offset)
            if n > 64:
                r.skip(n)
                return ANY
            return int.from_bytes(r.read(n), "little", signed=True)
        if kind == "stringnl_noescape_pair":
            return (self._text(r.line(), offset), self._text(r.line(), offset))
        line = r.line()
        if kind == "stringnl_noescape":  # PERSID
            return ANY
        if isinstance(line, LongLine):
            # the value is not kept (like a long bytes payload); STRING's quoting is still checked
            if kind == "stringnl" and not (line.head[:1] == line.tail[-1:] and line.head[:1] in (b"'", b'"')):
                raise Malformed("STRING argument is not quoted", offset)
            return ANY
        if kind == "stringnl":
            return self._quoted(line, offset)
        if kind == "unicodestringnl":
            try:
                return line.decode("raw-unicode-escape")
            except UnicodeDecodeError:
                raise Malformed("bad UNICODE argument", offset) from None
        if kind in ("decimalnl_short", "decimalnl_long"):
            text = line[:-1] if kind == "decimalnl_long" and line.endswith(b"L") else line
            try:
                return int(text)
            except ValueError:
                raise Malformed(f"bad {name} argument", offset) from None
        if kind == "floatnl":
            try:
                float(line)
            except ValueError:
                raise Malformed("bad FLOAT argument", offset) from None
            return ANY
        raise Malformed(f"unsupported argument kind {kind}", offset)  # pragma: no cover

    def _payload(self, n: int, ptype: int, offset: int) -> Any:
        r = self.r
        start = r.base + r.i
        if start + n > self.size:
            raise Malformed(f"truncated: a {n}-byte payload runs past the end", offset)
        if ptype != TEXT and n >= 8:
            head = r.peek(4)
            if (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or head == b"PK\x03\x04":
                self._nested(start, n)
        if n > MAX_KEEP:
            r.skip(n)
            return ANY
        raw = r.read(n)
        if ptype == TEXT:
            try:
                return raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise Malformed("bad UTF-8 in a string", offset) from None
        if ptype == LATIN1:
            return raw.decode("latin-1")  # what the unpickler does with encoding="ASCII"/"latin1"
        return raw

    def _nested(self, start: int, n: int) -> None:
        """A bytes payload that is itself a pickle or a zip (e.g. for pickle.loads or
        torch.storage._load_from_bytes): analysed as a member of its own."""
        if self.ctx.recurse is None:
            return
        sub = f"{self.subject}!@{start}"
        self.extra.extend(self.ctx.recurse(buffered(Window(self.data, start, n)), n, sub))

    @staticmethod
    def _text(line: bytes | LongLine, offset: int) -> str:
        if isinstance(line, LongLine) or len(line) > MAX_NAME:
            raise Malformed(f"module or class name longer than {MAX_NAME} bytes", offset)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("GLOBAL name is not UTF-8", offset) from None

    @staticmethod
    def _quoted(line: bytes, offset: int) -> str:
        if len(line) >= 2 and line[:1] == line[-1:] and line[:1] in (b"'", b'"'):
            try:
                return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
            except ValueError:
                raise Malformed("bad STRING escape", offset) from None
        raise Malformed("STRING argument is not quoted", offset)

    # -- joblib arrays --

    def _after_build(self, obj: Call, offset: int) -> None:
        func = obj.func
        if not (isinstance(func, Global) and func.name in ("NumpyArrayWrapper",) and func.module is not None):
            return
        if not func.module.endswith("numpy_pickle"):
            return
        state = obj.state
        if not isinstance(state, SymDict):
            raise Malformed("joblib NumpyArrayWrapper without a state dict", offset)
        dtype = _dtype_code(state.items.get("dtype"))
        shape = state.items.get("shape")
        if dtype is None:
            raise LimitExceeded("joblib array with a dtype this scanner cannot size")
        if dtype.startswith("O"):
            # an object array: joblib wrote it with pickle.dump right here; analyse it
            self._one_pickle()
            return
        itemsize = _itemsize(dtype)
        if itemsize is None or not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape):
            raise LimitExceeded(f"joblib array of dtype {dtype} and shape {shape!r} cannot be sized")
        count = itemsize
        for d in shape:
            count *= d
        if state.items.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2: a padding byte
            pad = self.r.read(1)[0]
            self.r.skip(pad)
        self.r.skip(count)


def _globals_in(value: Any, depth: int = 0) -> list[Global]:
    """The names inside a symbolic value (tuples and tracked dicts, a few levels deep)."""
    if isinstance(value, Global):
        return [value]
    if depth > 4:
        return []
    if isinstance(value, tuple | list):
        return [g for v in value for g in _globals_in(v, depth + 1)]
    if isinstance(value, SymDict):
        return [g for v in value.items.values() for g in _globals_in(v, depth + 1)]
    return []


def _classlike(name: str | None) -> bool:
    """A class by naming convention (INST/OBJ without arguments allocate a class, call anything else)."""
    last = (name or "").rsplit(".", 1)[-1]
    return last[:1].isupper()


_DTYPE = re.compile(r"^[<>|=]?([biufcmMSUVO?])(\d*)")


def _dtype_code(value: Any) -> str | None:
    if isinstance(value, Call) and isinstance(value.args, tuple) and value.args and isinstance(value.args[0], str):
        m = _DTYPE.match(value.args[0])
        if m:
            return m.group(1) + m.group(2)
    return None


def _itemsize(code: str) -> int | None:
    kind, digits = code[0], code[1:]
    if kind == "?":
        return 1
    if kind == "O":
        return None
    if not digits:
        return None
    n = int(digits)
    return n * 4 if kind == "U" else n


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    return PickleScan(data, size, subject, ctx).run()
