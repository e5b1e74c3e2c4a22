"""Components hidden inside a distribution: PEP 770 embedded SBOMs (``.dist-info/sboms/``) and
vendored packages (``pkg/_vendor/vendor.txt`` and ``_vendor/*.dist-info``). They are nested under
the distribution that carries them, never reported as installed on their own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from scanner import jsonfile
from scanner.core import Finding, Severity
from scanner.inventory.components import Component

EMBEDDED_LIMIT = 16 << 20
_VENDOR_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def embedded_sboms(dist_info: Path, parent: Component) -> tuple[list[Component], list[Finding]]:
    """Children from every ``sboms/*.json`` file (CycloneDX or SPDX JSON)."""
    folder = dist_info / "sboms"
    if not folder.is_dir() or folder.is_symlink():
        return [], []
    children: dict[str, Component] = {}
    findings: list[Finding] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            if path.stat().st_size > EMBEDDED_LIMIT:
                raise ValueError("larger than 16 MiB")
            doc = jsonfile.loads(path.read_bytes())
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            if doc.get("bomFormat") == "CycloneDX":
                found = _from_cyclonedx(doc, parent, path.name)
            elif "spdxVersion" in doc:
                found = _from_spdx(doc, parent, path.name)
            else:
                raise ValueError("neither CycloneDX nor SPDX JSON")
        except (OSError, ValueError, RecursionError, TypeError, AttributeError) as exc:
            findings.append(
                Finding(
                    id="SBOM-EMBEDDED-UNREADABLE",
                    check="sbom",
                    severity=Severity.MEDIUM,
                    subject=str(path),
                    message=f"embedded SBOM of {parent.name} cannot be read: {exc}",
                    evidence={"file": str(path), "component": parent.bom_ref},
                    fix="reinstall the distribution from a trusted source",
                )
            )
            continue
        for child in found:
            key = child.purl or f"{child.name}@{child.version}"
            children.setdefault(key, child)
    return sorted(children.values(), key=lambda c: c.bom_ref), findings


def _is_self(name: str, purl: str | None, parent: Component) -> bool:
    if purl and purl.startswith("pkg:pypi/"):
        return canonicalize_name(purl[9:].split("@")[0].split("?")[0]) == canonicalize_name(parent.name)
    return False


def _from_cyclonedx(doc: dict[str, Any], parent: Component, file_name: str) -> list[Component]:
    out: list[Component] = []
    stack: list[Any] = list(doc.get("components") or [])
    seen = 0
    while stack:
        item = stack.pop(0)
        seen += 1
        if seen > 100_000 or not isinstance(item, dict):
            break
        stack.extend(item.get("components") or [])
        name = str(item.get("name") or "")
        version = str(item["version"]) if item.get("version") is not None else None
        purl = str(item["purl"]) if item.get("purl") else None
        if not name or _is_self(name, purl, parent):
            continue
        licenses: list[str] = []
        for entry in item.get("licenses") or []:
            if not isinstance(entry, dict):
                continue
            if entry.get("expression"):
                licenses.append(str(entry["expression"]))
            lic = entry.get("license") or {}
            if isinstance(lic, dict) and (lic.get("id") or lic.get("name")):
                licenses.append(str(lic.get("id") or lic.get("name"))[:80])
        hashes = {
            str(h.get("alg")): str(h.get("content"))
            for h in item.get("hashes") or []
            if isinstance(h, dict) and h.get("alg") and h.get("content")
        }
        out.append(
            Component(
                bom_ref=f"{parent.bom_ref}#embedded:{purl or name + '@' + str(version)}",
                name=name,
                version=version,
                type=str(item.get("type") or "library"),
                purl=purl,
                licenses=licenses[:1] if len(licenses) == 1 else [" AND ".join(licenses)] if licenses else [],
                hashes={k: v for k, v in hashes.items() if k in _CDX_ALGS},
                description=str(item["description"])[:500] if item.get("description") else None,
                properties={"scanner:embedded-in": parent.bom_ref, "scanner:embedded-sbom": file_name},
            )
        )
    return out


_CDX_ALGS = {"MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512", "BLAKE2b-256"}


def _from_spdx(doc: dict[str, Any], parent: Component, file_name: str) -> list[Component]:
    out: list[Component] = []
    for pkg in (doc.get("packages") or [])[:100_000]:
        if not isinstance(pkg, dict) or not pkg.get("name"):
            continue
        purl = next(
            (
                str(r.get("referenceLocator"))
                for r in pkg.get("externalRefs") or []
                if isinstance(r, dict) and r.get("referenceType") == "purl"
            ),
            None,
        )
        name = str(pkg["name"])
        if _is_self(name, purl, parent):
            continue
        lic = pkg.get("licenseConcluded") or pkg.get("licenseDeclared")
        version = str(pkg["versionInfo"]) if pkg.get("versionInfo") else None
        out.append(
            Component(
                bom_ref=f"{parent.bom_ref}#embedded:{purl or name + '@' + str(version)}",
                name=name,
                version=version,
                purl=purl,
                licenses=[str(lic)] if lic and lic not in ("NOASSERTION", "NONE") else [],
                properties={"scanner:embedded-in": parent.bom_ref, "scanner:embedded-sbom": file_name},
            )
        )
    return out


def vendored(site: Path, record_paths: list[str], parent: Component) -> list[Component]:
    """Packages vendored inside a distribution, from ``_vendor/vendor.txt`` and from
    ``_vendor/<name>.dist-info/METADATA`` files listed in its RECORD."""
    from scanner.inventory.metadata import MetadataError, parse_metadata

    found: dict[str, Component] = {}
    for rel in record_paths:
        if "/_vendor/" not in rel or ".." in rel.split("/"):
            continue
        path = site / rel
        if rel.endswith(".dist-info/METADATA") and rel.count("/") >= 3:
            try:
                meta = parse_metadata(path)
            except MetadataError:
                continue
            child = _vendored_component(parent, meta.canonical_name, meta.version, rel)
            child.description = meta.summary
            from scanner.inventory.licenses import resolve

            lic = resolve(
                expression=meta.license_expression,
                license_field=meta.license,
                license_texts=[],
                classifiers=meta.classifiers,
            )
            if lic:
                child.licenses = [lic.value]
            found[meta.canonical_name] = child
        elif rel.endswith("/_vendor/vendor.txt"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:100_000]
            except OSError:
                continue
            for line in text.splitlines():
                m = _VENDOR_LINE.match(line)
                if m:
                    name = canonicalize_name(m.group(1))
                    found.setdefault(name, _vendored_component(parent, name, m.group(2), rel))
    return sorted(found.values(), key=lambda c: c.bom_ref)


def _vendored_component(parent: Component, name: str, version: str, rel: str) -> Component:
    purl = f"pkg:pypi/{name}@{version}"
    return Component(
        bom_ref=f"{parent.bom_ref}#vendored:{purl}",
        name=name,
        version=version,
        purl=purl,
        properties={"scanner:vendored-by": parent.bom_ref, "scanner:vendored-record": rel},
    )
