"""Existing CycloneDX BOMs (JSON or XML): validate against their own spec version, read the
components (nested ones stay nested), licences, hashes and the dependency graph, and merge
several inventories into one."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.core import Finding, ScanError, Severity
from scanner.inventory.components import Component, Inventory

BOM_LIMIT = 256 << 20
NESTING_LIMIT = 64


def inventory_sbom(path: Path, *, show: Callable[[Path], str] = str) -> Inventory:
    """The inventory a CycloneDX BOM (JSON or XML) lists. ``show`` names the file in outputs
    (``Artifact.show``: piped content is ``stdin``)."""
    try:
        size = path.stat().st_size
        if size > BOM_LIMIT:
            raise ScanError("BOM larger than 256 MiB", path)
        raw = path.read_bytes()
    except OSError as exc:
        raise ScanError(f"cannot read BOM: {exc.strerror or exc}", path) from None
    if raw.lstrip()[:1] == b"<":
        doc, errors = _from_xml(raw, path)
    else:
        try:
            # decoded as json.loads would, then parsed with the bytes released: the bytes, the
            # text and the parsed document are never all held at once
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
            del raw
            doc = jsonfile.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ScanError(f"not a JSON document: {exc}", path) from None
        del text
        if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
            raise ScanError("not a CycloneDX JSON BOM (bomFormat is not CycloneDX)", path)
        errors = _json_errors(doc, path)
    inv = _to_inventory(doc, path, show(path))
    if errors:
        inv.findings.append(
            Finding(
                id="SBOM-SCHEMA-INVALID",
                check="sbom",
                severity=Severity.HIGH,
                subject=show(path),
                message=f"the BOM fails the CycloneDX {doc.get('specVersion', '?')} schema: {errors[0]}",
                evidence={"file": show(path), "errors": errors, "count": len(errors)},
                fix="regenerate the BOM with a conforming tool (scanner sbom)",
            )
        )
    return inv


def _json_errors(doc: dict[str, Any], path: Path) -> list[str]:
    from scanner.inventory.validate import SPEC_VERSIONS, schema_errors

    version = str(doc.get("specVersion") or "")
    if version not in SPEC_VERSIONS:
        return [f"specVersion {version!r} is not one of {', '.join(SPEC_VERSIONS)}"]
    try:
        return schema_errors(doc, version)
    except RecursionError:
        raise ScanError("BOM nested too deeply to validate", path) from None


def _from_xml(raw: bytes, path: Path) -> tuple[dict[str, Any], list[str]]:
    """XML → validated against the XSD by the library, then read into the JSON shape."""
    import re

    from scanner.inventory.validate import xml_schema_errors

    head = raw[:4096].decode("utf-8", errors="replace")
    if "<!DOCTYPE" in raw[:65536].decode("utf-8", errors="replace").upper():
        raise ScanError("XML BOM with a DOCTYPE (entity declarations are refused)", path)
    m = re.search(r"cyclonedx\.org/schema/bom/(\d\.\d)", head)
    if not m:
        raise ScanError("not a CycloneDX XML BOM (no CycloneDX namespace)", path)
    version = m.group(1)
    text = raw.decode("utf-8", errors="replace")
    errors = xml_schema_errors(text, version) if version in ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7") else []
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ScanError(f"malformed XML BOM: {exc}", path) from None
    ns = {"c": f"http://cyclonedx.org/schema/bom/{version}"}

    def text_of(el: ET.Element, tag: str) -> str | None:
        found = el.find(f"c:{tag}", ns)
        return found.text.strip() if found is not None and found.text else None

    def comp(el: ET.Element, depth: int = 0) -> dict[str, Any]:
        if depth > NESTING_LIMIT:
            raise ScanError("BOM components nested too deeply", path)
        out: dict[str, Any] = {"type": el.get("type") or "library", "bom-ref": el.get("bom-ref")}
        for tag in ("name", "version", "purl", "description", "scope"):
            value = text_of(el, tag)
            if value:
                out[tag] = value
        supplier = el.find("c:supplier", ns)
        if supplier is not None and text_of(supplier, "name"):
            out["supplier"] = {"name": text_of(supplier, "name")}
        out["hashes"] = [
            {"alg": h.get("alg"), "content": (h.text or "").strip()} for h in el.findall("c:hashes/c:hash", ns)
        ]
        lics: list[dict[str, Any]] = []
        for lic in el.findall("c:licenses/c:license", ns):
            lid, lname = text_of(lic, "id"), text_of(lic, "name")
            if lid or lname:
                lics.append({"license": {"id": lid} if lid else {"name": lname}})
        expr = el.find("c:licenses/c:expression", ns)
        if expr is not None and expr.text:
            lics.append({"expression": expr.text.strip()})
        out["licenses"] = lics
        out["externalReferences"] = [
            {"type": r.get("type"), "url": text_of(r, "url")}
            for r in el.findall("c:externalReferences/c:reference", ns)
        ]
        out["components"] = [comp(ch, depth + 1) for ch in el.findall("c:components/c:component", ns)]
        return out

    doc: dict[str, Any] = {"specVersion": version, "metadata": {}}
    meta_comp = root.find("c:metadata/c:component", ns)
    if meta_comp is not None:
        doc["metadata"]["component"] = comp(meta_comp)
    timestamp = root.find("c:metadata/c:timestamp", ns)
    if timestamp is not None and timestamp.text:
        doc["metadata"]["timestamp"] = timestamp.text.strip()
    doc["metadata"]["authors"] = [
        {"name": text_of(a, "name"), "email": text_of(a, "email")}
        for a in root.findall("c:metadata/c:authors/c:author", ns)
    ]
    doc["metadata"]["tools"] = [
        {"name": text_of(t, "name"), "version": text_of(t, "version")}
        for t in [
            *root.findall("c:metadata/c:tools/c:tool", ns),
            *root.findall("c:metadata/c:tools/c:components/c:component", ns),
        ]
    ]
    doc["components"] = [comp(el) for el in root.findall("c:components/c:component", ns)]
    doc["dependencies"] = [
        {"ref": d.get("ref"), "dependsOn": [x.get("ref") for x in d.findall("c:dependency", ns)]}
        for d in root.findall("c:dependencies/c:dependency", ns)
    ]
    return doc, errors


def _to_inventory(doc: dict[str, Any], path: Path, source: str) -> Inventory:
    """The Inventory of a parsed BOM. Consumes ``doc``'s component list: each parsed component
    is released as soon as it was read, so the parsed document and the Inventory built from it
    are never both whole in memory. ``source``: the file as outputs name it."""
    inv = Inventory()
    counter = [0]

    def comp(item: Any, depth: int = 0) -> Component | None:
        if depth > NESTING_LIMIT:
            raise ScanError("BOM components nested too deeply", path)
        if not isinstance(item, dict) or not item.get("name"):
            return None
        counter[0] += 1
        ref = str(item.get("bom-ref") or f"ingested:{counter[0]}:{item.get('name')}")
        licenses: list[str] = []
        for entry in item.get("licenses") or []:
            if not isinstance(entry, dict):
                continue
            if entry.get("expression"):
                licenses.append(_short(str(entry["expression"])))
            lic = entry.get("license")
            if isinstance(lic, dict) and (lic.get("id") or lic.get("name")):
                licenses.append(_short(str(lic.get("id") or lic.get("name"))[:200]))
        c = Component(
            bom_ref=ref,
            name=str(item["name"]),
            version=_short(str(item["version"])) if item.get("version") else None,
            type=_short(str(item.get("type") or "library")),
            purl=str(item["purl"]) if item.get("purl") else None,
            licenses=licenses,
            hashes={
                _short(str(h["alg"])): str(h["content"])
                for h in item.get("hashes") or []
                if isinstance(h, dict) and h.get("alg") and h.get("content")
            },
            scope=str(item["scope"]) if item.get("scope") else None,
            description=str(item["description"])[:500] if item.get("description") else None,
            source=source,
        )
        supplier = item.get("supplier")
        if isinstance(supplier, dict) and supplier.get("name"):
            c.supplier = str(supplier["name"])
        authors = item.get("authors")
        if isinstance(authors, list):
            c.contacts = [
                {k: str(v) for k, v in a.items() if k in ("name", "email")} for a in authors if isinstance(a, dict)
            ]
        if c.contacts:
            c.author = ", ".join(p.get("name") or p.get("email", "") for p in c.contacts)
        elif item.get("author"):
            c.author = str(item["author"])
        for ref_item in item.get("externalReferences") or []:
            if isinstance(ref_item, dict) and ref_item.get("type") and ref_item.get("url"):
                c.external_references.setdefault(str(ref_item["type"]), str(ref_item["url"]))
        for prop in item.get("properties") or []:
            if isinstance(prop, dict) and prop.get("name") and prop.get("name") != "scanner:source":
                c.properties[str(prop["name"])] = str(prop.get("value", ""))
        c.children = [ch for ch in (comp(x, depth + 1) for x in item.get("components") or []) if ch]
        return c

    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    if meta.get("component"):
        inv.root = comp(meta["component"])
    inv.authors = sbom_authors(meta)
    if isinstance(meta.get("timestamp"), str) and meta["timestamp"].strip():
        inv.timestamp = meta["timestamp"].strip()[:64]
    items = doc.pop("components", None)
    if isinstance(items, list):
        for i in range(len(items)):
            item, items[i] = items[i], None
            c = comp(item)
            if c is not None:
                inv.components.append(c)
    del items
    for dep in doc.get("dependencies") or []:
        if isinstance(dep, dict) and dep.get("ref"):
            inv.dependencies[str(dep["ref"])] = [str(d) for d in dep.get("dependsOn") or [] if d]
    return inv


def _short(value: str) -> str:
    """Values many components repeat (type, version, hash algorithm, licence) held once: the
    parser makes a new string for every occurrence."""
    return sys.intern(value) if len(value) <= 64 else value


def sbom_authors(meta: dict[str, Any]) -> list[str]:
    """Who made the SBOM data, from CycloneDX ``metadata``: its ``authors`` (people or
    organisations), else the tools that wrote it (``tools`` as the 1.4 list or the 1.5+
    ``{components, services}`` object) — NTIA accepts a tool as the author of SBOM data, and
    syft, trivy and cdxgen name only themselves."""
    people = [
        str(a.get("name") or a.get("email")).strip()[:200]
        for a in meta.get("authors") or []
        if isinstance(a, dict) and str(a.get("name") or a.get("email") or "").strip()
    ]
    if people:
        return people
    tools = meta.get("tools")
    if isinstance(tools, dict):
        tools = [*(tools.get("components") or []), *(tools.get("services") or [])]
    out = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and str(tool.get("name") or "").strip():
            label = " ".join(str(tool[k]).strip() for k in ("name", "version") if tool.get(k))
            out.append(f"{label[:200]} (tool)")
    return out


def merge(base: Inventory, other: Inventory) -> Inventory:
    """``other`` merged into ``base``: components matched by purl (else bom-ref) are combined,
    new ones added, dependency edges unioned. ``base`` keeps its root."""
    key_of = {(c.purl or c.bom_ref): c for c in base.components}
    rename: dict[str, str] = {}
    for c in other.components:
        key = c.purl or c.bom_ref
        existing = key_of.get(key)
        if existing is None:
            base.components.append(c)
            key_of[key] = c
            continue
        rename[c.bom_ref] = existing.bom_ref
        existing.licenses = existing.licenses or c.licenses
        for alg, value in c.hashes.items():
            existing.hashes.setdefault(alg, value)
        existing.supplier = existing.supplier or c.supplier
        existing.author = existing.author or c.author
        existing.description = existing.description or c.description
        for k, v in c.external_references.items():
            existing.external_references.setdefault(k, v)
        if "scanner:manifest" in c.properties:  # every manifest that lists it (scanner.inventory.manifests)
            names = set(filter(None, existing.properties.get("scanner:manifest", "").split(",")))
            names.update(filter(None, c.properties["scanner:manifest"].split(",")))
            existing.properties["scanner:manifest"] = ",".join(sorted(names))
        known = {ch.purl or ch.bom_ref for ch in existing.children}
        existing.children += [ch for ch in c.children if (ch.purl or ch.bom_ref) not in known]
    if other.root is not None and base.root is not None:
        rename[other.root.bom_ref] = base.root.bom_ref
    for ref, deps in other.dependencies.items():
        ref = rename.get(ref, ref)
        merged = set(base.dependencies.get(ref, [])) | {rename.get(d, d) for d in deps}
        base.dependencies[ref] = sorted(merged)
    base.findings.extend(other.findings)
    return base
