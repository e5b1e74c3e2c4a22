"""Whether a signature or a provenance statement about a directory covers all of it.

A statement that names some files of a directory says nothing about the others: a file added
after signing, or left out by the signer (model-signing's ``ignore_paths``, an in-toto statement
listing a few subjects), would otherwise pass under a signature that never saw it. Such a
statement counts only when its subjects cover every file of the artifact, as the run read them
(``scanner.files.FileSet``); the signature documents themselves, when they lie inside the
directory, are not expected to sign themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from scanner.files import FileSet
from scanner.verify.result import VerifyFailure

SHOWN = 10


class PartialCoverage(VerifyFailure):
    """The statement verified but leaves files of the artifact unsigned (``unsigned`` names them)."""

    def __init__(self, unsigned: list[str], total: int, whole: str = "the directory") -> None:
        shown = ", ".join(unsigned[:SHOWN]) + (f" and {len(unsigned) - SHOWN} more" if len(unsigned) > SHOWN else "")
        noun = "file is" if len(unsigned) == 1 else "files are"
        covered = total - len(unsigned)
        super().__init__(
            f"covers {covered} of {total} files of {whole}: {len(unsigned)} {noun} not signed ({shown})",
            unsigned=unsigned,
        )


def exempt(artifact: Path, documents: Iterable[Path]) -> set[str]:
    """The relative paths of signature documents that lie inside the directory ``artifact``."""
    root = artifact.resolve()
    out = set()
    for doc in documents:
        try:
            out.add(doc.resolve().relative_to(root).as_posix())
        except ValueError:
            continue
    return out


def require_full(files: FileSet, covered: Iterable[str], exempted: set[str] | None = None) -> None:
    """Raise ``PartialCoverage`` unless ``covered`` names every readable file of the artifact."""
    names = set(covered)
    skip = exempted or set()
    expected = [e.rel for e in files.entries if e.readable and e.rel not in skip]
    unsigned = sorted(rel for rel in expected if rel not in names)
    if unsigned:
        raise PartialCoverage(unsigned, len(expected))


def require_alone(files: FileSet | None) -> None:
    """A message signature signs the bytes of one file: raise ``PartialCoverage`` when the
    artifact is more than that file (a requirements file and the files it includes)."""
    members = files.members() if files is not None and not files.is_dir else []
    if members:
        raise PartialCoverage(members, len(members) + 1, "the requirements file and its includes")
