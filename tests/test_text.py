"""clean_text: strings made encodable wherever they sit, without copying what needs nothing."""

from __future__ import annotations

import json
import os

from scanner.text import clean_text


def test_a_surrogate_deep_inside_a_large_document_is_escaped_and_clean_documents_are_not_copied() -> None:
    bad = os.fsdecode(b"w\xffights.bin")
    doc = {"sbom": {"components": [{"name": f"p{i}", "properties": [{"value": "ok"}]} for i in range(600)]}}
    assert clean_text(doc) is doc  # nothing to clean: the same object, no copy
    doc["sbom"]["components"][599]["properties"][0]["value"] = bad
    doc[bad] = [bad]
    cleaned = clean_text(doc)
    assert cleaned["sbom"]["components"][599]["properties"][0]["value"] == "w\\xffights.bin"
    assert cleaned["w\\xffights.bin"] == ["w\\xffights.bin"]
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")  # encodable everywhere


def test_text_beyond_ascii_is_kept_and_only_a_surrogate_is_escaped_at_any_level() -> None:
    doc = {"name": "modèle ✓", "files": [{"path": "poids/数据.bin", 3: "three"}], "n": 1.5, "ok": None}
    assert clean_text(doc) is doc  # encodable text beyond ASCII: nothing to clean
    bad = os.fsdecode(b"\xfe.pkl")
    doc["files"][0][bad] = {"deeper": [[bad]]}  # a key, and a value below the levels looked at one by one
    cleaned = clean_text(doc)
    assert cleaned["files"][0]["\\xfe.pkl"] == {"deeper": [["\\xfe.pkl"]]}
    assert cleaned["name"] == "modèle ✓"


def test_a_surrogate_inside_a_tuple_is_escaped() -> None:
    bad = os.fsdecode(b"\xfe.pkl")
    cleaned = clean_text({"reasons": (("MODEL-PICKLE-GLOBAL", bad),)})
    assert cleaned == {"reasons": [["MODEL-PICKLE-GLOBAL", "\\xfe.pkl"]]}
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")
