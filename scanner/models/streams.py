"""Seekable, memory-bounded views of archive members: nothing is ever extracted to disk.

``Window`` is a slice of a parent stream (a stored zip or tar member: no copy at all).
``Inflate`` decompresses lazily as it is read; seeking forward decompresses and discards,
seeking backward restarts from the beginning. Both enforce the limits of a shared ``Budget``
so that a decompression bomb stops with ``LimitExceeded`` instead of exhausting memory.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

CHUNK = 1 << 16
RATIO_FLOOR = 16 << 20  # a ratio only matters once this much has come out (zero tensors compress well)


class LimitExceeded(Exception):
    """A bound was hit while reading hostile input; ``str()`` says which one."""


@dataclass
class ArtifactBudget:
    """One budget for everything nested in one artifact, across every level of nesting and every
    file: embedded entries examined, archives opened inside other content, bytes decompressed,
    and wall-clock time. Archives nested in archives, each level small, multiply the work without
    any one level looking large; only a budget for the whole artifact stops them. Once spent,
    ``exhausted`` names why, and the dispatcher reports it once and stops descending."""

    max_entries: int
    max_archives: int
    max_bytes: int
    max_seconds: float
    entries: int = 0
    archives: int = 0
    used: int = 0
    started: float = field(default_factory=time.monotonic)
    exhausted: str | None = None

    def _fail(self, why: str) -> None:
        self.exhausted = why
        raise LimitExceeded(why)

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            self._fail(f"more than {self.max_entries} embedded entries in one artifact (all nesting levels)")
        if self.entries % 64 == 0:
            self.clock()

    def archive(self) -> None:
        self.archives += 1
        if self.archives > self.max_archives:
            self._fail(f"more than {self.max_archives} archives nested inside other content in one artifact")

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.max_bytes:
            self._fail(f"more than {self.max_bytes} bytes decompressed from one artifact")

    def clock(self) -> None:
        if time.monotonic() - self.started > self.max_seconds:
            self._fail(f"more than {self.max_seconds:g} s spent on nested content of one artifact")


@dataclass
class Budget:
    """Decompressed bytes allowed for one top-level file, shared by all its nested members, and
    charged to the artifact's budget too."""

    max_total: int
    max_member: int
    max_ratio: int
    used: int = 0
    artifact: ArtifactBudget | None = None

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.max_total:
            raise LimitExceeded(f"more than {self.max_total} bytes decompressed from one file")
        if self.artifact is not None:
            self.artifact.spend(n)


class Decompressor(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


class Window(io.RawIOBase):
    """Bytes ``[start, start + size)`` of ``parent``, read through its own position."""

    def __init__(self, parent: BinaryIO, start: int, size: int) -> None:
        self._parent = parent
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        self._parent.seek(self._start + self._pos)
        data = self._parent.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class Inflate(io.RawIOBase):
    """Lazily decompressed view of ``parent`` (a compressed stream starting at its position 0).

    ``make`` returns a fresh decompressor (zlib/bz2/lzma objects share the interface);
    ``multi`` continues with a new decompressor after the end of a stream (gzip, bz2, xz allow
    concatenated members). ``size`` is unknown until the end has been reached.
    """

    def __init__(
        self,
        parent: BinaryIO,
        compressed_size: int,
        make: Callable[[], Decompressor],
        budget: Budget,
        *,
        multi: bool = False,
    ) -> None:
        self._parent = parent
        self._csize = compressed_size
        self._make = make
        self._budget = budget
        self._multi = multi
        self._charged = 0
        self._restart()
        self.size: int | None = None

    def _restart(self) -> None:
        self._parent.seek(0)
        self._dec = self._make()
        self._consumed = 0  # compressed bytes fed
        self._pos = 0  # decompressed position
        self._out = 0  # decompressed bytes produced so far (this pass)
        self._pending = b""  # decompressed, not yet returned
        self._ended = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            target = self._pos + offset
        elif whence == 2:
            while self._skip(1 << 30):
                pass
            target = self._pos + offset
        else:
            target = offset
        target = max(0, target)
        if target < self._pos:
            self._restart()
        while self._pos < target and self._skip(target - self._pos):
            pass
        return self._pos

    def _skip(self, n: int) -> int:
        data = self._read(min(n, 1 << 20))
        return len(data)

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, n: int) -> bytes:
        while not self._pending and not self._ended:
            self._fill(n)
        data, self._pending = self._pending[:n], self._pending[n:]
        self._pos += len(data)
        return data

    def _fill(self, want: int) -> None:
        dec = self._dec
        if dec.eof:
            rest = dec.unused_data
            if self._multi and (rest or self._consumed < self._csize):
                self._dec = self._make()
                if rest:
                    self._emit(self._dec.decompress(rest, max(want, CHUNK)))
                return
            self._finish()
            return
        unconsumed = getattr(dec, "unconsumed_tail", b"")
        if unconsumed:
            self._emit(dec.decompress(unconsumed, max(want, CHUNK)))
            return
        if getattr(dec, "needs_input", True) is False:
            self._emit(dec.decompress(b"", max(want, CHUNK)))
            return
        if self._consumed >= self._csize:
            self._finish()
            return
        chunk = self._parent.read(min(CHUNK, self._csize - self._consumed))
        if not chunk:
            self._finish()
            return
        self._consumed += len(chunk)
        self._emit(dec.decompress(chunk, max(want, CHUNK)))

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self._out += len(data)
        if self._out > self._budget.max_member:
            raise LimitExceeded(f"a member decompresses to more than {self._budget.max_member} bytes")
        if self._out > RATIO_FLOOR and self._out > self._budget.max_ratio * max(self._consumed, 1):
            raise LimitExceeded(f"compression ratio above {self._budget.max_ratio}:1")
        # Bytes are charged to the budget once, not again when a backward seek re-inflates them.
        if self._out > self._charged:
            self._budget.spend(self._out - self._charged)
            self._charged = self._out
        self._pending = data

    def _finish(self) -> None:
        self._ended = True
        self.size = self._out
        dec = self._dec
        if not dec.eof and self._out == 0 and self._consumed == 0:
            return
        if not dec.eof:
            raise TruncatedStream("compressed stream ends before its end marker")


class TruncatedStream(Exception):
    """A compressed stream stops short (truncated or damaged)."""


def buffered(raw: io.RawIOBase, size: int = CHUNK) -> BinaryIO:
    return io.BufferedReader(raw, buffer_size=size)
