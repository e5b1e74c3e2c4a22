"""Licences that are right, not just SPDX-shaped.

Order of evidence for an installed distribution (first that gives an answer wins; the
component's ``scanner:license-source`` property says which):

1. ``License-Expression`` (PEP 639), normalised with the license-expression library.
2. Trove classifiers, where every licence classifier names one licence and version exactly
   (``GNU Lesser General Public License v2 or later (LGPLv2+)`` → ``LGPL-2.0-or-later``);
   several licence classifiers mean a choice (``OR``). A vague classifier (``BSD License``)
   gives no SPDX id: no version is invented.
3. ``License`` (free text) when the whole field parses as an SPDX expression of known ids, is
   one of a few unambiguous spellings (``Apache 2.0``), or names AGPL or SSPL the usual ways
   (``AGPLv3+``, ``GNU Affero GPL``, ``Server Side Public License``).
4. The licence files (``.dist-info/licenses/`` and ``License-File``), identified by the wording
   of the licence itself. A file that says the work is available under *either* licence makes
   the result an ``OR``; otherwise several licences found are all in force (``AND``).

Whatever cannot be identified stays a *named* licence of at most one short line, never a
whole licence text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NAME_LIMIT = 80

# Unambiguous spellings seen in ``License`` fields that are not SPDX ids.
_ALIASES = {
    "apache 2.0": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "apache software license, version 2.0": "Apache-2.0",
    "asl 2.0": "Apache-2.0",
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit-license": "MIT",
    "expat": "MIT",
    "isc license": "ISC",
    "new bsd license": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd license": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "psf": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "lgplv3+": "LGPL-3.0-or-later",
    "lgplv2+": "LGPL-2.0-or-later",
    "gplv3+": "GPL-3.0-or-later",
    "gplv2+": "GPL-2.0-or-later",
    "public domain": "LicenseRef-scanner-public-domain",
}

# Classifier (after "License :: ") → SPDX id. Only classifiers that name one licence and its
# version exactly; everything else stays a named licence.
_CLASSIFIERS = {
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: Apache Software License": None,  # no version in the classifier
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "Other/Proprietary License :: Server Side Public License (SSPL)": "SSPL-1.0",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}


@dataclass(frozen=True)
class LicenseResult:
    """``value`` is an SPDX expression when ``spdx`` is true, else a short licence name;
    ``source`` says where it came from (License-Expression, License, license-file, classifier)."""

    value: str
    spdx: bool
    source: str


@functools.lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@functools.lru_cache(maxsize=4096)
def normalize_spdx(expression: str) -> str | None:
    """The canonical form of an SPDX expression of known ids (``LicenseRef-`` allowed), or None."""
    text = expression.strip()
    if not text or len(text) > 500 or "\n" in text:
        return None
    try:
        info = _licensing().validate(text)
    except Exception:  # the library raises several unrelated types on odd input
        return None
    if info.errors or info.invalid_symbols or not info.normalized_expression:
        unknown = set(info.invalid_symbols or ())
        if unknown and all(s.startswith(("LicenseRef-", "DocumentRef-")) for s in unknown) and not info.errors:
            return str(info.normalized_expression or text)
        return None
    return str(info.normalized_expression)


def short_name(text: str) -> str:
    """A one-line name for unidentified licence text: its first non-empty line, cut short."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= NAME_LIMIT else line[: NAME_LIMIT - 1].rstrip() + "…"
    return "unknown"


def from_field(value: str) -> str | None:
    """An SPDX expression for a ``License`` field value, if it clearly is one."""
    text = value.strip()
    if not text or "\n" in text.strip() or len(text) > 200:
        return None
    alias = _ALIASES.get(text.lower().rstrip("."))
    if alias:
        return alias
    return normalize_spdx(text) or copyleft_name(text)


# The network copyleft licences a deny list is written for, as people spell them in free text
# (``AGPLv3+``, ``GNU AGPL v3``, ``Affero GPL``, ``SSPL``, ``Server Side Public License v1``).
_AGPL = re.compile(r"\b(?:gnu\s*)?(?:agpl(?=v?\d|\b)|affero\b)", re.I)
_SSPL = re.compile(r"\b(?:sspl|server[\s-]+side\s+public\s+licen[cs]e)\b", re.I)
_VERSION = re.compile(r"v(?:ersion)?\s*\.?\s*([123])(?:\.0)?\b|[-\s]([123])\.0\b|\bagplv?([123])\b", re.I)
_LATER = re.compile(r"\+|or\s+later|or\s+any\s+later|-or-later", re.I)


def copyleft_name(text: str) -> str | None:
    """AGPL or SSPL named in free text, as an SPDX id (an unversioned AGPL is read as version 3
    or later, the only version in use; deny lists name every AGPL id)."""
    if _SSPL.search(text):
        return "SSPL-1.0"
    if not _AGPL.search(text):
        return None
    m = _VERSION.search(text)
    version = next((g for g in (m.groups() if m else ()) if g), None)
    if version == "1":
        return "AGPL-1.0-or-later" if _LATER.search(text) else "AGPL-1.0-only"
    if version is None:
        return "AGPL-3.0-or-later"
    return "AGPL-3.0-or-later" if _LATER.search(text) else "AGPL-3.0-only"


def from_classifiers(classifiers: Iterable[str]) -> LicenseResult | None:
    ids: list[str] = []
    names: list[str] = []
    for classifier in classifiers:
        if not classifier.startswith("License :: "):
            continue
        key = classifier[len("License :: ") :].strip()
        spdx = _CLASSIFIERS.get(key)
        if spdx:
            ids.append(spdx)
        else:
            names.append(key.split(" :: ")[-1])
    if not ids and not names:
        return None
    if ids and not names:
        # Several licence classifiers on one package mean "choose one": the usual way to
        # declare a dual licence before PEP 639.
        uniq = sorted(set(ids))
        expr = " OR ".join(uniq) if len(uniq) > 1 else uniq[0]
        return LicenseResult(normalize_spdx(expr) or expr, True, "classifier")
    return LicenseResult(" / ".join(sorted(set(names + ids))), False, "classifier")


# --- licence text identification -------------------------------------------------------------

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text.replace("*", " ").replace("#", " ")).lower()


_GNU_TITLES = (
    ("gnu affero general public license", "AGPL"),
    ("gnu lesser general public license", "LGPL"),
    ("gnu library general public license", "LGPL"),
    ("gnu general public license", "GPL"),
)
_GNU_VERSIONS = (
    ("version 3, 29 june 2007", "3.0"),
    ("version 2.1, february 1999", "2.1"),
    ("version 2, june 1991", "2.0"),
)
_GPL_NOTICE_LATER = re.compile(r"either version ([23](?:\.[01])?) of the license, or \(at your option\) any later")
_EITHER = re.compile(
    r"(dual[- ]licen[cs]ed|either of the licen[cs]es|under the terms of either|licensed under either"
    r"|at your (?:option|choice)[,.]? (?:under|either))"
)


def identify_text(text: str) -> list[str]:
    """SPDX ids of the licences whose wording appears in ``text`` (in order of appearance)."""
    t = _norm(text[:200_000])
    found: list[tuple[int, str]] = []

    def add(pos: int, spdx: str) -> None:
        if pos >= 0 and all(spdx != s for _, s in found):
            found.append((pos, spdx))

    add(t.find("apache license version 2.0"), "Apache-2.0")
    add(t.find("apache license, version 2.0"), "Apache-2.0")
    if "permission is hereby granted, free of charge, to any person obtaining a copy" in t:
        add(t.find("permission is hereby granted, free of charge"), "MIT")
    pos = t.find("redistribution and use in source and binary forms")
    if pos >= 0:
        tail = t[pos : pos + 2500]
        three = "neither the name" in tail or "may be used to endorse or promote" in tail
        add(pos, "BSD-3-Clause" if three else "BSD-2-Clause")
    pos = t.find("permission to use, copy, modify, and/or distribute this software for any purpose")
    if pos < 0:
        pos = t.find("permission to use, copy, modify, and distribute this software for any purpose")
    if pos >= 0:
        tail = t[pos : pos + 600]
        add(pos, "ISC" if "provided that the above copyright notice" in tail else "0BSD")
    add(t.find("mozilla public license version 2.0"), "MPL-2.0")
    add(t.find("mozilla public license, v. 2.0"), "MPL-2.0")
    add(t.find("python software foundation license version 2"), "PSF-2.0")
    add(t.find("this is free and unencumbered software released into the public domain"), "Unlicense")
    add(t.find("boost software license - version 1.0"), "BSL-1.0")
    add(t.find("cc0 1.0 universal"), "CC0-1.0")
    add(t.find("eclipse public license - v 2.0"), "EPL-2.0")
    if "altered source versions must be plainly marked" in t and "provided 'as-is'" in t:
        add(t.find("provided 'as-is'"), "Zlib")
    for title, family in _GNU_TITLES:
        # The licence's own title is the occurrence followed by its version line; earlier
        # mentions are the project's notice.
        pos = t.find(title)
        version = None
        while pos >= 0 and version is None:
            window = t[pos + len(title) : pos + len(title) + 80]
            version = next((v for marker, v in _GNU_VERSIONS if marker in window), None)
            if version is None:
                pos = t.find(title, pos + 1)
        if version is None:
            continue
        # A notice *before* the licence text decides between -only and -or-later; the
        # licence's own "How to apply" appendix always contains the or-later wording.
        later = _GPL_NOTICE_LATER.search(t[:pos])
        add(pos, f"{family}-{version}-{'or-later' if later else 'only'}")
    return [s for _, s in sorted(found)]


def says_either(text: str) -> bool:
    return bool(_EITHER.search(_norm(text[:20_000])))


def from_files(texts: Iterable[tuple[str, str]]) -> LicenseResult | None:
    """Identify licences from (file name, text) pairs."""
    ids: list[str] = []
    either = False
    unnamed: list[str] = []
    for name, text in texts:
        found = identify_text(text)
        either = either or says_either(text)
        for spdx in found:
            if spdx not in ids:
                ids.append(spdx)
        if not found and not _is_notice(name, text):
            unnamed.append(name)
    if not ids:
        return None
    op = " OR " if either and len(ids) > 1 else " AND "
    expr = op.join(ids)
    return LicenseResult(normalize_spdx(expr) or expr, True, "license-file")


def _is_notice(name: str, text: str) -> bool:
    """AUTHORS, NOTICE and similar files carry no licence of their own."""
    lowered = name.lower()
    return any(w in lowered for w in ("author", "notice", "contributor", "copying.")) or len(text) < 40


def resolve(
    *,
    expression: str | None,
    license_field: str | None,
    license_texts: Iterable[tuple[str, str]],
    classifiers: Iterable[str],
) -> LicenseResult | None:
    """The licence of a distribution from its core metadata and licence files (see module doc)."""
    if expression and expression.strip():
        norm = normalize_spdx(expression)
        if norm:
            return LicenseResult(norm, True, "License-Expression")
        return LicenseResult(short_name(expression), False, "License-Expression")
    # Licence classifiers come before the free-text field: they are from a closed list, and
    # several of them mean the author offers a choice (OR).
    from_cls = from_classifiers(classifiers)
    if from_cls and from_cls.spdx:
        return from_cls
    if license_field and license_field.strip():
        spdx = from_field(license_field)
        if spdx:
            return LicenseResult(spdx, True, "License")
        # A whole licence text pasted into the field is identified like a file.
        if len(license_field) > 200:
            found = from_files([("License", license_field)])
            if found:
                return LicenseResult(found.value, True, "License")
    from_text = from_files(license_texts)
    if from_text:
        return from_text
    if license_field and license_field.strip() and license_field.strip().upper() not in ("UNKNOWN", "NONE"):
        return LicenseResult(short_name(license_field), False, "License")
    return from_cls
