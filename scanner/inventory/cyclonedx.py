"""Serialising an Inventory as CycloneDX 1.6: the one serializer everyone calls.

``to_cyclonedx_dict`` builds the document (components sorted, so the same input gives the same
BOM except ``serialNumber`` and ``timestamp``; ``reproducible=True`` fixes those too: the serial
number is derived from the content and the timestamp from ``SOURCE_DATE_EPOCH``, else the epoch).
``Inventory.cyclonedx_extras`` (raw members by bom-ref, such as a ``modelCard``) are merged in,
then the whole document is validated strictly against the CycloneDX 1.6 schema
(``scanner.inventory.validate``). ``to_cyclonedx_json`` / ``to_cyclonedx_xml`` return text that
has passed that validation; an invalid BOM raises ``ScanError`` (exit 2) and is never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
from typing import Any

from scanner import __version__
from scanner.core import Artifact
from scanner.errors import ScanError
from scanner.inventory.components import Component, Inventory
from scanner.text import clean_text

SPEC_VERSION = "1.6"
_HEX = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-384": 96, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128}
_REF_TYPES = {
    "website",
    "vcs",
    "issue-tracker",
    "documentation",
    "release-notes",
    "distribution",
    "other",
    "license",
    "build-meta",
}


class InvalidBomError(ScanError):
    """A BOM that does not pass the CycloneDX schema: never written."""

    def __init__(self, errors: list[str], subject: str = "SBOM") -> None:
        self.errors = errors
        super().__init__(f"{subject} fails the CycloneDX {SPEC_VERSION} schema: " + "; ".join(errors[:5]))


def to_cyclonedx_dict(
    inventory: Inventory, artifact: Artifact | None = None, *, reproducible: bool = False, validate: bool = True
) -> dict[str, Any]:
    """The BOM as a JSON-ready dict, validated unless ``validate`` is false."""
    from scanner.inventory.licenses import normalize_spdx
    from scanner.inventory.validate import spdx_ids

    ids = spdx_ids()
    seen: set[str] = set()
    # Members many components hold alike (the same licences, the same properties and source)
    # are made once and shared: the document is read, validated and written, never edited in
    # place, and a 25 MB BOM would otherwise hold tens of thousands of equal copies.
    shared: dict[Any, Any] = {}

    def once(key: Any, make: Any) -> Any:
        value = shared.get(key)
        if value is None:
            value = shared[key] = make()
        return value

    def comp(c: Component) -> dict[str, Any]:
        ref = c.bom_ref
        if ref in seen:
            raise ScanError(f"two components share the bom-ref {ref!r}")
        seen.add(ref)
        out: dict[str, Any] = {"type": c.type, "bom-ref": ref}
        if c.supplier:
            out["supplier"] = {"name": c.supplier[:200]}
        authors = [
            {k: v for k, v in p.items() if k in ("name", "email") and v}
            for p in c.contacts
            if p.get("name") or p.get("email")
        ]
        authors = [a for a in authors if "email" not in a or _EMAIL.fullmatch(a["email"])]
        if authors:
            out["authors"] = authors
        elif c.author:
            out["authors"] = [{"name": c.author[:200]}]
        out["name"] = c.name
        if c.version:
            out["version"] = c.version
        if c.description:
            out["description"] = c.description
        if c.scope:
            out["scope"] = c.scope
        hashes = [
            {"alg": alg, "content": _lower(value)}
            for alg, value in sorted(c.hashes.items())
            if alg in _HEX and re.fullmatch(f"[0-9a-fA-F]{{{_HEX[alg]}}}", value)
        ]
        if hashes:
            out["hashes"] = hashes
        if c.licenses:
            lic = once(("licenses", *c.licenses), lambda: _licenses(c.licenses, ids, normalize_spdx))
            if lic:
                out["licenses"] = lic
        if c.purl:
            out["purl"] = c.purl
        refs = [
            {"type": kind, "url": url}
            for kind, url in sorted(c.external_references.items())
            if kind in _REF_TYPES and url
        ]
        if refs:
            out["externalReferences"] = refs
        if c.properties or c.source:
            key = ("properties", c.source, *sorted(c.properties.items()))
            out["properties"] = once(key, lambda: _properties(c.properties, c.source))
        if c.children:
            out["components"] = [comp(ch) for ch in sorted(c.children, key=lambda x: x.bom_ref)]
        extra = inventory.cyclonedx_extras.get(ref)
        if extra:
            out.update(extra)
        return out

    metadata: dict[str, Any] = {
        "timestamp": "",
        "tools": {"components": [{"type": "application", "name": "scanner", "version": __version__}]},
    }
    if inventory.authors:
        metadata["authors"] = [{"name": a[:200]} for a in inventory.authors if a.strip()]
    if inventory.root is not None:
        metadata["component"] = comp(inventory.root)
    if artifact is not None:
        metadata["properties"] = [
            {"name": "scanner:artifact-kind", "value": artifact.kind.value},
            {"name": "scanner:artifact-digest", "value": artifact.digest},
        ]
    root_ref = inventory.root.bom_ref if inventory.root is not None else None
    components = [comp(c) for c in sorted(inventory.components, key=lambda x: x.bom_ref) if c.bom_ref != root_ref]
    known = seen  # every component is made: no more are added
    deps = []
    for ref in sorted(
        set(inventory.dependencies) | ({root_ref} if root_ref else set()) | {c["bom-ref"] for c in components}
    ):
        if ref not in known:
            continue
        targets = sorted({t for t in inventory.dependencies.get(ref, []) if t in known and t != ref})
        deps.append({"ref": ref, "dependsOn": targets} if targets else {"ref": ref})
    doc: dict[str, Any] = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": "",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": deps,
    }
    stamp = getattr(inventory, "timestamp", None)
    if reproducible:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "0")
        when = dt.datetime.fromtimestamp(int(epoch) if epoch.isdigit() else 0, dt.timezone.utc)
        metadata["timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        content = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        doc["serialNumber"] = f"urn:uuid:{uuid.UUID(hashlib.sha256(content).hexdigest()[:32], version=5)}"
    else:
        if isinstance(stamp, str) and stamp:
            metadata["timestamp"] = stamp
        else:
            metadata["timestamp"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc["serialNumber"] = f"urn:uuid:{uuid.uuid4()}"
    root_extra = inventory.cyclonedx_extras.get("$metadata")
    if root_extra:
        metadata.update(root_extra)
    doc = clean_text(doc)
    if validate:
        from scanner.inventory.validate import schema_errors

        errors = schema_errors(doc, SPEC_VERSION)
        if errors:
            raise InvalidBomError(errors)
    return doc


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _lower(value: str) -> str:
    """``value`` in lower case, the same string when it already is (no copy per hash)."""
    lowered = value.lower()
    return value if lowered == value else lowered


def _properties(properties: dict[str, str], source: str | None) -> list[dict[str, str]]:
    props = [{"name": k, "value": str(v)} for k, v in sorted(properties.items())]
    if source:
        props.append({"name": "scanner:source", "value": source})
    return props


def _licenses(values: list[str], ids: frozenset[str], normalize: Any) -> list[dict[str, Any]]:
    """One SPDX id → ``license.id``; a compound expression → one ``expression``; anything else
    → named licences. (The schema allows a list of licences *or* one expression, not both.)"""
    values = [v for v in values if v and v.strip()]
    if not values:
        return []
    spdx = [normalize(v) for v in values]
    if len(values) == 1 and spdx[0]:
        expr = spdx[0]
        if expr in ids:
            return [{"license": {"id": expr}}]
        return [{"expression": expr}]
    if all(spdx) and len(values) > 1:
        return [{"expression": " AND ".join(f"({e})" if " " in e else e for e in spdx)}]
    out = []
    for v, s in zip(values, spdx, strict=True):
        if s and s in ids:
            out.append({"license": {"id": s}})
        else:
            out.append({"license": {"name": v[:200]}})
    return out


def to_cyclonedx_json(inventory: Inventory, artifact: Artifact | None = None, *, reproducible: bool = False) -> str:
    """CycloneDX 1.6 JSON text, validated strictly before it is returned."""
    doc = to_cyclonedx_dict(inventory, artifact, reproducible=reproducible)
    # Compact: the C encoder is several times faster than the indenting one (pipe to jq to read).
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


def to_cyclonedx_xml(inventory: Inventory, artifact: Artifact | None = None, *, reproducible: bool = False) -> str:
    """CycloneDX 1.6 XML: the validated JSON document converted by cyclonedx-python-lib, then
    validated against the XML schema. Members the library has no classes for (``modelCard``)
    are not carried into XML."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.output.xml import XmlV1Dot6

    from scanner.inventory.validate import xml_schema_errors

    doc = to_cyclonedx_dict(inventory, artifact, reproducible=reproducible)
    try:
        bom = Bom.from_json(doc)  # type: ignore[attr-defined]
    except Exception as exc:  # the library raises many types while deserialising
        raise ScanError(f"cannot convert the BOM to XML: {type(exc).__name__}: {exc}") from None
    text = XmlV1Dot6(bom).output_as_string(indent=2)
    errors = xml_schema_errors(text)
    if errors:
        raise InvalidBomError(errors, "XML SBOM")
    return text + ("\n" if not text.endswith("\n") else "")
