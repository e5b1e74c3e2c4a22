"""The ledger: every gate decision, appended to SQLite and chained by hash.

Each row holds the canonical JSON of one evidence record, its sha256, and
``hash = sha256("scanner-ledger/1\\n{seq}\\n{prev_hash}\\n{record_sha256}")`` where ``prev_hash``
is the previous row's hash (64 zeros for the first). Editing a record, deleting or reordering rows
breaks the chain; ``verify`` finds the first broken row. The head (last seq and hash) is also kept
in the ``meta`` table, so dropping the newest rows is detected too; publishing the head hash
(the gate prints it, the JSON report carries it) anchors the chain outside the database.

Several CI jobs may append at once: WAL journal, a generous busy timeout and ``BEGIN IMMEDIATE``
(the write lock is taken before the previous hash is read) make every append one serialised
transaction, so none is lost and the chain stays linear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.errors import ScanError
from scanner.jsonchunks import ChunkEncoder

LEDGER_FORMAT = "scanner-ledger/1"
GENESIS = "0" * 64
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    artifact TEXT NOT NULL,
    artifact_digest TEXT NOT NULL,
    stage TEXT,
    allow INTEGER,
    actor TEXT,
    record TEXT NOT NULL,
    record_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (recorded_at);
CREATE INDEX IF NOT EXISTS decisions_artifact ON decisions (artifact);
"""


def canonical(record: dict[str, Any]) -> str:
    """The bytes that are hashed: sorted keys, no whitespace; the ``ledger`` key (where the
    record was stored, added after storing) is not part of it."""
    body = {k: v for k, v in record.items() if k != "ledger"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# The inventory parts of a record: the ledger keeps their digest and size, not a copy per gate.
INVENTORY_KEYS = ("components", "sbom")


def ledger_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the ledger stores it: the inventory (``components``, ``sbom``) replaced by
    the sha256 of its canonical JSON and its length, so that a 25 MB BOM is not written into the
    ledger on every gate while the chain still pins exactly which inventory was judged (compare
    with the JSON evidence record, which carries it whole)."""
    out = dict(record)
    for key in INVENTORY_KEYS:
        value = record.get(key)
        if isinstance(value, (list, dict)) and value:
            digest = hashlib.sha256()
            for piece in _CANONICAL.chunks(value):  # hashed as it is encoded: never one string
                digest.update(piece.encode())
            size = len(value) if isinstance(value, list) else len(value.get("components") or [])
            out[key] = {"sha256": digest.hexdigest(), "items": size}
    return out


_CANONICAL = ChunkEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(seq: int, prev_hash: str, record_sha256: str) -> str:
    return hashlib.sha256(f"{LEDGER_FORMAT}\n{seq}\n{prev_hash}\n{record_sha256}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    recorded_at: str
    artifact: str
    artifact_digest: str
    stage: str | None
    allow: bool | None
    actor: str | None
    hash: str
    record: dict[str, Any]


@dataclass
class Verification:
    """The result of walking the chain. ``problems`` name the row and what is wrong."""

    path: str
    count: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.path,
            "ok": self.ok,
            "records": self.count,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": list(self.problems),
        }


class Ledger:
    """An append-only, hash-chained SQLite ledger of evidence records."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.damaged: list[str] = []
        if not create and not self.path.is_file():
            raise ScanError("ledger not found", self.path)
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if create:
                self._wal()
                with self._transaction():
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(statement)
                    self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (LEDGER_FORMAT,))
            self._check_format()
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot open ledger: {exc}", self.path) from None
        except OSError as exc:
            raise ScanError(f"cannot open ledger: {exc.strerror or exc}", self.path) from None

    def _wal(self) -> None:
        """Switch to WAL once (the mode is kept in the file). Changing the journal mode does not
        wait on SQLite's busy handler, so writers starting together retry here."""
        import time

        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if str(self._db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _check_format(self) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None or row[0] != LEDGER_FORMAT:
            raise ScanError(f"not a scanner ledger (expected format {LEDGER_FORMAT})", self.path)

    def pointer(self, seq: int, digest: str) -> dict[str, Any]:
        """What a record says of its entry (``record["ledger"]``): where it is, which one."""
        return {"path": str(self.path), "seq": seq, "hash": digest}

    def append(self, record: dict[str, Any]) -> tuple[int, str]:
        """Append one record in one transaction; returns its (seq, hash)."""
        with self.appending(record) as entry:
            return entry

    @contextmanager
    def appending(self, record: dict[str, Any]) -> Iterator[tuple[int, str]]:
        """Append one record, committed when the ``with`` block ends without an exception and
        rolled back otherwise; yields its (seq, hash). The block runs inside the write
        transaction (other writers wait), so what it writes can name the entry before it exists:
        the gate writes its reports and evidence there, and an entry is committed only when all
        of them were written."""
        with self.appending_all([record]) as entries:
            yield entries[0]

    @contextmanager
    def appending_all(self, records: Sequence[dict[str, Any]]) -> Iterator[list[tuple[int, str]]]:
        """``appending`` for several records, chained in order in one write transaction (one
        commit: one flush of the database for all of them); yields each one's (seq, hash). All
        are committed when the block ends, none if it raises."""
        rows = [self._row(record) for record in records]
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot append to ledger: {exc}", self.path) from None
        entries = []
        try:
            seq, head = self._head()
            for row in rows:
                seq, head = seq + 1, self._insert(seq + 1, head, row)
                entries.append((seq, head))
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("head_seq", str(seq)), ("head_hash", head)],
            )
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise ScanError(f"cannot append to ledger: {exc}", self.path) from None
        except BaseException:  # Ctrl-C: no transaction is left open on the connection
            self._rollback()
            raise
        try:
            yield entries
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise ScanError(f"cannot append to ledger: {exc}", self.path) from None

    def committed(self, seq: int, digest: str) -> bool:
        """Whether entry ``seq``, hashed ``digest``, is in the ledger for good: asked after an
        append failed or was interrupted, possibly once its commit was done. A transaction still
        open on this connection is rolled back first (what it held was not committed)."""
        if self._db.in_transaction:
            self._rollback()
        try:
            row = self._db.execute("SELECT hash FROM decisions WHERE seq = ?", (seq,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot read ledger: {exc}", self.path) from None
        return row is not None and row[0] == digest

    @staticmethod
    def _row(record: dict[str, Any]) -> tuple[Any, ...]:
        """The columns of a record's entry that do not depend on its place in the chain."""
        body = canonical(ledger_view(record))
        decision = record.get("decision") or {}
        allow = decision.get("allow")
        artifact = record.get("artifact") or {}
        return (
            str(record.get("timestamp") or _now()),
            str(artifact.get("name", "")),
            str(artifact.get("digest", "")),
            record.get("stage"),
            None if allow is None else int(bool(allow)),
            (record.get("ci") or {}).get("actor"),
            body,
            hashlib.sha256(body.encode()).hexdigest(),
        )

    def _insert(self, seq: int, prev: str, row: tuple[Any, ...]) -> str:
        """Insert entry ``seq`` after the one hashed ``prev``; returns its hash."""
        digest = chain_hash(seq, prev, row[-1])
        self._db.execute(
            "INSERT INTO decisions (seq, recorded_at, artifact, artifact_digest, stage, allow, actor,"
            " record, record_sha256, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, *row, prev, digest),
        )
        return digest

    def _rollback(self) -> None:
        with suppress(sqlite3.DatabaseError):  # no transaction left open: SQLite rolled it back
            self._db.execute("ROLLBACK")

    def _head(self) -> tuple[int, str]:
        row = self._db.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def entries(
        self, *, since: str | None = None, until: str | None = None, artifact: str | None = None
    ) -> list[Entry]:
        """Records in order; ``since``/``until`` compare with the record's UTC timestamp
        (ISO text, a date alone means its whole day).

        Every value comes from the chained record itself, never from the convenience columns
        beside it (``artifact``, ``stage``, ``allow``, ``actor``, ``recorded_at``), which the hash
        chain does not cover: editing them in SQLite must not turn a blocked decision into a
        promotion in a report. A row whose record cannot be read is left out and named in
        ``damaged`` (``verify`` reports it as edited too)."""
        sql = "SELECT seq, hash, record FROM decisions ORDER BY seq"
        self.damaged = []
        try:
            rows = self._db.execute(sql).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot read ledger: {exc}", self.path) from None
        out: list[Entry] = []
        for seq, digest, body in rows:
            try:
                record = jsonfile.loads(body)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                entry = _entry(seq, digest, record)
            except (ValueError, TypeError, AttributeError, RecursionError) as exc:
                self.damaged.append(f"#{seq}: record damaged ({str(exc)[:80]}): left out of the report")
                continue
            if since and entry.recorded_at < since:
                continue
            if until and entry.recorded_at >= until:
                continue
            if artifact and entry.artifact != artifact:
                continue
            out.append(entry)
        return out

    def allowed_to(self, stage: str) -> Iterator[Entry]:
        """Decisions that allowed an artifact to ``stage``, newest first (read lazily: the
        quality baseline wants only the most recent match)."""
        try:
            cursor = self._db.execute(
                "SELECT seq, recorded_at, artifact, artifact_digest, stage, allow, actor, hash, record"
                " FROM decisions WHERE stage = ? AND allow = 1 ORDER BY seq DESC",
                (stage,),
            )
            for r in cursor:
                yield Entry(r[0], r[1], r[2], r[3], r[4], True, r[6], r[7], json.loads(r[8]))
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot read ledger: {exc}", self.path) from None

    def verify(self) -> Verification:
        """Walk every row: seq contiguous from 1, each record's sha256 and chain hash recomputed,
        the head kept in ``meta`` equal to the last row."""
        out = Verification(path=str(self.path))
        prev = GENESIS
        expected_seq = 1
        try:
            cursor = self._db.execute("SELECT seq, record, record_sha256, prev_hash, hash FROM decisions ORDER BY seq")
            for seq, body, record_sha, prev_hash, digest in cursor:
                out.count += 1
                if seq != expected_seq:
                    out.problems.append(f"#{seq}: gap, expected #{expected_seq} (rows missing)")
                if hashlib.sha256(body.encode()).hexdigest() != record_sha:
                    out.problems.append(f"#{seq}: record content does not match its sha256 (edited)")
                if prev_hash != prev:
                    out.problems.append(f"#{seq}: previous-hash link broken (a row before it was changed or removed)")
                if chain_hash(seq, prev_hash, record_sha) != digest:
                    out.problems.append(f"#{seq}: chain hash does not match (row edited)")
                prev = digest
                expected_seq = seq + 1
                out.head_seq, out.head_hash = seq, digest
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise ScanError(f"cannot read ledger: {exc}", self.path) from None
        if meta.get("head_seq", "0") != str(out.head_seq) or meta.get("head_hash", GENESIS) != out.head_hash:
            out.problems.append(
                f"head mismatch: meta says #{meta.get('head_seq', 0)} {meta.get('head_hash', GENESIS)[:12]}…, "
                f"last row is #{out.head_seq} {out.head_hash[:12]}… (newest rows removed or head edited)"
            )
        return out


def _entry(seq: int, digest: str, record: dict[str, Any]) -> Entry:
    artifact = record.get("artifact") or {}
    decision = record.get("decision") or {}
    allow = decision.get("allow")
    return Entry(
        seq=int(seq),
        recorded_at=str(record.get("timestamp") or ""),
        artifact=str(artifact.get("name", "")),
        artifact_digest=str(artifact.get("digest", "")),
        stage=record.get("stage"),
        allow=allow if isinstance(allow, bool) else None,
        actor=(record.get("ci") or {}).get("actor"),
        hash=str(digest),
        record=record,
    )


def record_decision(
    path: Path | None, record: dict[str, Any], source: str | Path | None = None, *, opened: Ledger | None = None
) -> None:
    """Append a gate decision (``path``, or the default for ``source``: see ``default_path``; or
    the ledger ``opened`` already) and note where in ``record["ledger"]``."""
    with recording(path, record, source, opened=opened):
        pass


def open_ledger(path: Path | None, source: str | Path | None = None) -> Ledger:
    """The ledger decisions about ``source`` go to (``path``, else the default), opened (and
    created) now: a ledger that cannot be written fails before anything it would record."""
    return Ledger(Path(path) if path else default_path(source))


@contextmanager
def recording(
    path: Path | None, record: dict[str, Any], source: str | Path | None = None, *, opened: Ledger | None = None
) -> Iterator[None]:
    """``record_decision`` around a block: ``record["ledger"]`` names the entry inside the block
    (so the reports written there show it), and the entry is committed only when the block
    completes; an exception in it (a report or evidence file that could not be written) leaves
    the ledger as it was."""
    from scanner import ui

    ledger = opened if opened is not None else open_ledger(path, source)
    try:
        with ledger.appending(record) as (seq, digest):
            record["ledger"] = ledger.pointer(seq, digest)
            yield
    except BaseException:
        record.pop("ledger", None)  # nothing was recorded
        raise
    finally:
        if opened is None:
            ledger.close()
    ui.info(f"ledger: decision #{seq} appended to {ledger.path} (chain head {digest[:16]})")


def state_path() -> Path:
    """The user state directory's ledger, ``$XDG_STATE_HOME/scanner/ledger.db``
    (``~/.local/state/scanner/ledger.db`` by default): where decisions go when no ledger is named,
    and the one ``scanner report verify-ledger`` reads without a path."""
    from scanner.userdirs import state_dir

    return state_dir() / "ledger.db"


def default_path(source: str | Path | None = None) -> Path:
    """The ledger used when none is named (``--ledger``, ``SCANNER_LEDGER``), for every source —
    a local file or directory, a registry artifact (``oci://``), standard input (``-``) — and every
    command (gate, promote, batch): ``state_path()``, never a file in the working directory.

    The ledger is where the quality baseline is read as well as where the decision is appended.
    In CI the working directory is the checkout under review, and whatever is judged can come from
    it: a folder or file in it, an artifact built from it (a registry image, a model written to
    ``/tmp``, the environment ``pip install -r requirements.txt`` just filled), its requirements
    piped in. A ``.scanner/ledger.db`` it ships (a forged chain of earlier decisions) would supply
    the metrics its model is compared with, the decision would be appended to a file it controls,
    and a ledger written inside a judged tree would change its digest for the next gate.

    The state ledger is refused (``ScanError``: name a ledger) when it lies inside the working
    directory or inside a local artifact's tree (the artifact itself if a directory, else its
    folder; a path that cannot be resolved counts as containing it), compared as written and with
    links resolved: a CI runner whose home is the checkout would otherwise ship
    ``.local/state/scanner/ledger.db``. The user-level config and the cache are refused the same
    way (``pipeline.refuse_user_files_inside``)."""
    chosen = state_path()
    places = {Path(os.path.abspath(chosen)), chosen.parent.resolve() / chosen.name}
    here = _here()
    if any(p.is_relative_to(h) for p in places for h in here):
        _refuse(chosen, "the working directory (in CI, the checkout the artifact may come from)")
    from scanner.stdin import is_stdin

    if source is None or str(source) == "" or is_stdin(source) or str(source).startswith("oci://"):
        return chosen  # no tree of its own on this machine: the working directory stands for it
    trees = _trees(Path(source))
    if not trees or any(p.is_relative_to(t) for p in places for t in trees):
        _refuse(chosen, "the tree being judged")
    return chosen


def default_path_for(sources: Iterable[str | Path]) -> Path:
    """The default ledger of a run over several sources (``scanner batch``): ``default_path``
    for each of them (the state ledger lies inside none of the directories judged)."""
    chosen = default_path(None)
    for source in sources:
        default_path(source)
    return chosen


def _refuse(chosen: Path, tree: str) -> None:
    raise ScanError(
        f"the default ledger (user state directory) lies inside {tree}: "
        "the artifact could supply its own ledger and quality baseline",
        chosen,
        hint=f"name a ledger with --ledger or SCANNER_LEDGER, e.g. --ledger {chosen} if you trust this directory; "
        "or set XDG_STATE_HOME outside it",
    )


def _here() -> set[Path]:
    """The working directory as written and resolved (none when it is gone)."""
    try:
        here = Path(os.getcwd())
        return {here, here.resolve()}
    except (OSError, RuntimeError):
        return set()


def _trees(source: Path) -> set[Path]:
    """The tree of a local artifact (itself if a directory, else its folder), as written and with
    links resolved; empty when it cannot be resolved."""
    try:
        written = Path(os.path.abspath(source))
        real = written.resolve()
        return {written if written.is_dir() else written.parent, real if real.is_dir() else real.parent}
    except (OSError, RuntimeError, ValueError):
        return set()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
