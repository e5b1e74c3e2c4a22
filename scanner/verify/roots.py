"""The pinned Sigstore trusted roots (see ``scanner/data/sigstore/README.md``): verification
needs no TUF refresh and gives the same answer tomorrow. ``--trusted-root`` overrides them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ScanError
from scanner.resources import data_dir

if TYPE_CHECKING:
    from sigstore.verify import Verifier


def trusted_root_path(*, staging: bool = False, override: Path | None = None) -> Path:
    if override is not None:
        return override
    name = "staging_trusted_root.json" if staging else "production_trusted_root.json"
    return data_dir() / "sigstore" / name


def verifier_for(path: Path) -> Verifier:
    """A sigstore Verifier over the trusted root at ``path`` (ScanError when unusable)."""
    resolved = Path(path).resolve()
    try:
        st = resolved.stat()
    except OSError:
        raise ScanError("trusted root not found", path) from None
    return _verifier(str(resolved), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4)
def _verifier(path: str, _mtime: int, _size: int) -> Verifier:
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if not Path(path).is_file():
        raise ScanError("trusted root not found", path)
    try:
        return Verifier(trusted_root=TrustedRoot.from_file(path))
    except Exception as exc:  # the library raises several types for a bad root
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScanError(f"not a usable Sigstore trusted root: {first}", path) from None
