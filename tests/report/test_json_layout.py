"""The JSON report's layout: the same document as the standard encoder, one finding per line."""

from __future__ import annotations

import json

from scanner.report.json_format import dumps_layout, render


def test_layout_round_trips_and_puts_each_finding_on_its_own_line() -> None:
    record = {
        "artifact": {"name": "m\u00e9", "files": [{"path": "a", "sha256": "00"}]},
        "findings": [{"id": f"R{i}", "evidence": {"k": [1, 2, {"x": None}]}, "message": 'q"\n\x1b'} for i in range(3)],
        "empty": [],
        "none": {},
        "n": 1.5,
    }
    text = render(record)
    assert json.loads(text) == record
    lines = text.splitlines()
    assert sum(1 for line in lines if line.lstrip().startswith('{"id": "R')) == 3
    assert "\x1b" not in text  # control characters stay escaped


def test_depth_zero_is_compact_and_nan_is_refused() -> None:
    assert dumps_layout({"a": [1]}, depth=0) == '{"a": [1]}'
    try:
        dumps_layout({"a": float("nan")})
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("NaN must not be written as JSON")


def _large_doc() -> dict:
    comps = [
        {"bom-ref": f"pkg:pypi/p{i}@1.0", "name": f"p\u00e9{i}", "hashes": [{"alg": "SHA-256", "content": "ab" * 32}]}
        for i in range(700)
    ]
    return {
        "z": 1,
        "sbom": {"metadata": {"b": [1, {"c": None}]}, "components": comps},
        "a": {str(i): i for i in range(300)},
    }


def test_chunked_encoding_is_exactly_the_standard_encoding() -> None:
    """``scanner.jsonchunks``: the pieces joined are the bytes ``json.dumps`` gives, for the
    settings the reports and the ledger digest use, and no piece holds the whole inventory."""
    from scanner.jsonchunks import ChunkEncoder

    doc = _large_doc()
    settings = [
        {"separators": (",", ":"), "ensure_ascii": False},
        {"separators": (",", ":"), "ensure_ascii": False, "sort_keys": True, "allow_nan": False},
        {"separators": (", ", ": "), "allow_nan": False},
    ]
    for kw in settings:
        pieces = list(ChunkEncoder(**kw).chunks(doc))
        assert "".join(pieces) == json.dumps(doc, **kw)
        assert max(map(len, pieces)) < len("".join(pieces)) / 50


def test_the_record_lays_out_one_sbom_component_per_line() -> None:
    record = {"schema": "s", **_large_doc()}
    text = render(record)
    assert json.loads(text) == record
    assert sum(1 for line in text.splitlines() if line.lstrip().startswith('{"bom-ref": ')) == 700


def test_a_member_added_to_the_text_equals_the_document_encoded_with_it() -> None:
    """A cached record's file is its stored text plus the run's ``batch`` member: byte for byte
    what encoding the record with that member would give."""
    import pytest

    from scanner.report.json_format import with_member

    record = {"artifact": {"name": "m\u00e9"}, "findings": [{"id": "R", "message": 'q"\n'}], "sbom": {"components": []}}
    batch = {"run": "r", "source": "/x\u00e9", "cached": True, "seconds": 0.5, "nested": {"a": [1]}}
    assert with_member(render(record), "batch", batch) == render({**record, "batch": batch})
    assert with_member(render(record), "n", 3) == render({**record, "n": 3})
    with pytest.raises(ValueError):
        with_member(render({}), "batch", batch)  # not an object with members
    with pytest.raises(ValueError):
        with_member(render(record)[:-1], "batch", batch)  # cut short


def test_a_top_level_member_is_told_from_a_nested_one_or_one_inside_a_string() -> None:
    """``laid_out`` (what a cached record's text must be before a run's member is spliced in)
    finds a top-level member by its line alone: nested keys are indented deeper and a string holds
    no raw line break."""
    from scanner.report.json_format import laid_out

    nested = {"a": {"batch": 1}, "b": [{"batch": 2}], "c": 'x\n  "batch": y', "sbom": {"batch": {"batch": 3}}}
    assert laid_out(render(nested), "batch")
    assert not laid_out(render({**nested, "batch": {}}), "batch")
    assert not laid_out(render({"batch": 1}), "batch")  # the first member too
    assert not laid_out(render({}), "batch") and not laid_out(render([1]))
