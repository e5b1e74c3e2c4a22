"""``scanner db update``: download an osv.dev ecosystem dump and import it.

The only network access in the audit area, and only on this explicit command. The URL is
configurable (``--url``, ``SCANNER_OSV_URL``, config key ``osv-url``) so mirrors work; the zip is
read in memory with a size bound, never written out or extracted.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from scanner.errors import ScanError
from scanner.vulns.db import DbInfo, import_records

DEFAULT_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
MAX_DOWNLOAD_BYTES = 1 << 30


def download(url: str, timeout: float = 60.0, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    if not url.startswith(("https://", "http://", "file://")):
        raise ScanError(f"unsupported URL scheme (expected https://, http:// or file://): {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "scanner-db-update"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked above
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise ScanError(f"download failed: HTTP {exc.code} {exc.reason} from {url}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ScanError(
            f"cannot download the vulnerability database from {url}: {reason}. Offline? "
            "Give a reachable mirror with --url (or SCANNER_OSV_URL), or import a local dump with "
            "`scanner db import`"
        ) from None
    if len(data) > limit:
        raise ScanError(f"download larger than {limit} bytes: {url}")
    return data


def update(url: str, target: Path, timeout: float = 60.0) -> DbInfo:
    from scanner.vulns.sources import read_zip

    data = download(url, timeout)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ScanError(f"the download is not a zip file ({len(data)} bytes): {url}") from None
    with zf:
        return import_records(read_zip(zf, url), target, source=url, source_sha256=hashlib.sha256(data).hexdigest())
