"""AGPL and SSPL written the usual ways are denied; the resolution order is License-Expression →
licence classifiers (several = OR) → free text, into SPDX, with the source recorded."""

from __future__ import annotations

import json

import pytest

from scanner.inventory.licenses import resolve
from tests.hostile.conftest import Hostile

AGPL_TROVE = "License :: OSI Approved :: GNU Affero General Public License v3"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("AGPLv3", "AGPL-3.0-only"),
        ("AGPLv3+", "AGPL-3.0-or-later"),
        ("GNU AGPL v3", "AGPL-3.0-only"),
        ("GNU Affero General Public License v3 or later", "AGPL-3.0-or-later"),
        ("AGPL-3.0", "AGPL-3.0-only"),
        ("SSPL", "SSPL-1.0"),
        ("Server Side Public License, v 1", "SSPL-1.0"),
    ],
)
def test_free_text_spellings(field: str, expected: str) -> None:
    got = resolve(expression=None, license_field=field, license_texts=[], classifiers=[])
    assert got is not None and (got.value, got.spdx, got.source) == (expected, True, "License")


def test_resolution_order_and_source() -> None:
    # License-Expression wins over everything
    got = resolve(expression="MIT", license_field="AGPLv3", license_texts=[], classifiers=[AGPL_TROVE])
    assert (got.value, got.source) == ("MIT", "License-Expression") if got else False
    # then the classifiers, before the free-text field
    got = resolve(expression=None, license_field="MIT", license_texts=[], classifiers=[AGPL_TROVE])
    assert got is not None and (got.value, got.source) == ("AGPL-3.0-only", "classifier")
    # several licence classifiers: the author offers a choice
    two = [AGPL_TROVE, "License :: OSI Approved :: MIT License"]
    got = resolve(expression=None, license_field=None, license_texts=[], classifiers=two)
    assert got is not None and (got.value, got.source) == ("AGPL-3.0-only OR MIT", "classifier")


def _venv(root, metadata: str) -> None:  # type: ignore[no-untyped-def]
    site = root / "lib" / "python3.11" / "site-packages"
    info = site / "netlib-1.0.dist-info"
    info.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: netlib\nVersion: 1.0\n" + metadata)
    (site / "netlib.py").write_text("x = 1\n")
    (info / "RECORD").write_text("netlib.py,,\nnetlib-1.0.dist-info/METADATA,,\nnetlib-1.0.dist-info/RECORD,,\n")


@pytest.mark.parametrize(
    "metadata",
    [f"Classifier: {AGPL_TROVE}\n", "License: AGPLv3+\n", "License: Server Side Public License\n"],
    ids=["trove", "agplv3+", "sspl"],
)
def test_gate_denies_agpl_and_sspl(hostile: Hostile, metadata: str) -> None:
    venv = hostile.work / "venv"
    _venv(venv, metadata)
    out = hostile.run("gate", venv, "--stage", "prod", "-f", "json", "--no-ledger", memory=False)
    record = json.loads(out.out)
    assert out.code == 1
    assert "license-denied" in {r["rule"] for r in record["decision"]["deny"]}
