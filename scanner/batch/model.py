"""The plain data of a batch run: what workers are told, what they send back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.core import Reason


@dataclass(frozen=True)
class PolicySnapshot:
    """The policy directory, policy data and waivers as bytes, read once by the driver and
    shipped to every worker: a worker on another machine needs no copy of the driver's files,
    and every worker judges with exactly the same inputs (their digests are part of the cache
    key). ``*_path`` are where the driver read them (for the evidence record)."""

    policy_files: tuple[tuple[str, bytes], ...]
    policy_path: str
    data: bytes | None = None
    data_path: str | None = None
    waivers: bytes | None = None
    waivers_path: str | None = None


@dataclass(frozen=True)
class BatchOptions:
    """Everything that decides a verdict besides the artifact itself.

    ``db`` is a database path as the workers see it (None: each worker's default database;
    the driver checks that every worker reports the same snapshot, see ``context``).
    ``budget`` is the time budget per artifact in seconds (None: unlimited).
    ``context`` is the driver's view of the verdict-deciding inputs (policy, data and waiver
    digests, database snapshot, scanner version, stage); a worker that computes another one
    judges nothing (it would not give the same verdicts)."""

    run_id: str
    stage: str
    policy: PolicySnapshot
    db: str | None = None
    max_db_age: int | None = None
    budget: float | None = None
    context: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, str], ...] = ()  # where each option came from (for the records)
    plain_http: bool = False  # oci:// sources: a registry without TLS
    user_config: str | None = None  # the user-level config read without --config (refused inside an artifact)


@dataclass(frozen=True)
class Task:
    """One artifact to judge. ``use_cache`` is false when the driver already looked in the cache
    (a miss, or a cached verdict that failed verification): the worker judges without looking.
    ``attempt`` counts from 1."""

    index: int
    source: str
    use_cache: bool = True
    attempt: int = 1


@dataclass(frozen=True)
class Known:
    """A worker's answer when the artifact's identity has a cache entry: the driver verifies the
    entry and uses it, or sends the task again with ``use_cache=False``. ``identity`` is the
    artifact digest, plus the digest of signature and provenance files found beside it (see
    ``job.cache_identity``), or for an ``oci://`` source the manifest digest plus the digest of
    its referrers (``registry.identity``)."""

    source: str
    identity: str
    name: str
    seconds: float


@dataclass(frozen=True)
class ArtifactResult:
    """The verdict on one artifact, or why there is none (``error``)."""

    source: str
    name: str | None = None
    digest: str | None = None
    allow: bool | None = None
    deny: tuple[Reason, ...] = ()
    warn: tuple[Reason, ...] = ()
    error: str | None = None
    record: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # a cached verdict's record as its file holds it (``json_format.chunks``), instead of ``record``
    record_text: str | None = field(default=None, compare=False, repr=False)
    cached: bool = False
    seconds: float = 0.0
    attempts: int = 1
    record_path: str | None = None
    tainted: bool = field(default=False, compare=False)  # the worker should not be reused
    identity: str | None = field(default=None, compare=False)  # the cache key's artifact part

    @property
    def judged(self) -> bool:
        return self.error is None and self.allow is not None

    def summary(self) -> dict[str, Any]:
        """The entry of the JSON summary's ``results`` list."""
        return {
            "source": self.source,
            "name": self.name,
            "digest": self.digest,
            "allow": self.allow if self.judged else None,
            "deny": [r.to_dict() for r in self.deny],
            "warn": [r.to_dict() for r in self.warn],
            "error": self.error,
            "cached": self.cached,
            "seconds": round(self.seconds, 4),
            "attempts": self.attempts,
            "record": self.record_path,
        }


Outcome = ArtifactResult | Known
