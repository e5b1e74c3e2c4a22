"""The policy engine's address-space need, checked before it starts.

regopy's allocator (snmalloc) reserves about 256 GiB of *address space* when the library loads
(measured: it aborts the whole process with "Failed to initialise snmalloc" under any
``ulimit -v`` below about 270 GiB; it commits little of it). A hardened CI runner's limit of a few
hundred MB therefore kills the gate with SIGABRT, which no ``except`` catches. The limit is the
operator's decision, so it is neither raised nor escaped (no child process without it): the gate
stops first, with exit 2 and a message that says what to change.
"""

from __future__ import annotations

from scanner.errors import ScanError

NEEDED = 272 << 30  # bytes of address space regopy needs to load, with headroom


def check() -> None:
    """Raise ScanError (exit 2) when RLIMIT_AS is too low for the policy engine to start."""
    try:
        import resource
    except ImportError:  # not POSIX: no such limit
        return
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft >= NEEDED:
        return
    raise ScanError(
        f"the policy engine (regopy) needs about {NEEDED >> 30} GiB of address space to start, and the "
        f"address-space limit (ulimit -v / RLIMIT_AS) is {soft >> 20} MiB: it would abort the process",
        hint="run the gate without `ulimit -v` (limit memory with a cgroup, e.g. `systemd-run -p MemoryMax=` "
        "or a container memory limit, which counts memory used rather than address space reserved)",
    )
