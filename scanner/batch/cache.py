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
what it names. Each entry stores its full key, the verdict, the evidence record, the waiver
expiry and database age it holds for, and the sha256 of all of it. Before a cached verdict is
used the driver re-reads the entry and checks that the key stored in it is exactly the key it
expects and that the digest matches its content; an entry that fails either check is not trusted
(the artifact is judged again and the entry replaced). This makes edits and corruption evident;
someone able to write an entry could also recompute the digest, so only entries owned by the
user and writable by nobody else are used (an entry of another user, or one its group or others
may write, is not trusted: whoever created a shared cache directory first cannot plant verdicts
in it). Errors are never cached. A verdict that depended on waivers is not reused after the
earliest of their expiry dates, nor once the vulnerability database is older (in days, as the
policy reads it: ``vuln-db-stale``) than when it was made.

Only the driver writes (atomically: a temporary file renamed into place).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner.batch.model import ArtifactResult
from scanner.core import Reason

FORMAT = "scanner-batch-cache/3"
MAX_ENTRY_BYTES = 256 << 20


def canonical(doc: Any) -> bytes:
    """UTF-8, a source path that is not (its bytes reach Python as surrogates) kept as it is
    (``json.loads`` of bytes reads it back the same way)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", "surrogatepass")


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

    def __init__(
        self, root: Path, context: Mapping[str, str], *, expires: dt.datetime | None = None, db_age: int | None = None
    ) -> None:
        """``expires``: the first instant (UTC) at which a waiver of the run no longer applies
        (``Waiver.ends``: an expiry time, or the end of an expiry day in UTC); a verdict made
        with them is not reused from then on.
        ``db_age``: the vulnerability database's age in days today (``DbInfo.age_days``). The
        policy input holds it (``context.vulnerability_db.age_days``), so an entry is used only on
        a day the database has the age it had when the verdict was made."""
        self.context = dict(context)
        self.dir = Path(root) / "v1" / context_id(self.context)
        self.expires = expires
        self.db_age = db_age
        self._pool: Any = None  # made by the first ``store`` (a run answered from the cache stores nothing)

    def close(self) -> None:
        if self._pool is not None:
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

    def load(self, source: str, digest: str, now: dt.datetime | None = None) -> Lookup:
        from scanner.errors import ScanError
        from scanner.safeio import open_regular, read_upto

        path = self.path_for(source, digest)
        try:
            with open_regular(path) as fh:
                foreign = _written_by_someone_else(os.fstat(fh.fileno()))
                raw = read_upto(fh, MAX_ENTRY_BYTES)
            if foreign:
                return Lookup(None, foreign)
            if len(raw) > MAX_ENTRY_BYTES:
                return Lookup(None, f"larger than {MAX_ENTRY_BYTES} bytes")
            sealed = _sealed(raw)
            entry = json.loads(raw)
        except (ScanError, ValueError, RecursionError) as exc:
            return Lookup(None, f"unreadable: {exc}")
        if not isinstance(entry, dict):
            return Lookup(None, "not a cache entry")
        if entry.get("key") != entry_key(self.context, source, digest):
            return Lookup(None, "its key is not the key of this artifact and run")
        if not sealed:  # not laid out as ``_write`` lays it out: check its body encoded anew
            body = {k: entry.get(k) for k in _BODY}
            if entry.get("sha256") != digest_of(body):
                return Lookup(None, "its content does not match its digest (edited or corrupt)")
        expires = entry.get("expires")
        if expires is not None:
            try:
                ends = dt.datetime.fromisoformat(str(expires))
            except ValueError:
                return Lookup(None, f"unreadable waiver expiry {expires!r}")
            if ends.tzinfo is None or (now or dt.datetime.now(dt.timezone.utc)) >= ends:
                return Lookup(None, f"a waiver it relied on ended at {expires}")
        if entry.get("db_age") != self.db_age:
            return Lookup(
                None, f"the vulnerability database was {entry.get('db_age')} days old then, {self.db_age} days now"
            )
        try:
            result = _result(source, entry["result"], entry.get("record"), entry.get("record_text"))
            return Lookup(replace(result, identity=digest))
        except (KeyError, TypeError, ValueError) as exc:
            return Lookup(None, f"malformed verdict: {exc}")

    def store(self, result: ArtifactResult) -> None:
        """Keep a judged verdict (errors are not cached, nor a verdict without an identity).
        Best effort: a cache that cannot be written costs speed, not correctness."""
        if result.judged and result.identity is not None:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scanner-batch-cache")
            self._pool.submit(self._write_quietly, result, result.identity)

    def _write_quietly(self, result: ArtifactResult, identity: str) -> None:
        from scanner.batch.forksafe import busy

        with busy():  # no fork copies this thread's locks mid-write (forksafe)
            self._write(result, identity)

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
            "record": None,
            "record_text": result.record_text,
            "expires": self.expires.isoformat() if self.expires else None,
            "db_age": _db_age(result.record if result.record_text is None else json.loads(result.record_text)),
        }
        if result.record_text is None:
            body.update(_record_fields(result.record))
        data = canonical(body)  # keys sorted: "sha256" comes last, so it can be appended
        data = data[:-1] + b',"sha256":"' + hashlib.sha256(data).hexdigest().encode() + b'"}'
        target = self.path_for(result.source, identity)
        tmp = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            import tempfile

            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")  # 0600: see _written_by_someone_else
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
            tmp = None
        except OSError as exc:
            from scanner import ui

            ui.warn(f"cannot write the result cache: {exc.strerror or exc} ({self.dir})")
        finally:
            if tmp is not None:  # never renamed into place: not left behind
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


_BODY = ("key", "result", "record", "record_text", "expires", "db_age")
_RUN_MEMBERS = ("batch", "ledger")  # a record's members that belong to a run, never cached
# A record up to this many characters is kept as the text of its file (a hit writes it as it is,
# with the run's ``batch`` member added: no decoding and encoding again); a larger one (a big SBOM)
# as JSON, so that it is never one string in memory on top of the entry.
RECORD_TEXT_MAX = 1 << 20


def _record_fields(record: dict[str, Any] | None) -> dict[str, Any]:
    """The entry's ``record`` / ``record_text``: the record as the driver writes it (without its
    ``ledger`` and ``batch`` members, which belong to a run)."""
    if record is None:
        return {}
    from scanner.report.json_format import head_and_rest

    kept = {k: v for k, v in record.items() if k not in _RUN_MEMBERS}
    text, rest = head_and_rest(kept, RECORD_TEXT_MAX)
    return {"record_text": text} if rest is None else {"record": kept}


_SEAL = b',"sha256":"'
_SEAL_LEN = len(_SEAL) + 64 + 2  # ,"sha256":"<64 hex>"}


def _sealed(raw: bytes) -> bool:
    """The entry's bytes are exactly what ``_write`` wrote: the canonical JSON of its body with
    ``"sha256"``, the digest of that JSON, as its last member. Then the stored bytes are hashed
    as they are (no decoding and encoding again), and whatever is parsed from them is what was
    hashed: the last member is checked byte for byte, so nothing follows it. (Any other layout
    is checked the slow way, by encoding the parsed body again.)"""
    stored = raw[-66:-2]
    return (
        len(raw) >= _SEAL_LEN + 2
        and raw[-_SEAL_LEN : -_SEAL_LEN + len(_SEAL)] == _SEAL
        and raw[-2:] == b'"}'
        and not stored.strip(b"0123456789abcdef")
        and hashlib.sha256(raw[:-_SEAL_LEN] + b"}").hexdigest().encode() == stored
    )


def _written_by_someone_else(st: os.stat_result) -> str | None:
    """Why an entry may not be the driver's own work: a file of another user, or one the group or
    others may write. Its checksum proves nothing against them (anyone can recompute it), so only
    the user's own entries are used; the driver writes them 0600."""
    if not hasattr(os, "geteuid"):
        return None  # no POSIX owners (Windows): the directory's ACL is all there is
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by this user"
    if st.st_mode & 0o022:
        return f"writable by {'its group' if st.st_mode & 0o020 else 'every user'} (mode {st.st_mode & 0o777:o})"
    return None


def _db_age(record: Any) -> int | None:
    """The database age the verdict was made with, as the policy read it."""
    context = record.get("context") if isinstance(record, dict) else None
    db = context.get("vulnerability_db") if isinstance(context, dict) else None
    age = db.get("age_days") if isinstance(db, dict) else None
    return age if isinstance(age, int) else None


def _result(source: str, doc: Mapping[str, Any], record: Any, record_text: Any = None) -> ArtifactResult:
    def reasons(items: Any) -> tuple[Reason, ...]:
        return tuple(Reason(str(r["rule"]), str(r["message"]), r.get("remediation")) for r in items)

    allow = doc["allow"]
    if not isinstance(allow, bool):
        raise ValueError("allow is not a boolean")
    if record_text is not None:
        from scanner.report.json_format import laid_out

        # a hit writes it with this run's members spliced in (``json_format.with_member``)
        if not isinstance(record_text, str) or not laid_out(record_text, *_RUN_MEMBERS):
            raise ValueError("its record text is not a record as the cache keeps it")
    return ArtifactResult(
        source=source,
        name=doc.get("name"),
        digest=doc["digest"],
        allow=allow,
        deny=reasons(doc.get("deny") or []),
        warn=reasons(doc.get("warn") or []),
        record=record if isinstance(record, dict) else None,
        record_text=record_text,
        cached=True,
    )
