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
from collections.abc import Iterable
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
    written whole under a temporary name and renamed into place. With a ledger, the decisions go
    to a ``Recorder`` (the ledger's one writer, a thread): each record is flushed to disk before
    its entry is committed, many at a time. Without one, the driver writes each record itself
    and the flush to disk is left to the system."""

    def __init__(self, records_dir: Path | None, ledger_path: Path | None, options: BatchOptions) -> None:
        from scanner.atomic import Folder

        self.records_dir = records_dir
        self.options = options
        self._folder = None if records_dir is None else Folder(records_dir, "evidence record")
        self._recorder: Any = None
        if ledger_path is not None:
            from scanner.batch.recorder import Recorder

            self._recorder = Recorder(ledger_path, self._folder)

    def write(self, index: int, result: ArtifactResult) -> ArtifactResult:
        from scanner.text import clean_text

        batch = {
            "run": self.options.run_id,
            "source": clean_text(result.source),  # a path that is not UTF-8: its bytes as \xNN
            "cached": result.cached,
            "attempts": result.attempts,
            "seconds": round(result.seconds, 4),
        }
        name = self._name(index, result)
        path = None if self._folder is None or name is None else str(self._folder.path / name)
        if result.judged and (result.record is not None or result.record_text is not None):
            if result.record_text is not None:
                # a cached verdict: its record's text as the cache holds it, with this run's member
                from scanner.report.json_format import with_member

                text = with_member(result.record_text, "batch", batch)
                if self._recorder is None:
                    if name is not None:
                        self._write(name, [text])
                    return replace(result, record_text=None, record_path=path)
                record = json.loads(result.record_text)
                record["batch"] = batch
                self._recorder.put((record, name, lambda r, text=text: [with_member(text, "ledger", r["ledger"])]))
                return replace(result, record=record, record_text=None, record_path=path)
            assert result.record is not None
            record = {k: v for k, v in result.record.items() if k != "ledger"}
            record["batch"] = batch
            if self._recorder is not None:
                self._recorder.put((record, name, _encoded))
                return replace(result, record=record, record_path=path)
        else:
            record = {
                "schema": "scanner-batch-error/1",
                "command": "batch",
                "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "artifact": {"source": batch["source"], "name": clean_text(result.name), "digest": result.digest},
                "stage": self.options.stage,
                "error": result.error,
                "batch": batch,
            }
        if name is not None:
            self._write(name, _encoded(record))
        return replace(result, record=record, record_path=path)

    def _write(self, name: str, text: Iterable[str]) -> None:
        assert self._folder is not None
        self._folder.write(name, text, durable=False)

    def _name(self, index: int, result: ArtifactResult) -> str | None:
        if self._folder is None:
            return None
        name = _UNSAFE.sub("_", result.name or Path(result.source).name or "artifact")[:80]
        return f"{index:05d}-{name}.json"

    @property
    def interrupted(self) -> bool:
        """Ctrl-C came while ``close`` waited for the last decisions to be recorded (they were)."""
        return bool(self._recorder is not None and self._recorder.interrupted)

    def close(self) -> None:
        """Every decision handed to the recorder is recorded first (also after Ctrl-C: what
        finished is kept); a record that could not be written stops the run (exit 2)."""
        try:
            if self._recorder is not None:
                self._recorder.close()
        finally:
            if self._folder is not None:
                self._folder.close()


_SMALL = 1 << 20  # a record up to this many characters is written as one string


def _encoded(record: dict[str, Any]) -> Iterable[str]:
    """The record's text: one string when it is small (one write call), else the text so far and
    the rest of the pieces, encoded as they are written (``json_format.head_and_rest``)."""
    from scanner.report.json_format import head_and_rest

    head, rest = head_and_rest(record, _SMALL)
    return [head] if rest is None else itertools.chain([head], rest)
