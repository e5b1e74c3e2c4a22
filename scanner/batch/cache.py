"""The result cache: verdicts keyed by everything that decides them.

The key is the run's context (digests of the policy directory, the policy data and the waivers,
the vulnerability database snapshot, the scanner version, the stage and the settings that change
a verdict; see ``job.context_of``) plus the artifact: its source as given (the policy input holds
its name and path) and its identity, computed afresh from its bytes on every run: the artifact
digest, plus the digest of the signature and provenance files the gate would find beside it
(``job.cache_identity``); for an ``oci://`` source, the manifest digest its reference resolves to
plus the digest of the referrers listed for it (``registry.identity``). An artifact that changed,
or gained or lost a signature or attestation, or a tag that moved, gets another key and is
judged again.

Layout: ``DIR/v1/<context id>/<key id>.json``, where an id is the sha256 of the canonical JSON of
what it names. Each entry stores its full key, the verdict, the evidence record, and the sha256
of all three. Before a cached verdict is used the driver re-reads the entry and checks that the
key stored in it is exactly the key it expects and that the digest matches its content; an entry
that fails either check is not trusted (the artifact is judged again and the entry replaced).
This makes edits and corruption evident; someone able to write the cache directory could also
recompute the digest, so the cache is as trustworthy as the directory it lives in (keep it in
the user's own cache directory, the default). Errors are never cached. A verdict that depended
on waivers is not reused after the earliest of their expiry dates.

Only the driver writes (atomically: a temporary file renamed into place).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.batch.model import ArtifactResult
from scanner.core import Reason

FORMAT = "scanner-batch-cache/1"
MAX_ENTRY_BYTES = 256 << 20


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest_of(doc: Any) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


def context_id(context: Mapping[str, str]) -> str:
    return digest_of({"format": FORMAT, **context})


def entry_key(context: Mapping[str, str], source: str, digest: str) -> dict[str, str]:
    return {"format": FORMAT, **context, "source": source, "artifact": digest}


def key_id(context: Mapping[str, str], source: str, digest: str) -> str:
    """What a worker checks against the set of cached keys (no I/O: workers may be remote)."""
    return digest_of(entry_key(context, source, digest))


def default_dir() -> Path:
    from scanner.userdirs import cache_dir

    return cache_dir() / "batch"


@dataclass(frozen=True)
class Lookup:
    """A verified cached result, or why the entry was not trusted (``problem``)."""

    result: ArtifactResult | None
    problem: str | None = None


class ResultCache:
    """Entries are written by a background thread (``store`` returns at once; ``close`` waits)."""

    def __init__(self, root: Path, context: Mapping[str, str], *, expires: dt.date | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.context = dict(context)
        self.dir = Path(root) / "v1" / context_id(self.context)
        self.expires = expires
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scanner-batch-cache")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def known(self) -> frozenset[str]:
        """The key ids present for this context (a hint for workers; every hit is verified)."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return frozenset()
        return frozenset(n[:-5] for n in names if n.endswith(".json") and len(n) == 69)

    def path_for(self, source: str, digest: str) -> Path:
        return self.dir / f"{key_id(self.context, source, digest)}.json"

    def load(self, source: str, digest: str, today: dt.date | None = None) -> Lookup:
        from scanner.errors import ScanError
        from scanner.safeio import read_bounded

        path = self.path_for(source, digest)
        try:
            entry = json.loads(read_bounded(path, MAX_ENTRY_BYTES, what="cache entry"))
        except (ScanError, ValueError, RecursionError) as exc:
            return Lookup(None, f"unreadable: {exc}")
        if not isinstance(entry, dict):
            return Lookup(None, "not a cache entry")
        if entry.get("key") != entry_key(self.context, source, digest):
            return Lookup(None, "its key is not the key of this artifact and run")
        body = {k: entry.get(k) for k in ("key", "result", "record", "expires")}
        if entry.get("sha256") != digest_of(body):
            return Lookup(None, "its content does not match its digest (edited or corrupt)")
        expires = entry.get("expires")
        if expires and (today or dt.date.today()).isoformat() > str(expires):
            return Lookup(None, f"a waiver it relied on expired on {expires}")
        try:
            return Lookup(replace(_result(source, entry["result"], entry.get("record")), identity=digest))
        except (KeyError, TypeError, ValueError) as exc:
            return Lookup(None, f"malformed verdict: {exc}")

    def store(self, result: ArtifactResult) -> None:
        """Keep a judged verdict (errors are not cached, nor a verdict without an identity).
        Best effort: a cache that cannot be written costs speed, not correctness."""
        if result.judged and result.identity is not None:
            self._pool.submit(self._write, result, result.identity)

    def _write(self, result: ArtifactResult, identity: str) -> None:
        body = {
            "key": entry_key(self.context, result.source, identity),
            "result": {
                "name": result.name,
                "digest": result.digest,
                "allow": result.allow,
                "deny": [r.to_dict() for r in result.deny],
                "warn": [r.to_dict() for r in result.warn],
            },
            "record": result.record,
            "expires": self.expires.isoformat() if self.expires else None,
        }
        data = canonical(body)  # keys sorted: "sha256" comes last, so it can be appended
        data = data[:-1] + b',"sha256":"' + hashlib.sha256(data).hexdigest().encode() + b'"}'
        target = self.path_for(result.source, identity)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            from scanner import ui

            ui.warn(f"cannot write the result cache: {exc.strerror or exc} ({self.dir})")


def _result(source: str, doc: Mapping[str, Any], record: Any) -> ArtifactResult:
    def reasons(items: Any) -> tuple[Reason, ...]:
        return tuple(Reason(str(r["rule"]), str(r["message"]), r.get("remediation")) for r in items)

    allow = doc["allow"]
    if not isinstance(allow, bool):
        raise ValueError("allow is not a boolean")
    return ArtifactResult(
        source=source,
        name=doc.get("name"),
        digest=doc["digest"],
        allow=allow,
        deny=reasons(doc.get("deny") or []),
        warn=reasons(doc.get("warn") or []),
        record=record if isinstance(record, dict) else None,
        cached=True,
    )
