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
