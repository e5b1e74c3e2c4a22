"""An installed environment: the current interpreter, a venv, or a site-packages directory.

Each distribution is read from its ``.dist-info`` files (METADATA, RECORD, direct_url.json,
INSTALLER, REQUESTED, licence files, embedded SBOMs); nothing installed is imported or run.
Every file RECORD lists is hashed (SHA-256) and compared with RECORD's own digest: the
component's SHA-256 is a digest over the sorted ``path\\0sha256\\n`` lines of its files, and the
RECORD file's digest is kept as a property.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from scanner import jsonfile
from scanner.core import Finding, ScanError, Severity
from scanner.files import FileSet, leaves, sha256_file
from scanner.inventory import embedded, licenses
from scanner.inventory.components import Component, Inventory
from scanner.inventory.markers import Node, TargetEnv, parse_requirements, resolve_edges
from scanner.inventory.metadata import MetadataError, parse_metadata

RECORD_LIMIT = 64 << 20
LICENSE_TEXT_LIMIT = 1 << 20
FILE_CAP = 20  # evidence lists are capped


def site_packages_of(path: Path | None) -> tuple[list[Path], Path]:
    """The site-packages directories of an environment and the root files may live under.
    ``None`` is the interpreter running the scanner."""
    if path is None:
        dirs = {Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["platlib"])}
        return _dedupe([d for d in dirs if d.is_dir()]), Path(sys.prefix)
    if any(p.name.endswith(".dist-info") for p in _safe_iterdir(path)) or path.name in (
        "site-packages",
        "dist-packages",
    ):
        root = next((p for p in path.resolve().parents if (p / "pyvenv.cfg").is_file()), path)
        return [path], root
    if (path / "pyvenv.cfg").is_file() or (path / "lib").is_dir() or (path / "Lib").is_dir():
        found = sorted(path.glob("lib*/python*/site-packages")) + sorted(path.glob("Lib/site-packages"))
        found = _dedupe(found)
        if found:
            return found, path
    raise ScanError("no site-packages directory found (expected a venv, a site-packages dir or .dist-info)", path)


def _safe_iterdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError as exc:
        raise ScanError(exc.strerror or str(exc), path) from None


def _dedupe(dirs: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for d in dirs:
        r = d.resolve()
        if r not in seen:
            seen.add(r)
            out.append(d)
    return out


@dataclass
class Dist:
    site: Path
    info: Path
    component: Component
    requires: list[Any] = field(default_factory=list)
    requested: bool = False


def inventory_environment(path: Path | None, *, verify_files: bool = False, files: FileSet | None = None) -> Inventory:
    """Components, hashes and edges of an installed environment.

    Each component's SHA-256 is a digest over the sorted ``path\\0sha256-hex\\n`` lines of the
    files its RECORD lists with a SHA-256. With ``verify_files`` every one of those files is
    read and hashed (the run's ``files`` already hold the digests of an environment's own files)
    and a file that differs from RECORD is an
    ``SBOM-RECORD-MISMATCH`` finding; without it the digests RECORD lists are used as they are
    (the same summary when nothing was changed, and no file contents read)."""
    sites, root_dir = site_packages_of(path)
    env = TargetEnv.for_site_packages(sites[0])
    inv = Inventory()
    dists: dict[str, Dist] = {}
    infos = sorted(
        (p for site in sites for p in _safe_iterdir(site) if p.suffix in (".dist-info", ".egg-info") and p.is_dir()),
        key=lambda p: (p.parent.as_posix(), p.name),
    )
    # an artifact's environment is read only inside the artifact (links leaving it are not followed)
    confined = files if files is not None and files.is_dir and files.declared is not None else None
    if confined is not None and confined.declared is not None and path is not None:
        for site in sites:
            if leaves(site, confined.declared.resolve()):
                raise ScanError("site-packages is a link leaving the artifact: not read", site)
    for info in infos:
        if confined is not None and path is not None and _leaves_artifact(info, path, confined, inv.findings):
            continue
        dist = _read_dist(info, inv.findings)
        if dist is None:
            continue
        key = canonicalize_name(dist.component.name)
        if key in dists:
            inv.findings.append(
                _finding(
                    "SBOM-DUPLICATE-DISTRIBUTION",
                    Severity.MEDIUM,
                    str(info),
                    f"{key} is installed twice ({dists[key].info.name} and {info.name}); "
                    "which one Python imports depends on directory order",
                    {"files": [str(dists[key].info), str(info)], "package": key},
                    "remove the stale .dist-info directory (pip uninstall, then reinstall)",
                )
            )
            continue
        dists[key] = dist
    _hash_all(list(dists.values()), root_dir.resolve(), inv.findings, verify_files, files)
    nodes = {name: Node(name, d.requires) for name, d in dists.items()}
    edges, active, missing = resolve_edges(nodes, env)
    for name, dist in sorted(dists.items()):
        c = dist.component
        if active[name]:
            c.properties["scanner:extras"] = ",".join(sorted(active[name]))
        inv.components.append(c)
        inv.dependencies[c.bom_ref] = [dists[t].component.bom_ref for t in edges[name]]
        for req in missing.get(name, []):
            inv.findings.append(
                _finding(
                    "SBOM-MISSING-DEPENDENCY",
                    Severity.LOW,
                    c.purl or c.bom_ref,
                    f"{c.name} {c.version} requires {req}, which is not installed",
                    {"package": c.name, "requirement": req},
                    "install the missing requirement (pip check lists every broken one)",
                )
            )
    # The environment itself is the root: it points at what was installed on request (pip's
    # REQUESTED marker) and at anything nothing else requires, so the graph stays connected.
    required = {t for ts in edges.values() for t in ts}
    name = (path or Path(sys.prefix)).resolve().name or "environment"
    inv.root = Component(bom_ref=f"environment:{name}", name=name, type="application")
    inv.root.properties["scanner:python-version"] = env.values["python_full_version"]
    inv.dependencies[inv.root.bom_ref] = sorted(
        d.component.bom_ref for n, d in dists.items() if d.requested or n not in required
    )
    return inv


def _leaves_artifact(info: Path, path: Path, files: FileSet, findings: list[Finding]) -> bool:
    """A ``.dist-info`` that is, or holds, a link leaving the artifact is not read: its metadata,
    licences and RECORD would come from outside what the digest covers. Reported like corrupt
    metadata (the package cannot be identified, so it is unaudited, never silently dropped)."""
    try:
        rel = info.relative_to(path).as_posix()
    except ValueError:
        return False
    escaping = files.escaping_under(rel)
    if not escaping:
        return False
    meta_path = info / ("PKG-INFO" if info.suffix == ".egg-info" else "METADATA")
    findings.append(
        _finding(
            "SBOM-CORRUPT-METADATA",
            Severity.HIGH,
            str(meta_path),
            f"{info.name} is or holds a link leaving the artifact ({escaping[0].rel} -> {escaping[0].detail}): "
            "not read; the package cannot be identified or audited",
            {"file": str(meta_path), "requirement": info.name.split("-", 1)[0].removesuffix(info.suffix)},
            "replace the link with the files themselves",
        )
    )
    return True


def _read_dist(info: Path, findings: list[Finding]) -> Dist | None:
    egg = info.suffix == ".egg-info"
    meta_path = info / ("PKG-INFO" if egg else "METADATA")
    try:
        meta = parse_metadata(meta_path)
    except MetadataError as exc:
        findings.append(
            _finding(
                "SBOM-CORRUPT-METADATA",
                Severity.HIGH,
                str(meta_path),
                f"cannot read the metadata of {info.name}: {exc}; the package cannot be identified or audited",
                {"file": str(meta_path), "requirement": info.name.split("-", 1)[0].removesuffix(info.suffix)},
                "reinstall the distribution",
            )
        )
        return None
    name = meta.canonical_name
    purl = f"pkg:pypi/{name}@{meta.version}"
    c = Component(
        bom_ref=purl,
        name=name,
        version=meta.version,
        purl=purl,
        description=meta.summary[:500] if meta.summary else None,
        external_references=dict(meta.urls),
        source=str(info),
    )
    people = meta.authors or meta.maintainers
    c.contacts = people
    if people:
        c.author = ", ".join(p.get("name") or p["email"] for p in people)
    suppliers = meta.maintainers or meta.authors
    if suppliers:
        c.supplier = suppliers[0].get("name") or suppliers[0].get("email")
    lic = licenses.resolve(
        expression=meta.license_expression,
        license_field=meta.license,
        license_texts=_license_texts(info, meta.license_files),
        classifiers=meta.classifiers,
    )
    if lic:
        c.licenses = [lic.value]
        c.properties["scanner:license-source"] = lic.source
    installer = _small_text(info / "INSTALLER")
    if installer:
        c.properties["scanner:installer"] = installer.strip()[:40]
    requested = (info / "REQUESTED").is_file()
    _direct_url(info, c)
    requires_lines = meta.requires_dist if not egg else _egg_requires(info)
    requires, bad = parse_requirements(requires_lines)
    for line in bad:
        findings.append(
            _finding(
                "SBOM-CORRUPT-METADATA",
                Severity.MEDIUM,
                str(meta_path),
                f"{name} {meta.version} declares an unparseable requirement {line[:100]!r}",
                {"file": str(meta_path), "requirement": line[:200]},
                "reinstall the distribution",
            )
        )
    sboms, bad_sboms = embedded.embedded_sboms(info, c)
    findings.extend(bad_sboms)
    c.children = sboms
    return Dist(site=info.parent, info=info, component=c, requires=requires, requested=requested)


def _egg_requires(info: Path) -> list[str]:
    """``requires.txt`` of an .egg-info: plain lines, then ``[extra]`` or ``[extra:marker]`` sections."""
    text = _small_text(info / "requires.txt") or ""
    out: list[str] = []
    section: tuple[str, str] = ("", "")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            section = (extra.strip(), marker.strip())
            continue
        conds = []
        if section[0]:
            conds.append(f'extra == "{section[0]}"')
        if section[1]:
            conds.append(f"({section[1]})")
        out.append(line + ("; " + " and ".join(conds) if conds else ""))
    return out


def _small_text(path: Path, limit: int = 64 << 10) -> str | None:
    from scanner.safeio import open_regular

    try:
        if not path.is_file():
            return None
        with open_regular(path) as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except (OSError, ScanError):
        return None


def _license_texts(info: Path, declared: list[str]) -> list[tuple[str, str]]:
    """Licence files: everything under ``.dist-info/licenses/`` plus ``License-File`` entries
    found at the top of the .dist-info (older setuptools)."""
    paths: dict[str, Path] = {}
    lic_dir = info / "licenses"
    if lic_dir.is_dir() and not lic_dir.is_symlink():
        for p in sorted(lic_dir.rglob("*"))[:200]:
            if p.is_file() and not p.is_symlink():
                paths[p.relative_to(info).as_posix()] = p
    for name in declared:
        for candidate in (info / "licenses" / name, info / name, info / Path(name).name):
            rel = candidate.relative_to(info).as_posix() if candidate.is_relative_to(info) else None
            if rel and ".." not in rel.split("/") and candidate.is_file() and not candidate.is_symlink():
                paths.setdefault(rel, candidate)
                break
    out = []
    for rel, p in sorted(paths.items()):
        text = _small_text(p, LICENSE_TEXT_LIMIT)
        if text:
            out.append((rel, text))
    return out


def _direct_url(info: Path, c: Component) -> None:
    text = _small_text(info / "direct_url.json")
    if not text:
        return
    try:
        doc = jsonfile.loads(text)
        url = _strip_credentials(str(doc["url"]))
    except (ValueError, KeyError, TypeError):
        return
    c.properties["scanner:direct-url"] = url
    if isinstance(doc.get("dir_info"), dict) and doc["dir_info"].get("editable"):
        c.properties["scanner:editable"] = "true"
    vcs = doc.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        c.external_references.setdefault("vcs", url + (f"@{commit}" if commit else ""))
        if commit:
            c.properties["scanner:vcs-commit"] = str(commit)[:64]
    archive = doc.get("archive_info")
    if isinstance(archive, dict):
        hashes = archive.get("hashes") or {}
        if isinstance(hashes, dict) and hashes.get("sha256"):
            c.properties["scanner:archive-sha256"] = str(hashes["sha256"])[:64]
        if url.startswith(("http://", "https://")):
            c.external_references.setdefault("distribution", url)


def _strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


# --- hashing every RECORD file --------------------------------------------------------------


_NO_PATH = Path()


def environment_digest(inventory: Inventory) -> str:
    """``sha256:`` over the sorted ``purl\\0files-sha256\\n`` lines of an environment's
    components: its identity without reading every file again."""
    h = hashlib.sha256()
    for line in sorted(f"{c.bom_ref}\0{c.hashes.get('SHA-256', '')}\n" for c in inventory.components):
        h.update(line.encode())
    return "sha256:" + h.hexdigest()


def _record_rows(info: Path, findings: list[Finding]) -> tuple[list[tuple[str, str, str]], str] | None:
    """RECORD's rows and the SHA-256 of the RECORD file (read once)."""
    from scanner.safeio import read_bounded

    path = info / "RECORD"
    if not path.exists() and not path.is_symlink():
        return None
    try:
        raw = read_bounded(path, RECORD_LIMIT, what="RECORD")
    except ScanError as exc:
        findings.append(
            _finding(
                "SBOM-CORRUPT-METADATA",
                Severity.HIGH,
                str(path),
                f"RECORD of {info.name} not read: {exc.message}",
                {"file": str(path)},
                "reinstall the distribution",
            )
        )
        return None
    text = raw.decode("utf-8", errors="replace")
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if row:
            rows.append((row[0], row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else ""))
    return rows, hashlib.sha256(raw).hexdigest()


def _hash_all(dists: list[Dist], root: Path, findings: list[Finding], verify: bool, fileset: FileSet | None) -> None:
    jobs: list[tuple[Dist, list[tuple[str, Path, str]], list[str]]] = []
    for dist in dists:
        record_rows = _record_rows(dist.info, findings)
        if record_rows is None:
            if dist.info.suffix == ".dist-info":
                dist.component.properties["scanner:record"] = "missing"
            continue
        rows, record_digest = record_rows
        files: list[tuple[str, Path, str]] = []
        outside: list[str] = []
        site_real = str(dist.site.resolve())
        inside = (str(root) + os.sep, site_real + os.sep)
        for rel, expected, _size in rows:
            full = site_real + os.sep + rel
            if ".." in rel or rel.startswith(("/", "\\")) or "//" in rel or "/./" in rel:
                full = os.path.normpath(os.path.join(site_real, rel))
            if not full.startswith(inside):
                outside.append(rel)
                continue
            files.append((rel, Path(full) if verify else _NO_PATH, expected))
        jobs.append((dist, files, outside))
        if outside:
            dist.component.properties["scanner:files-outside-environment"] = str(len(outside))
            c = dist.component
            findings.append(
                _finding(
                    "SBOM-RECORD-OUTSIDE-ENVIRONMENT",
                    Severity.HIGH,
                    str(dist.info / "RECORD"),
                    f"RECORD of {c.name} {c.version} lists {len(outside)} file(s) outside the environment; "
                    "they were not opened",
                    {"package": c.name, "files": outside[:FILE_CAP], "count": len(outside)},
                    "reinstall the distribution from a trusted source; an installer never writes outside it",
                )
            )
        dist.component.properties["scanner:record-sha256"] = record_digest
        dist.component.children.extend(embedded.vendored(dist.site, [r for r, _, _ in rows], dist.component))
        dist.component.children.sort(key=lambda ch: ch.bom_ref)
    # Threads: hashlib releases the GIL on large buffers, and the stat/open calls overlap.
    roots = (root,)
    if verify:
        with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) * 2)) as pool:
            results = list(pool.map(lambda job: _hash_dist(job[0], job[1], roots, verify, fileset), jobs))
    else:
        results = [_hash_dist(dist, files, roots, verify, fileset) for dist, files, _ in jobs]
    for (dist, _files, _outside), (digest, count, mismatched, missing) in zip(jobs, results, strict=True):
        c = dist.component
        c.hashes["SHA-256"] = digest
        c.properties["scanner:files"] = str(count)
        c.properties["scanner:files-verified"] = "true" if verify else "false"
        if mismatched:
            findings.append(
                _finding(
                    "SBOM-RECORD-MISMATCH",
                    Severity.HIGH,
                    c.purl or c.bom_ref,
                    f"{len(mismatched)} installed file(s) of {c.name} {c.version} differ from the digest in RECORD",
                    {"package": c.name, "files": mismatched[:FILE_CAP], "count": len(mismatched)},
                    "reinstall the distribution from a trusted source and find out what changed the files",
                )
            )
        if missing:
            c.properties["scanner:files-missing"] = str(len(missing))


def _hash_dist(
    dist: Dist, files: list[tuple[str, Path, str]], roots: tuple[Path, ...], verify: bool, fileset: FileSet | None
) -> tuple[str, int, list[str], list[str]]:
    lines: list[str] = []
    mismatched: list[str] = []
    missing: list[str] = []
    site = dist.site.resolve()
    for rel, full, expected in files:
        alg, _, value = expected.partition("=")
        if alg != "sha256" or not value:
            continue  # RECORD itself and byte-code written at install carry no digest
        try:
            listed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
        except ValueError:
            listed = ""
        if not verify:
            lines.append(f"{rel}\0{listed}\n")
            continue
        try:
            if full.is_symlink() or not full.is_file():
                if not full.exists():
                    missing.append(rel)
                continue
            real = full.resolve()
            if not any(real.is_relative_to(r) for r in (*roots, site)):
                continue  # a directory link out of the environment: never read
            hexdigest = (fileset.digest_of_path(full) if fileset is not None else None) or sha256_file(full)
        except OSError:
            missing.append(rel)
            continue
        lines.append(f"{rel}\0{hexdigest}\n")
        # Byte-code caches are rewritten by the interpreter itself: not evidence of tampering.
        if hexdigest != listed and not rel.endswith(".pyc"):
            mismatched.append(rel)
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode("utf-8", errors="surrogateescape"))
    return h.hexdigest(), len(lines), mismatched, missing


def _finding(rule: str, severity: Severity, subject: str, message: str, evidence: dict[str, Any], fix: str) -> Finding:
    return Finding(
        id=rule, check="sbom", severity=severity, subject=subject, message=message, evidence=evidence, fix=fix
    )
