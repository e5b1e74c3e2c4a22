"""Core metadata (METADATA / PKG-INFO) read as data: headers only, bounded, never imported."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

HEADER_LIMIT = 2 << 20  # headers above 2 MiB are not metadata any more

# Project-URL labels (normalised: lower case, letters only) → CycloneDX external reference type.
URL_TYPES = {
    "homepage": "website",
    "home": "website",
    "website": "website",
    "source": "vcs",
    "sourcecode": "vcs",
    "code": "vcs",
    "repository": "vcs",
    "repo": "vcs",
    "github": "vcs",
    "gitlab": "vcs",
    "issues": "issue-tracker",
    "issuetracker": "issue-tracker",
    "bugtracker": "issue-tracker",
    "bugs": "issue-tracker",
    "tracker": "issue-tracker",
    "bugreports": "issue-tracker",
    "documentation": "documentation",
    "docs": "documentation",
    "changelog": "release-notes",
    "changes": "release-notes",
    "releasenotes": "release-notes",
    "history": "release-notes",
    "download": "distribution",
    "funding": "other",
    "sponsor": "other",
}


class MetadataError(ValueError):
    """The metadata file cannot be read as core metadata."""


@dataclass
class CoreMetadata:
    name: str
    version: str
    summary: str | None = None
    license: str | None = None
    license_expression: str | None = None
    license_files: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    requires_dist: list[str] = field(default_factory=list)
    provides_extra: list[str] = field(default_factory=list)
    authors: list[dict[str, str]] = field(default_factory=list)
    maintainers: list[dict[str, str]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def canonical_name(self) -> str:
        return canonicalize_name(self.name)


def read_headers(path: Path) -> list[tuple[str, str]]:
    """(field, value) pairs of an RFC 822 style header block, continuation lines joined."""
    from scanner.errors import ScanError
    from scanner.safeio import open_regular

    try:
        with open_regular(path) as fh:  # a link to a device or a FIFO is never read
            raw = fh.read(HEADER_LIMIT + 1)
    except ScanError as exc:
        raise MetadataError(f"unreadable: {exc.message}") from None
    except OSError as exc:
        raise MetadataError(f"unreadable: {exc.strerror or exc}") from None
    end = raw.find(b"\n\n")
    if end < 0 and b"\r\n\r\n" in raw:
        end = raw.find(b"\r\n\r\n")
    if end < 0:
        if len(raw) > HEADER_LIMIT:
            raise MetadataError("header block larger than 2 MiB")
        end = len(raw)
    try:
        text = raw[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise MetadataError("not UTF-8") from None
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and out:
            key, value = out[-1]
            out[-1] = (key, value + "\n" + line.strip())
            continue
        key, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9-]+", key):
            raise MetadataError(f"malformed header line {line[:60]!r}")
        out.append((key.strip(), value.strip()))
    return out


def parse_metadata(path: Path) -> CoreMetadata:
    headers = read_headers(path)
    values: dict[str, list[str]] = {}
    for key, value in headers:
        values.setdefault(key.lower(), []).append(value)

    def one(key: str) -> str | None:
        v = values.get(key)
        return v[0] if v else None

    name, version = one("name"), one("version")
    if not name or not version:
        raise MetadataError("no Name or Version field")
    meta = CoreMetadata(
        name=name,
        version=version,
        summary=one("summary") or None,
        license=one("license") or None,
        license_expression=one("license-expression") or None,
        license_files=values.get("license-file", []),
        classifiers=values.get("classifier", []),
        requires_dist=values.get("requires-dist", []),
        provides_extra=values.get("provides-extra", []),
        authors=_people(one("author"), one("author-email")),
        maintainers=_people(one("maintainer"), one("maintainer-email")),
    )
    home = one("home-page")
    if home and is_url(home):
        meta.urls["website"] = home
    download = one("download-url")
    if download and is_url(download):
        meta.urls.setdefault("distribution", download)
    for entry in values.get("project-url", []):
        label, _, url = entry.partition(",")
        url = url.strip()
        kind = URL_TYPES.get(re.sub(r"[^a-z]", "", label.lower()))
        if kind and is_url(url):
            meta.urls.setdefault(kind, url)
    return meta


def is_url(text: str) -> bool:
    return text.startswith(("https://", "http://")) and " " not in text and len(text) < 2000


def _people(names: str | None, emails: str | None) -> list[dict[str, str]]:
    """Author/Maintainer and their -email fields as contacts (``Name <a@b>, Other <c@d>``)."""
    people: list[dict[str, str]] = []
    if emails:
        for display, addr in email.utils.getaddresses([emails.replace("\n", " ")]):
            if not addr or "@" not in addr:
                continue
            person = {"email": addr}
            if display:
                person["name"] = display
            people.append(person)
    if names and names.strip() and names.strip().upper() != "UNKNOWN":
        text = " ".join(names.split())
        if not any(p.get("name") for p in people):
            if people and len(people) == 1:
                people[0]["name"] = text
            else:
                people.insert(0, {"name": text})
    return people
