"""A requirements.txt beside the weights: the model's runtime dependencies, in its ML-BOM with an
edge from the model, audited by the same vulnerability check as an application's."""

from __future__ import annotations

from pathlib import Path

from tests.modelcode.conftest import components, denied, depends_on, findings, props, write_hf


def test_vulnerable_pin_beside_weights(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "with-reqs", {}, auto_map={})
    (d / "requirements.txt").write_text("numpy==1.26.4\nurllib3==1.26.5\n")
    record = gate(d, "prod")
    assert record["input"]["artifact"]["kind"] == "model-dir"
    assert findings(record, "VULN-") == [
        ("VULN-KNOWN", "high", "pkg:pypi/urllib3@1.26.5"),
        ("VULN-KNOWN", "medium", "pkg:pypi/urllib3@1.26.5"),
    ]
    assert {f["evidence"]["vuln_id"] for f in record["findings"] if f["id"] == "VULN-KNOWN"} == {
        "PYSEC-2023-192",
        "PYSEC-2023-212",
    }
    assert "vuln-fixable" in denied(record)
    comps = components(record)
    root = record["sbom"]["metadata"]["component"]["bom-ref"]
    assert {"pkg:pypi/numpy@1.26.4", "pkg:pypi/urllib3@1.26.5"} <= set(depends_on(record, root))
    assert props(comps["pkg:pypi/urllib3@1.26.5"])["declared-in"] == "requirements.txt"
    assert record["input"]["context"]["vulnerability_db"]["records"] == 2651


def test_clean_pins_beside_weights(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "clean-reqs", {}, auto_map={})
    (d / "requirements.txt").write_text("numpy==1.26.4\nsafetensors==0.4.5\n")
    record = gate(d, "staging")
    assert findings(record, "VULN-") == [] and findings(record, "MODEL-") == []
    assert {"vuln-fixable", "vuln-no-fix", "vuln-unaudited"}.isdisjoint(denied(record))
    assert "pkg:pypi/safetensors@0.4.5" in components(record)


def test_unpinned_dependency_is_unaudited_not_ignored(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "loose", {}, auto_map={})
    (d / "requirements.txt").write_text("torch>=2\n")
    record = gate(d, "prod")
    assert findings(record, "VULN-") == [("VULN-UNAUDITED", "medium", "requirements.txt:1")]
    assert "vuln-unaudited" in denied(record)


def test_weights_only_model_has_nothing_to_audit(gate, tmp_path: Path) -> None:
    record = gate(write_hf(tmp_path / "weights-only", {}, auto_map={}), "prod")
    assert findings(record, "VULN-") == [] and record["input"]["code"] == []
    assert {"vuln-fixable", "vuln-unaudited", "remote-code", "code-unsafe"}.isdisjoint(denied(record))
