"""Installed environments: a real venv made from the local wheel mirror (see conftest)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from scanner.inventory.environment import inventory_environment
from tests.inventory.conftest import site_packages

EXPECTED_LICENSES = {
    "certifi": "MPL-2.0",  # License: MPL-2.0
    "chardet": "0BSD",  # License-Expression
    "charset-normalizer": "MIT",
    "idna": "BSD-3-Clause",
    "packaging": "Apache-2.0 OR BSD-2-Clause",  # dual licence: OR, not two entries
    "pip": "MIT",
    "pysocks": "BSD",  # "License: BSD" and a vague classifier: a name, no invented clause count
    "requests": "Apache-2.0",
    "rpds-py": "MIT",
    "six": "MIT",
    "urllib3": "MIT",
}


def test_components_purls_and_licences(test_venv: Path) -> None:
    inv = inventory_environment(test_venv)
    assert inv.findings == []
    by_name = {c.name: c for c in inv.components}
    assert sorted(c.purl for c in inv.components) == [  # type: ignore[type-var]
        "pkg:pypi/certifi@2026.7.22",
        "pkg:pypi/chardet@7.6.0",
        "pkg:pypi/charset-normalizer@3.5.2",
        "pkg:pypi/idna@3.20",
        "pkg:pypi/packaging@26.3",
        "pkg:pypi/pip@26.2.1",
        "pkg:pypi/pysocks@1.7.1",  # PySocks, PEP 503 normalised
        "pkg:pypi/requests@2.34.2",
        "pkg:pypi/rpds-py@2026.6.3",
        "pkg:pypi/six@1.17.0",
        "pkg:pypi/urllib3@2.8.0",
    ]
    assert {n: c.licenses for n, c in by_name.items()} == {n: [v] for n, v in EXPECTED_LICENSES.items()}
    assert by_name["packaging"].properties["scanner:license-source"] == "License-Expression"
    assert by_name["pysocks"].properties["scanner:license-source"] == "License"
    requests = by_name["requests"]
    assert requests.supplier == "Ian Stapleton Cordasco"  # the maintainer supplies it
    assert requests.author == "Kenneth Reitz"
    assert requests.external_references == {
        "documentation": "https://requests.readthedocs.io",
        "vcs": "https://github.com/psf/requests",
    }
    assert requests.properties["scanner:installer"] == "pip"
    assert by_name["idna"].external_references["issue-tracker"] == "https://github.com/kjd/idna/issues"


def test_dependency_edges_only_without_unrequested_extras(test_venv: Path) -> None:
    inv = inventory_environment(test_venv)
    edges = {ref: deps for ref, deps in inv.dependencies.items() if deps and ref != inv.root.bom_ref}  # type: ignore[union-attr]
    # requests' socks and use-chardet-on-py3 extras were not requested: no edge to pysocks/chardet.
    assert edges == {
        "pkg:pypi/requests@2.34.2": [
            "pkg:pypi/certifi@2026.7.22",
            "pkg:pypi/charset-normalizer@3.5.2",
            "pkg:pypi/idna@3.20",
            "pkg:pypi/urllib3@2.8.0",
        ]
    }
    # Every package was installed by name (pip's REQUESTED marker): all are direct.
    assert len(inv.dependencies[inv.root.bom_ref]) == 11  # type: ignore[union-attr]


def test_requested_extras_propagate_and_markers_apply(venv_copy: Path) -> None:
    site = site_packages(venv_copy)
    app = site / "myapp-1.0.dist-info"
    app.mkdir()
    (app / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: myapp\nVersion: 1.0\n"
        "Requires-Dist: requests[socks]>=2\n"
        "Requires-Dist: pywin32>=300; sys_platform == 'win32'\n"
        "Requires-Dist: attrs>=20\n"
        "Requires-Dist: colorama; extra == 'color'\n"
    )
    (app / "RECORD").write_text("myapp-1.0.dist-info/METADATA,,\n")
    inv = inventory_environment(venv_copy)
    assert inv.dependencies["pkg:pypi/myapp@1.0"] == ["pkg:pypi/requests@2.34.2"]
    assert "pkg:pypi/pysocks@1.7.1" in inv.dependencies["pkg:pypi/requests@2.34.2"]
    assert "pkg:pypi/chardet@7.6.0" not in inv.dependencies["pkg:pypi/requests@2.34.2"]
    assert inv.component("pkg:pypi/requests@2.34.2").properties["scanner:extras"] == "socks"  # type: ignore[union-attr]
    # attrs is required and missing; pywin32 is excluded by its marker, colorama by its extra.
    missing = [(f.id, f.evidence["requirement"]) for f in inv.findings]
    assert missing == [("SBOM-MISSING-DEPENDENCY", "attrs>=20")]


def test_hashes_cover_every_record_file(test_venv: Path) -> None:
    inv = inventory_environment(test_venv)
    six = inv.component("pkg:pypi/six@1.17.0")
    assert six is not None
    site = site_packages(test_venv)
    rows = [line.split(",")[0] for line in (site / "six-1.17.0.dist-info" / "RECORD").read_text().splitlines()]
    rows = [r for r in rows if not r.endswith("RECORD")]  # RECORD lists no digest of itself
    lines = sorted(f"{rel}\0{hashlib.sha256((site / rel).read_bytes()).hexdigest()}\n" for rel in rows)
    assert six.hashes["SHA-256"] == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert six.properties["scanner:files"] == str(len(rows))
    record = hashlib.sha256((site / "six-1.17.0.dist-info" / "RECORD").read_bytes()).hexdigest()
    assert six.properties["scanner:record-sha256"] == record
    assert all(c.hashes.get("SHA-256") for c in inv.components)
    # Reading every file gives the same summary when nothing was changed.
    verified = inventory_environment(test_venv, verify_files=True).component("pkg:pypi/six@1.17.0")
    assert verified is not None and verified.hashes == six.hashes
    assert (six.properties["scanner:files-verified"], verified.properties["scanner:files-verified"]) == (
        "false",
        "true",
    )


def test_tampered_file_is_a_record_mismatch(venv_copy: Path) -> None:
    site = site_packages(venv_copy)
    with (site / "six.py").open("a") as fh:
        fh.write("\nimport os; os.system('true')\n")
    assert inventory_environment(venv_copy).findings == []  # RECORD's digests, nothing read
    inv = inventory_environment(venv_copy, verify_files=True)
    [finding] = inv.findings
    assert finding.id == "SBOM-RECORD-MISMATCH"
    assert finding.severity.value == "high"
    assert finding.subject == "pkg:pypi/six@1.17.0"
    assert finding.evidence["files"] == ["six.py"]


def test_vendored_and_embedded_components_are_nested(test_venv: Path) -> None:
    inv = inventory_environment(test_venv)
    assert len(inv.components) == 11  # pip's vendored copies are not installed packages
    pip = inv.component("pkg:pypi/pip@26.2.1")
    vendored = {c.name: c.version for c in pip.children}  # type: ignore[union-attr]
    assert vendored["requests"] == "2.34.2"
    assert vendored["urllib3"] == "2.7.0"
    assert vendored["packaging"] == "26.2"
    assert len(vendored) == 18
    child = next(c for c in pip.children if c.name == "urllib3")  # type: ignore[union-attr]
    assert child.bom_ref == "pkg:pypi/pip@26.2.1#vendored:pkg:pypi/urllib3@2.7.0"
    rpds = inv.component("pkg:pypi/rpds-py@2026.6.3")
    crates = sorted(f"{c.name}@{c.version}" for c in rpds.children)  # type: ignore[union-attr]
    assert len(crates) == 17
    assert "pyo3@0.29.0" in crates and "archery@1.2.2" in crates
    assert all(c.purl and c.purl.startswith("pkg:cargo/") for c in rpds.children)  # type: ignore[union-attr]


def test_corrupt_and_duplicate_metadata_are_findings(venv_copy: Path) -> None:
    site = site_packages(venv_copy)
    (site / "six-1.17.0.dist-info" / "METADATA").write_bytes(b"\xff\xfe not metadata\n")
    dup = site / "idna-3.19.dist-info"
    shutil.copytree(site / "idna-3.20.dist-info", dup)
    text = (dup / "METADATA").read_text().replace("Version: 3.20", "Version: 3.19")
    (dup / "METADATA").write_text(text)
    inv = inventory_environment(venv_copy)
    ids = sorted((f.id, Path(f.subject).name if "/" in f.subject else f.subject) for f in inv.findings)
    assert ids == [("SBOM-CORRUPT-METADATA", "METADATA"), ("SBOM-DUPLICATE-DISTRIBUTION", "idna-3.20.dist-info")]
    corrupt = next(f for f in inv.findings if f.id == "SBOM-CORRUPT-METADATA")
    assert corrupt.evidence["file"].endswith("six-1.17.0.dist-info/METADATA")
    assert "pkg:pypi/six@1.17.0" not in {c.purl for c in inv.components}


def test_embedded_sbom_that_is_not_json_is_a_finding(venv_copy: Path) -> None:
    site = site_packages(venv_copy)
    (site / "rpds_py-2026.6.3.dist-info" / "sboms" / "broken.cdx.json").write_text("{not json")
    inv = inventory_environment(venv_copy)
    [finding] = inv.findings
    assert finding.id == "SBOM-EMBEDDED-UNREADABLE"
    assert finding.subject.endswith("broken.cdx.json")
    assert len(inv.component("pkg:pypi/rpds-py@2026.6.3").children) == 17  # type: ignore[union-attr]


def test_site_packages_directory_and_json_roundtrip(test_venv: Path, cli) -> None:
    site = site_packages(test_venv)
    r = cli("sbom", site, "--reproducible")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["specVersion"] == "1.6"
    assert len(doc["components"]) == 11
    packaging = next(c for c in doc["components"] if c["name"] == "packaging")
    assert packaging["licenses"] == [{"expression": "Apache-2.0 OR BSD-2-Clause"}]
    pysocks = next(c for c in doc["components"] if c["name"] == "pysocks")
    assert pysocks["licenses"] == [{"license": {"name": "BSD"}}]
    six = next(c for c in doc["components"] if c["name"] == "six")
    assert six["licenses"] == [{"license": {"id": "MIT"}}]
    pip = next(c for c in doc["components"] if c["name"] == "pip")
    assert len(pip["components"]) == 18
    assert cli("sbom", site, "--reproducible").out == r.out  # reproducible byte for byte
