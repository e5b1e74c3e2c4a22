"""The driver's evidence: one record file per artifact and one writer for the ledger.

Workers never write: they send their record back, and the driver puts the paths it read the
policy, data and waivers from into it (a worker judged from a private copy with the same digests),
appends the decision to the ledger (one connection for the whole run, so the chain is appended in
finishing order by one writer) and writes the record as ``NNNNN-<name>.json`` in the records
directory. With a ledger, the record file is written whole before the entry is committed (a
decision whose evidence could not be written is never in the ledger: the run stops, exit 2);
without one, each is written whole (a temporary file renamed into place) and the flush to disk is
left to the system (``EvidenceWriter``). An artifact that could not be judged gets
an error record (and no ledger entry: the ledger holds decisions).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.batch.model import ArtifactResult, BatchOptions

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
    """Every record file goes through one ``atomic.Folder`` (the records directory opened once),
    written whole under a temporary name and renamed into place. With a ledger, each record is
    also flushed to disk (and its rename synced) before its entry is committed: the ledger is the
    durable account of the run. Without one, the flush is left to the system.

    Inside ``grouped`` (the cache hits the driver answers one after the other) decisions go to
    the ledger ``GROUP`` at a time: their records are written, flushed together and put in
    place, then their entries are committed in one transaction — one database commit and
    overlapping file flushes instead of one of each per decision."""

    GROUP = 256
    GROUP_CHARS = 16 << 20  # a group is written once its records hold this much text

    def __init__(self, records_dir: Path | None, ledger_path: Path | None, options: BatchOptions) -> None:
        from scanner.atomic import Folder

        self.records_dir = records_dir
        self.options = options
        self.ledger: Any = None
        self._folder = None if records_dir is None else Folder(records_dir, "evidence record")
        self._group: list[tuple[dict[str, Any], str | None, str | None]] | None = None  # (record, name, text)
        self._group_chars = 0
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
        name = self._name(index, result)
        path = None if self._folder is None or name is None else str(self._folder.path / name)
        text = None
        if result.record_text is not None and result.judged:
            # a cached verdict: its record's text as the cache holds it, with this run's member
            from scanner.report.json_format import with_member

            text = with_member(result.record_text, "batch", batch)
            if self.ledger is None:
                if name is not None:
                    self._write(name, [text])
                return replace(result, record_text=None, record_path=path)
            result = replace(result, record=json.loads(result.record_text), record_text=None)
        if result.record is not None and result.judged:
            record = {k: v for k, v in result.record.items() if k != "ledger"}
            record["batch"] = batch
            if self.ledger is not None and self._group is not None:
                self._group.append((record, name, text))
                self._group_chars += len(text or "")
                if len(self._group) >= self.GROUP or self._group_chars >= self.GROUP_CHARS:
                    self._commit_group()
                return replace(result, record=record, record_path=path)
            if self.ledger is not None:
                # the entry is committed only once its record file is written whole (and its
                # rename synced): a decision whose evidence could not be written is never in
                # the ledger (exit 2)
                with self.ledger.appending(record) as (seq, digest):
                    record["ledger"] = {"path": str(self.ledger.path), "seq": seq, "hash": digest}
                    if self._folder is not None and name is not None:
                        self._folder.write(name, _encoded(record), durable=True)
                return replace(result, record=record, record_path=path)
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
        if name is not None:
            self._write(name, _encoded(record))
        return replace(result, record=record, record_path=path)

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """Decisions written in the block reach the ledger in groups (class doc); the last group
        is committed when the block ends, also on Ctrl-C (what finished is kept)."""
        self._group, self._group_chars = [], 0
        try:
            yield
        except KeyboardInterrupt:
            self._commit_group()
            raise
        else:
            self._commit_group()
        finally:
            self._group = None

    def _commit_group(self) -> None:
        """The group's records written, flushed and put in place, then its entries committed in
        one transaction; a record that cannot be written leaves none of the group's entries."""
        group, self._group, self._group_chars = self._group or [], [], 0
        if not group:
            return
        from scanner.report.json_format import with_member

        assert self.ledger is not None
        with self.ledger.appending_all([record for record, _, _ in group]) as entries:
            try:
                for (record, name, text), (seq, digest) in zip(group, entries, strict=True):
                    record["ledger"] = {"path": str(self.ledger.path), "seq": seq, "hash": digest}
                    if self._folder is not None and name is not None:
                        body = [with_member(text, "ledger", record["ledger"])] if text else _encoded(record)
                        self._folder.stage(name, body)
                if self._folder is not None:
                    self._folder.commit(durable=True)
            except BaseException:
                if self._folder is not None:
                    self._folder.discard()
                for record, _, _ in group:
                    record.pop("ledger", None)  # nothing was recorded
                raise

    def _write(self, name: str, text: Iterable[str]) -> None:
        assert self._folder is not None
        self._folder.write(name, text, durable=False)

    def _name(self, index: int, result: ArtifactResult) -> str | None:
        if self._folder is None:
            return None
        name = _UNSAFE.sub("_", result.name or Path(result.source).name or "artifact")[:80]
        return f"{index:05d}-{name}.json"

    def close(self) -> None:
        self._group = None  # a group not committed (the run failed) is not recorded
        if self._folder is not None:
            self._folder.close()
        if self.ledger is not None:
            self.ledger.close()


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
