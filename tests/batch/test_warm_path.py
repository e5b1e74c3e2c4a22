"""The driver's cheap checks on the warm path still refuse what the gate's checks refuse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.batch.conftest import clean_model


@pytest.mark.parametrize("how", ["link-to-checkout", "file-inside", "cache-home-is-a-link"])
def test_a_default_cache_reached_any_way_inside_a_source_stops_the_run(cli, tmp_path: Path, monkeypatch, how) -> None:
    """The first look compares folders by (device, inode) instead of resolving every source: a
    source naming the folder that holds the user cache through a link, a file in it, or a cache
    home that is a link into it is still refused (exit 2)."""
    checkout = clean_model(tmp_path / "checkout", 21)
    monkeypatch.delenv("SCANNER_CACHE_DIR", raising=False)
    cache_home = checkout / ".cache"
    source: Path = checkout
    if how == "link-to-checkout":
        source = tmp_path / "via"
        source.symlink_to(checkout, target_is_directory=True)
    elif how == "file-inside":
        source = checkout / "config.json"
    else:
        (checkout / "real-cache").mkdir()
        cache_home = tmp_path / "cache-link"
        cache_home.symlink_to(checkout / "real-cache", target_is_directory=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    before = sorted(os.listdir(checkout))
    r = cli("batch", str(source), "--workers", "1", "--records", tmp_path / "rec", "--no-ledger", "-f", "json")
    assert r.code == 2, r.err
    assert "cache directory" in r.err and "inside the scanned artifact" in r.err
    assert sorted(os.listdir(checkout)) == before


def test_a_source_beside_the_cache_is_judged(cli, tmp_path: Path, monkeypatch) -> None:
    model = clean_model(tmp_path / "model", 22)
    monkeypatch.delenv("SCANNER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    r = cli("batch", model, "--workers", "1", "--records", tmp_path / "rec", "--no-ledger", "--no-cache", "-f", "json")
    assert r.code == 0, r.err
