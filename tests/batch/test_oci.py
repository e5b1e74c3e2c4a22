"""`scanner batch` over oci:// sources in a real registry (docker-registry on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.batch.conftest import clean_model, malicious_model


def pushed(cli, registry, tmp_path: Path) -> dict[str, str]:
    """A clean and a malicious model pushed as CNCF model artifacts; name -> oci:// ref (by tag)."""
    refs = {}
    for name, make in (("clean", lambda d: clean_model(d, 21)), ("evil", malicious_model)):
        ref = registry.ref(f"batch/{name}", "v1")
        r = cli("push", make(tmp_path / name), ref, "--plain-http")
        assert r.code == 0, r.err
        refs[name] = ref
    return refs


def test_oci_sources_are_pulled_and_judged(cli, registry, tmp_path: Path) -> None:
    refs = pushed(cli, registry, tmp_path)
    local = clean_model(tmp_path / "local", 22)
    args = ["--plain-http", "--workers", "2", "--cache", tmp_path / "cache", "--no-ledger", "-f", "json"]
    r = cli("batch", refs["clean"], refs["evil"], local, *args)
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    clean, evil, judged_local = doc["results"]
    assert clean["source"] == refs["clean"] and clean["allow"] is True
    assert evil["allow"] is False and [d["rule"] for d in evil["deny"]] == ["model-unsafe"]
    assert clean["digest"].startswith("sha256:") and clean["digest"] != evil["digest"]  # manifest digests
    assert judged_local["allow"] is True
    record = json.loads(Path(evil["record"]).read_text())
    assert record["artifact"]["digest"] == evil["digest"]
    # a second run: every verdict from the cache (nothing changed in the registry nor on disk;
    # what invalidates a registry artifact's entry is in test_oci_cache.py)
    again = json.loads(cli("batch", refs["clean"], refs["evil"], local, *args).out)
    assert [x["cached"] for x in again["results"]] == [True, True, True]
    assert [x["allow"] for x in again["results"]] == [True, False, True]
