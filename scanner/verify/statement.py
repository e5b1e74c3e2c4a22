"""in-toto statements: their shape, and whether an artifact is one of their subjects."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.files import CHUNK, FileSet
from scanner.safeio import open_regular
from scanner.verify.coverage import require_full
from scanner.verify.result import VerifyFailure

STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
_HASHES = ("sha256", "sha384", "sha512", "sha1")


def parse_statement(payload: bytes) -> dict[str, Any]:
    """The statement in a DSSE payload; VerifyFailure when it is not an in-toto statement."""
    try:
        stmt = jsonfile.loads(payload)
    except jsonfile.DuplicateKey as exc:
        raise VerifyFailure(f"DSSE payload: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VerifyFailure("DSSE payload is not valid JSON") from None
    except RecursionError:
        raise VerifyFailure("DSSE payload nested too deeply") from None
    if not isinstance(stmt, dict):
        raise VerifyFailure("DSSE payload is not a JSON object")
    if stmt.get("_type") not in STATEMENT_TYPES:
        raise VerifyFailure(f"not an in-toto statement (_type {stmt.get('_type')!r})")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerifyFailure("in-toto statement has no subjects")
    for s in subjects:
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict) or not s["digest"]:
            raise VerifyFailure("in-toto statement has a subject without a digest")
    if not isinstance(stmt.get("predicateType"), str):
        raise VerifyFailure("in-toto statement has no predicateType")
    return stmt


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open_regular(path, follow=True) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def subject_match(
    stmt: dict[str, Any], artifact: Path, files: FileSet | None = None, exempted: set[str] | None = None
) -> str | None:
    """The name of the subject the artifact matches by digest, or None.

    A file matches a subject carrying its digest (any of sha256/384/512, sha1). A directory
    matches a subject carrying its directory digest (``FileSet.artifact_digest``), or when every
    subject names a file inside it whose digest matches — and then only when those subjects
    cover every file of the directory (``exempted``: the signature documents inside it), else
    ``PartialCoverage`` names the unsigned files. Digests are those of the run's ``files``."""
    fileset = files if files is not None else FileSet(artifact)
    subjects = stmt["subject"]
    if fileset.is_dir or fileset.members():  # a requirements file with its includes: as a directory
        dir_hex = fileset.artifact_digest().removeprefix("sha256:")
        for s in subjects:
            if str(s["digest"].get("sha256", "")).lower() == dir_hex:
                return str(s.get("name", ""))
        by_rel = {e.rel: e for e in fileset.entries if e.readable}
        if all(_file_subject_matches(fileset, by_rel, s) for s in subjects):
            require_full(fileset, (str(s["name"]) for s in subjects), exempted or set())
            return str(subjects[0].get("name", ""))
        return None
    mine = fileset.file_digests()[0].sha256
    for s in subjects:
        if _digest_matches(artifact, s["digest"], mine):
            return str(s.get("name", ""))
    return None


def _file_subject_matches(fileset: FileSet, by_rel: dict[str, Any], subject: dict[str, Any]) -> bool:
    name = subject.get("name")
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in Path(name).parts:
        return False
    entry = by_rel.get(name)
    if entry is None:
        return False
    return _digest_matches(entry.path, subject["digest"], fileset.digest(entry).sha256)


def _digest_matches(path: Path, digest: dict[str, Any], sha256: str) -> bool:
    """``sha256`` is the digest of the bytes the run read; other algorithms hash the file."""
    for alg in _HASHES:
        expected = digest.get(alg)
        if isinstance(expected, str):
            return (sha256 if alg == "sha256" else file_digest(path, alg)) == expected.lower()
    return False


def describe_subjects(stmt: dict[str, Any], limit: int = 3) -> str:
    parts = []
    for s in stmt["subject"][:limit]:
        alg, value = next(iter(s["digest"].items()))
        parts.append(f"{s.get('name', '?')} {alg}:{str(value)[:12]}…")
    more = len(stmt["subject"]) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def not_a_subject(stmt: dict[str, Any], artifact: Path, files: FileSet | None = None) -> str:
    mine = (files if files is not None else FileSet(artifact)).artifact_digest()
    return f"the artifact ({mine[:19]}…) is not a subject of the statement (subjects: {describe_subjects(stmt)})"
