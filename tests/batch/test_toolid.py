"""The tool digest's marker values are the ones requirement markers are evaluated with."""

from __future__ import annotations


def test_marker_values_are_the_ones_packaging_evaluates_markers_with() -> None:
    from packaging.markers import Marker, default_environment

    from scanner.batch.toolid import MARKERS, marker_values

    ours = marker_values()
    assert set(ours) == set(MARKERS)
    assert ours == {name: default_environment()[name] for name in MARKERS}
    for name, value in ours.items():  # as a requirement line's marker reads them
        assert Marker(f"{name} == {value!r}").evaluate()
