"""The result cache: a hit on the second run, a miss after a change, tampering never trusted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.batch.conftest import clean_model, malicious_model


def _batch(cli, cache: Path, tmp_path: Path, *sources: Path):
    flags = ["--workers", "1", "--cache", cache, "--records", tmp_path / "rec", "--no-ledger", "-f", "json"]
    r = cli("batch", *sources, *flags)
    return r, {Path(x["source"]).name: x for x in json.loads(r.out)["results"]}


def test_hit_on_second_run_and_miss_after_a_change(cli, tmp_path: Path) -> None:
    a, b = clean_model(tmp_path / "a", 1), clean_model(tmp_path / "b", 2)
    cache = tmp_path / "cache"
    first, res1 = _batch(cli, cache, tmp_path, a, b)
    assert first.code == 0 and not any(x["cached"] for x in res1.values())
    judged = json.loads(Path(res1["a"]["record"]).read_text())
    second, res2 = _batch(cli, cache, tmp_path, a, b)
    assert second.code == 0 and all(x["cached"] for x in res2.values())
    # the cached record's file is the judged one with this run's batch member, laid out alike
    from scanner.report.json_format import render

    text = Path(res2["a"]["record"]).read_text()
    reused = json.loads(text)
    assert reused["batch"]["run"] != judged["batch"]["run"]
    assert text == render({**{k: v for k, v in judged.items() if k != "batch"}, "batch": reused["batch"]})
    assert {k: (v["digest"], v["allow"]) for k, v in res2.items()} == {
        k: (v["digest"], v["allow"]) for k, v in res1.items()
    }
    # a cached verdict still gets its own evidence record (marked as from the cache)
    assert json.loads(Path(res2["a"]["record"]).read_text())["batch"]["cached"] is True
    # b becomes malicious: new digest, judged again, denied; a is still answered from the cache
    (b / "model.safetensors").unlink()
    malicious_model(b)
    third, res3 = _batch(cli, cache, tmp_path, a, b)
    assert third.code == 1
    assert res3["a"]["cached"] is True
    assert res3["b"]["cached"] is False and res3["b"]["allow"] is False and res3["b"]["digest"] != res1["b"]["digest"]
    # another stage is another key
    r = cli("batch", a, "--stage", "prod", "--workers", "1", "--cache", cache, "--no-ledger", "-f", "json")
    assert json.loads(r.out)["results"][0]["cached"] is False


def test_tampered_entries_are_not_trusted(cli, tmp_path: Path) -> None:
    evil, good = malicious_model(tmp_path / "evil"), clean_model(tmp_path / "good", 5)
    cache = tmp_path / "cache"
    first, _ = _batch(cli, cache, tmp_path, evil, good)
    assert first.code == 1
    entries = sorted((cache / "v1").glob("*/*.json"))
    assert len(entries) == 2
    by_source = {json.loads(p.read_text())["key"]["source"]: p for p in entries}
    # 1) flip the malicious artifact's verdict to allow (digest left as it was)
    evil_entry = by_source[str(evil)]
    doc = json.loads(evil_entry.read_text())
    doc["result"]["allow"], doc["result"]["deny"] = True, []
    evil_entry.write_text(json.dumps(doc))
    second, res2 = _batch(cli, cache, tmp_path, evil, good)
    assert second.code == 1, second.out
    assert res2["evil"]["cached"] is False and res2["evil"]["allow"] is False
    assert res2["good"]["cached"] is True
    assert "not trusted" in second.err and "does not match its digest" in second.err
    # 2) a well-formed entry of another artifact copied over this one: its key does not match
    evil_entry.write_bytes(by_source[str(good)].read_bytes())
    third, res3 = _batch(cli, cache, tmp_path, evil, good)
    assert res3["evil"]["cached"] is False and res3["evil"]["allow"] is False
    assert "its key is not the key of this artifact" in third.err


def test_an_entry_edited_in_place_is_not_trusted(cli, tmp_path: Path) -> None:
    """An entry is checked by hashing its stored bytes: a verdict flipped byte for byte (the
    layout and the stored digest left as they were) fails, and so does one whose stored digest is
    not the one written; the untouched entry still answers."""
    evil, good = malicious_model(tmp_path / "evil"), clean_model(tmp_path / "good", 5)
    cache = tmp_path / "cache"
    _batch(cli, cache, tmp_path, evil, good)
    by_source = {json.loads(p.read_bytes())["key"]["source"]: p for p in (cache / "v1").glob("*/*.json")}
    evil_entry = by_source[str(evil)]
    raw = evil_entry.read_bytes()
    assert raw.count(b'"result":{"allow":false') == 1 and raw.endswith(b'"}')
    for edited, problem in (
        (raw.replace(b'"result":{"allow":false', b'"result":{"allow":true '), "does not match its digest"),
        (raw[:-2] + b'0"}', "does not match its digest"),  # not the layout written: the slow check
    ):
        evil_entry.write_bytes(edited)
        r, res = _batch(cli, cache, tmp_path, evil, good)
        assert r.code == 1 and res["evil"]["allow"] is False and res["evil"]["cached"] is False, r.err
        assert res["good"]["cached"] is True
        assert "not trusted" in r.err and problem in r.err, r.err
        evil_entry.write_bytes(edited)  # the run replaced it: edit the original again
    evil_entry.write_bytes(raw)
    _, res = _batch(cli, cache, tmp_path, evil, good)
    assert res["evil"]["cached"] is True and res["evil"]["allow"] is False


def test_a_signature_added_beside_the_artifact_is_a_miss(cli, tmp_path: Path) -> None:
    """Signatures and provenance found beside an artifact decide verdicts without being part of
    its digest: they are part of the cache key."""
    model = clean_model(tmp_path / "m", 3)
    cache = tmp_path / "cache"
    _batch(cli, cache, tmp_path, model)
    _, hit = _batch(cli, cache, tmp_path, model)
    assert hit["m"]["cached"] is True
    (tmp_path / "m.sigstore.json").write_text('{"not": "a bundle"}')
    _, miss = _batch(cli, cache, tmp_path, model)
    assert miss["m"]["cached"] is False and miss["m"]["digest"] == hit["m"]["digest"]


def test_bytes_swapped_under_the_same_size_and_mtime_are_judged_again(cli, tmp_path: Path) -> None:
    """An attacker replaces a benign pickle with a malicious one of the same size and puts the
    modification time back: the digest is recomputed from the bytes on every run (also by this
    same driver process), so the cached ALLOWED is not reused."""
    import os
    import pickle

    from tests.batch.conftest import _Payload

    model = clean_model(tmp_path / "m", 4)
    evil = pickle.dumps(_Payload(), protocol=4)
    benign = next(b for k in range(len(evil)) if len(b := pickle.dumps({"a": "x" * k}, protocol=4)) == len(evil))
    target = model / "extra.pkl"
    target.write_bytes(benign)
    cache = tmp_path / "cache"
    _batch(cli, cache, tmp_path, model)
    _, hit = _batch(cli, cache, tmp_path, model)  # the driver hashed the files itself (cache hit)
    assert hit["m"]["cached"] is True and hit["m"]["allow"] is True
    stat = target.stat()
    target.write_bytes(evil)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    r, again = _batch(cli, cache, tmp_path, model)
    assert again["m"]["cached"] is False and again["m"]["allow"] is False, r.err


def test_a_large_record_is_kept_as_json_a_small_one_as_the_text_of_its_file() -> None:
    """A hit writes a small record's stored text as it is; a record past ``RECORD_TEXT_MAX``
    (a large SBOM) is kept as JSON so it is never one string on top of the entry."""
    from scanner.batch.cache import RECORD_TEXT_MAX, _record_fields
    from scanner.report.json_format import render

    small = {"artifact": {"name": "m"}, "ledger": {"seq": 1}, "batch": {"run": "r"}}
    assert _record_fields(small) == {"record_text": render({"artifact": {"name": "m"}})}
    large = {"artifact": {"name": "m"}, "sbom": {"components": [{"name": "x" * 1000}] * (RECORD_TEXT_MAX // 1000)}}
    assert _record_fields(large) == {"record": large}
