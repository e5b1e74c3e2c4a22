"""The driver's evidence: one record file per artifact and one writer for the ledger.

Workers never write: they send their record back, and the driver puts the paths it read the
policy, data and waivers from into it (a worker judged from a private copy with the same digests),
appends the decision to the ledger (one connection for the whole run, so the chain is appended in
finishing order by one writer) and writes the record as ``NNNNN-<name>.json`` in the records
directory. With a ledger, the record file is written whole before the entry is committed (a
decision whose evidence could not be written is never in the ledger: the run stops, exit 2);
without one, record files are written by a background thread (each whole: temporary file, fsync,
rename) and their folder is synced once, in ``close``. An artifact that could not be judged gets
an error record (and no ledger entry: the ledger holds decisions).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.batch.model import ArtifactResult, BatchOptions
from scanner.errors import ScanError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def normalise(result: ArtifactResult, options: BatchOptions) -> ArtifactResult:
    """The record as if judged from the driver's files (same digests, the driver's paths)."""
    record = result.record
    if not record:
        return result
    inputs = dict(record.get("inputs") or {})
    snap = options.policy
    paths = {"policy": snap.policy_path, "data": snap.data_path, "waivers": snap.waivers_path}
    for key, path in paths.items():
        if isinstance(inputs.get(key), dict) and path:
            inputs[key] = {**inputs[key], "path": path}
    return replace(result, record={**record, "inputs": inputs})


class EvidenceWriter:
    """Record files are written by a background thread (the driver would otherwise wait on the
    disk for each one; one thread: the driver encodes them, the thread mostly waits on the disk);
    ``close`` waits for it, syncs the folder and raises if one could not be written."""

    def __init__(self, records_dir: Path | None, ledger_path: Path | None, options: BatchOptions) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.records_dir = records_dir
        self.options = options
        self.ledger: Any = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scanner-batch-records")
        self._pending: list[Any] = []
        if records_dir is not None:
            try:
                records_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ScanError(f"cannot create the records directory: {exc.strerror or exc}", records_dir) from None
        if ledger_path is not None:
            from scanner.evidence.ledger import Ledger

            self.ledger = Ledger(ledger_path)

    def write(self, index: int, result: ArtifactResult) -> ArtifactResult:
        batch = {
            "run": self.options.run_id,
            "source": result.source,
            "cached": result.cached,
            "attempts": result.attempts,
            "seconds": round(result.seconds, 4),
        }
        if result.record is not None and result.judged:
            record = {k: v for k, v in result.record.items() if k != "ledger"}
            record["batch"] = batch
            if self.ledger is not None:
                # the entry is committed only once its record file is written whole: a decision
                # whose evidence could not be written is never in the ledger (exit 2)
                target = self._target(index, result)
                with self.ledger.appending(record) as (seq, digest):
                    record["ledger"] = {"path": str(self.ledger.path), "seq": seq, "hash": digest}
                    if target is not None:
                        _write_record(target, record)
                return replace(result, record=record, record_path=None if target is None else str(target))
        else:
            record = {
                "schema": "scanner-batch-error/1",
                "command": "batch",
                "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "artifact": {"source": result.source, "name": result.name, "digest": result.digest},
                "stage": self.options.stage,
                "error": result.error,
                "batch": batch,
            }
        target = self._target(index, result)
        if target is not None:
            # encoded here (the GIL is held either way), written, flushed and renamed by the
            # writer thread; the folder is synced once, in ``close``
            self._pending.append(self._pool.submit(_write_record, target, _encoded(record), sync_folder=False))
        return replace(result, record=record, record_path=None if target is None else str(target))

    def _target(self, index: int, result: ArtifactResult) -> Path | None:
        if self.records_dir is None:
            return None
        name = _UNSAFE.sub("_", result.name or Path(result.source).name or "artifact")[:80]
        return self.records_dir / f"{index:05d}-{name}.json"

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self.ledger is not None:
            self.ledger.close()
        if self._pending and self.records_dir is not None:
            from scanner.atomic import sync_folder

            sync_folder(self.records_dir)  # the renames of every record written by the threads
        for future in self._pending:
            future.result()  # the first record that could not be written stops the run (exit 2)


def _write_record(target: Path, record: dict[str, Any] | Iterable[str], *, sync_folder: bool = True) -> None:
    """Whole or not at all (temporary file, fsync, rename; exit 2 naming the file), laid out as
    ``scanner gate -f json`` writes a record (``report.json_format``: the outer levels indented,
    the rest encoded by the C encoder, several times faster than ``indent=2``). ``record`` may be
    given encoded already (``_encoded``). ``sync_folder=False``: the caller syncs the folder."""
    from scanner.atomic import write_atomic

    text = _encoded(record) if isinstance(record, dict) else record
    write_atomic(target, text, "evidence record", sync_folder=sync_folder)


_SMALL = 1 << 20  # a record up to this many characters is written as one string


def _encoded(record: dict[str, Any]) -> Iterable[str]:
    """The record's text: one string when it is small (one write call), else the text so far and
    the rest of the pieces, encoded as they are written (a record holding a large SBOM is never
    one string in memory)."""
    from scanner.report.json_format import chunks

    pieces = chunks(record)
    head: list[str] = []
    size = 0
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size > _SMALL:
            return itertools.chain(["".join(head)], pieces)
    return ["".join(head)]
