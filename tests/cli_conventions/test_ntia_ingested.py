"""NTIA author and timestamp of an ingested SBOM come from its own metadata (syft, trivy and
scanner itself write them), in JSON and XML; a BOM without them still gets the findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

COMPONENT = {
    "type": "library",
    "bom-ref": "pkg:pypi/idna@3.7",
    "name": "idna",
    "version": "3.7",
    "purl": "pkg:pypi/idna@3.7",
    "supplier": {"name": "Kim Davies"},
}
ROOT = {"type": "application", "bom-ref": "app", "name": "app", "version": "1.0", "purl": "pkg:generic/app@1.0"}


def _bom(metadata: dict[str, Any], spec: str = "1.6") -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": spec,
        "version": 1,
        "metadata": {**metadata, "component": ROOT},
        "components": [COMPONENT],
        "dependencies": [{"ref": "app", "dependsOn": ["pkg:pypi/idna@3.7"]}, {"ref": "pkg:pypi/idna@3.7"}],
    }


SYFT = {
    "timestamp": "2026-11-30T10:00:00Z",
    "tools": {"components": [{"type": "application", "author": "anchore", "name": "syft", "version": "1.18.1"}]},
}
TRIVY = {
    "timestamp": "2026-11-30T10:00:00+00:00",
    "tools": {"components": [{"type": "application", "group": "aquasecurity", "name": "trivy", "version": "0.76.0"}]},
}
PEOPLE = {"timestamp": "2026-11-30T10:00:00Z", "authors": [{"name": "Platform Team", "email": "platform@example.org"}]}
OLD_TOOLS = {
    "timestamp": "2026-11-30T10:00:00Z",
    "tools": [{"vendor": "CycloneDX", "name": "cyclonedx-py", "version": "4.0"}],
}


def _ntia(cli: Any, path: Path) -> set[str]:
    run = cli("gate", path, "--stage", "prod", "--no-ledger", "-f", "json")
    assert run.code in (0, 1), run.err
    return {f["id"] for f in json.loads(run.out)["findings"] if f["id"].startswith("SBOM-NTIA-")}


@pytest.mark.parametrize("metadata", [SYFT, TRIVY, PEOPLE, OLD_TOOLS], ids=["syft", "trivy", "authors", "tools-1.4"])
def test_author_and_timestamp_are_read_from_the_metadata(cli: Any, tmp_path: Path, metadata: dict[str, Any]) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(_bom(metadata, "1.4" if metadata is OLD_TOOLS else "1.6")))
    assert _ntia(cli, path) == set()


def test_a_bom_without_them_is_still_incomplete(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(_bom({"authors": [{"name": "  "}], "tools": {"components": [{"type": "application"}]}})))
    assert _ntia(cli, path) == {"SBOM-NTIA-AUTHOR", "SBOM-NTIA-TIMESTAMP"}


def test_xml_metadata_counts_too(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.xml"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <metadata>
    <timestamp>2026-11-30T10:00:00Z</timestamp>
    <tools><components><component type="application">
      <name>syft</name><version>1.18.1</version></component></components></tools>
    <component type="application" bom-ref="app">
      <name>app</name><version>1.0</version><purl>pkg:generic/app@1.0</purl></component>
  </metadata>
  <components>
    <component type="library" bom-ref="pkg:pypi/idna@3.7"><supplier><name>Kim Davies</name></supplier><name>idna</name>
      <version>3.7</version><purl>pkg:pypi/idna@3.7</purl></component>
  </components>
  <dependencies><dependency ref="app"><dependency ref="pkg:pypi/idna@3.7"/></dependency>
    <dependency ref="pkg:pypi/idna@3.7"/></dependencies>
</bom>
"""
    )
    assert "SBOM-NTIA-AUTHOR" not in _ntia(cli, path) and "SBOM-NTIA-TIMESTAMP" not in _ntia(cli, path)


def test_scanners_own_sbom_passes_its_own_author_and_timestamp_checks(cli: Any, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("idna==3.7\n")
    bom = tmp_path / "bom.cdx.json"
    assert cli("sbom", req, "-o", bom).code == 0
    found = _ntia(cli, bom)
    assert not found & {"SBOM-NTIA-AUTHOR", "SBOM-NTIA-TIMESTAMP"}, found


def test_fix_hints_name_only_options_that_exist() -> None:
    import re

    import click

    from scanner.cli import cli
    from scanner.config import KEYS
    from scanner.inventory.ntia import _FIXES

    ctx = click.Context(cli, info_name="scanner")
    named = 0
    for element, hint in _FIXES.items():
        for command, option in re.findall(r"scanner (\w+) (--[\w-]+)", hint):
            cmd = cli.get_command(ctx, command)
            assert cmd is not None, (element, command)
            assert option in {o for p in cmd.params for o in getattr(p, "opts", [])}, (element, command, option)
            named += 1
        assert hint.count("--") == len(re.findall(r"scanner \w+ --[\w-]+", hint)), hint  # no bare --option
        for var in re.findall(r"SCANNER_[A-Z_]+", hint):
            assert var == "SCANNER_AUTHOR", var  # read by scanner.inventory.build.sbom_author
        for key in re.findall(r"`(\w+)` in the config file", hint):
            assert key in KEYS
    assert named >= 3
