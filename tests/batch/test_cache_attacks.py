"""Attacks on `scanner batch`'s verdict cache and driver: ways to have a verdict reused where the
gate would now judge otherwise, or an artifact reported without being judged. Real runs, real
files, real cache entries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.batch.conftest import clean_model


def _flags(cache: Path, tmp_path: Path) -> list[str | Path]:
    return ["--workers", "1", "--cache", cache, "--records", tmp_path / "rec", "--no-ledger", "-f", "json"]


def _entry(cache: Path) -> tuple[Path, dict]:
    (path,) = (cache / "v1").glob("*/*.json")
    return path, json.loads(path.read_text())


def test_a_verdict_is_not_reused_once_the_database_has_aged(cli, tmp_path: Path) -> None:
    """The policy reads the database's age (`vuln-db-stale`: enforced at prod past 7 days): a
    verdict made when the database was N days old is not the gate's verdict once it is N+1."""
    from scanner.batch.cache import ResultCache

    model = clean_model(tmp_path / "m", 7)
    cache = tmp_path / "cache"
    r = cli("batch", model, *_flags(cache, tmp_path))
    assert r.code == 0, r.err
    _, entry = _entry(cache)
    age = _record(entry)["context"]["vulnerability_db"]["age_days"]
    key = entry["key"]
    context = {k: v for k, v in key.items() if k not in ("format", "source", "artifact")}
    same_day = ResultCache(cache, context, db_age=age)
    assert same_day.load(str(model), key["artifact"]).result is not None
    next_day = ResultCache(cache, context, db_age=age + 1).load(str(model), key["artifact"])
    assert next_day.result is None and "database" in str(next_day.problem)
    # and a run answered from the cache computes today's age itself: still a hit today
    r = cli("batch", model, *_flags(cache, tmp_path))
    assert json.loads(r.out)["results"][0]["cached"] is True
    # an entry cut short (a crash between writing and renaming cannot leave one under its name,
    # but a disk can) is not trusted
    path, _ = _entry(cache)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    cut = same_day.load(str(model), key["artifact"])
    assert cut.result is None and "unreadable" in str(cut.problem)


def test_max_db_age_holds_on_a_run_answered_entirely_from_the_cache(cli, tmp_path: Path) -> None:
    """Entries made while the database was young enough (filed here under --max-db-age 30, as a
    run 30 days ago would have) must not answer once it is older: `scanner gate` stops (exit 2),
    so does the batch, although no worker (which would check) is started."""
    from scanner.batch.cache import ResultCache

    model = clean_model(tmp_path / "m", 8)
    cache = tmp_path / "cache"
    assert cli("batch", model, "--max-db-age", "100000", *_flags(cache, tmp_path)).code == 0
    _, entry = _entry(cache)
    key = entry["key"]
    context = {k: v for k, v in key.items() if k not in ("format", "source", "artifact")}
    age = _record(entry)["context"]["vulnerability_db"]["age_days"]
    assert age > 30  # the bundled snapshot is from 2024
    found = ResultCache(cache, context, db_age=age).load(str(model), key["artifact"]).result
    assert found is not None
    young = ResultCache(cache, {**context, "max_db_age": "30"}, db_age=age)
    young.store(found)
    young.close()
    r = cli("batch", model, "--max-db-age", "30", *_flags(cache, tmp_path))
    assert r.code == 2, r.out
    assert "older than --max-db-age 30" in r.err


def test_every_name_a_listing_holds_is_judged_as_written(cli, tmp_path: Path) -> None:
    """`--from` lists are often made by listing a directory the artifacts' authors name. A name
    that differs from another only by trailing Unicode or ASCII space, or that holds a Unicode
    line separator, must be judged as that name — not folded onto a clean neighbour (and its
    verdict) nor split into other paths."""
    from tests.batch.conftest import malicious_model

    estate = tmp_path / "estate"
    clean = clean_model(estate / "model", 9)
    hidden = [
        malicious_model(estate / "model\u00a0"),  # no-break space
        malicious_model(estate / "model "),
        malicious_model(estate / "model\u2028x"),  # splitlines() would make it "model" + "x"
        malicious_model(estate / "model\x85"),
    ]
    listing = tmp_path / "estate.txt"
    listing.write_text("\n".join(str(p) for p in [clean, *hidden]) + "\r\n", encoding="utf-8")
    r = cli("batch", "--from", listing, *_flags(tmp_path / "cache", tmp_path))
    assert r.code == 1, r.err
    results = json.loads(r.out)["results"]
    assert [x["source"] for x in results] == [str(clean), *map(str, hidden)]
    assert [x["allow"] for x in results] == [True, False, False, False, False]
    # the streamed lines show such names without their control characters
    assert "\x85" not in r.err and "\u2028" not in r.err


def test_evidence_listed_past_the_referrers_the_gate_reads_is_not_ignored(cli, registry, tmp_path: Path) -> None:
    """Whoever may push to a repository can attach referrers to any digest in it: 256 harmless
    ones listed first pushed a signature that does not verify (which denies at staging) out of
    what the gate read, and the artifact was allowed. More referrers than the gate reads is now
    an artifact that could not be judged."""
    from scanner.registry import mediatypes as mt
    from scanner.registry.blobs import push_bytes
    from scanner.registry.manifest import build_index, build_manifest, tag_for
    from tests.batch.test_oci_cache import _attach, _bundle, _client, _push
    from tests.registry.helpers import data_relaxed_prod

    ref, digest = _push(cli, registry, clean_model(tmp_path / "m", 41), "attack/flooded")
    staging = ["--stage", "staging", "--data", data_relaxed_prod(tmp_path), "--plain-http", "--no-cache"]
    client = _client(registry)
    config = push_bytes(client, "attack/flooded", mt.EMPTY_JSON, mt.OCI_EMPTY)
    filler = []
    for i in range(256):  # harmless notes (registry distribution checks that each one exists)
        note = build_manifest(config=config, layers=[config], artifact_type="text/x-note", annotations={"n": str(i)})
        client.put_manifest("attack/flooded", note.digest, note)
        filler.append(note.descriptor(note.annotations))
    client.put_manifest("attack/flooded", tag_for(digest), build_index(filler))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp_path / "k.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    other = digest[:-4] + ("beef" if not digest.endswith("beef") else "cafe")
    _attach(registry, "attack/flooded", digest, _bundle(key, other), mt.SIGSTORE_BUNDLE)  # listed 257th
    r = cli("batch", ref, *staging, "--workers", "1", "--no-ledger", "-f", "json")
    result = json.loads(r.out)["results"][0]
    assert r.code == 2, result
    assert result["allow"] is None and "referrers" in result["error"]


def test_a_verdict_made_by_other_scanner_code_is_not_reused(tmp_path: Path) -> None:
    """The version string stays the same between releases while detections are fixed: a pickle
    that slipped past the old code must be judged by the fixed one, not answered from its cache."""
    import os
    import shutil
    import subprocess
    import sys

    import scanner

    model = clean_model(tmp_path / "m", 11)
    cache = tmp_path / "cache"
    fixed = tmp_path / "fixed"
    shutil.copytree(Path(scanner.__file__).parent, fixed / "scanner", ignore=shutil.ignore_patterns("__pycache__"))
    with (fixed / "scanner" / "models" / "__init__.py").open("a") as fh:
        fh.write("\n# a detection fixed, same version\n")
    here = Path(scanner.__file__).resolve().parent.parent
    for shipped in ("policies", "reports"):  # the same policies and templates, read from the source tree
        (fixed / shipped).symlink_to(here / shipped)

    def run(code: Path) -> dict:
        env = {**os.environ, "PYTHONPATH": str(code)}
        args = [sys.executable, "-m", "scanner", "batch", model, *_flags(cache, tmp_path)]
        proc = subprocess.run(list(map(str, args)), env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["results"][0]

    assert run(here)["cached"] is False
    assert run(here)["cached"] is True
    assert run(fixed)["cached"] is False  # same version, other code: judged again


def test_the_judging_libraries_are_the_runtime_dependencies() -> None:
    import tomllib

    from scanner.batch.toolid import JUDGING, normalise

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    declared = {normalise(re.split(r"[\s<>=~!;\[]", d, maxsplit=1)[0]) for d in pyproject["project"]["dependencies"]}
    assert declared <= set(JUDGING)


def _record(entry: dict) -> dict:
    """The evidence record an entry holds (as the text of its file, or for a large one as JSON)."""
    return json.loads(entry["record_text"]) if entry.get("record_text") is not None else entry["record"]


def _forge(entry_path: Path) -> None:
    """What anyone able to write the cache directory can do: flip a denial into an allowance and
    recompute the entry's checksum (it is public: sha256 of the canonical body)."""
    from scanner.batch.cache import canonical, digest_of
    from scanner.report.json_format import render

    doc = json.loads(entry_path.read_text())
    doc["result"]["allow"], doc["result"]["deny"] = True, []
    record = _record(doc)
    record["decision"] = {"allow": True, "deny": [], "warn": []}
    doc["record_text"] = render(record)
    body = {k: doc[k] for k in ("key", "result", "record", "record_text", "expires", "db_age")}
    entry_path.write_bytes(canonical({**body, "sha256": digest_of(body)}))


def test_an_entry_someone_else_could_write_is_not_trusted(cli, tmp_path: Path) -> None:
    """The checksum makes an edit evident only to someone who cannot recompute it. A cache in a
    place another user can write (a shared or /tmp directory they created first) must not let
    them allow a denied artifact: only entries owned by the user running the batch, and writable
    by nobody else, are used."""
    import os

    import pytest

    from tests.batch.conftest import malicious_model

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    evil = malicious_model(tmp_path / "evil")
    cache = tmp_path / "cache"
    assert cli("batch", evil, *_flags(cache, tmp_path)).code == 1
    path, _ = _entry(cache)
    _forge(path)
    os.chown(path, 4242, 4242)  # another user's file, in a directory they may write
    r = cli("batch", evil, *_flags(cache, tmp_path))
    result = json.loads(r.out)["results"][0]
    assert r.code == 1 and result["allow"] is False and result["cached"] is False, r.err
    assert "not trusted" in r.err and "owned by" in r.err
    # ours, but writable by the group or by others: as good as theirs
    path, _ = _entry(cache)
    _forge(path)
    path.chmod(0o664)
    r = cli("batch", evil, *_flags(cache, tmp_path))
    assert r.code == 1 and json.loads(r.out)["results"][0]["cached"] is False
    assert "writable by" in r.err


def test_a_file_a_requirements_file_includes_is_part_of_its_key(cli, tmp_path: Path) -> None:
    """`-r other.txt` in a requirements file judged alone reads `other.txt`, which was not part of
    the artifact's digest: the cached verdict stayed while the included file changed what the
    artifact depends on (a known-vulnerable package added, the verdict still "allowed"). The
    included files are members of the artifact now (their bytes are in its digest)."""
    project = tmp_path / "app"
    (project / "more").mkdir(parents=True)
    req = project / "requirements.txt"
    req.write_text("-r other.txt\n")
    (project / "other.txt").write_text("-r more/deeper.txt\n")
    (project / "more" / "deeper.txt").write_text("six==1.16.0\n")
    flags = ["--data", _strict_vulns(tmp_path), *_flags(tmp_path / "cache", tmp_path)]
    first = json.loads(cli("batch", req, *flags).out)["results"][0]
    assert first["allow"] is True and first["cached"] is False, first
    assert json.loads(cli("batch", req, *flags).out)["results"][0]["cached"] is True
    (project / "more" / "deeper.txt").write_text("urllib3==1.24.1\n")
    third = json.loads(cli("batch", req, *flags).out)["results"][0]
    assert third["cached"] is False and third["digest"] != first["digest"]
    assert third["allow"] is False and "vuln-fixable" in [d["rule"] for d in third["deny"]], third


def _strict_vulns(tmp_path: Path) -> Path:
    """The shipped data, with dev denying known vulnerabilities from high up (as prod does)."""
    from scanner.resources import policies_dir

    data = json.loads((policies_dir() / "data.json").read_text())
    data["scanner"]["config"]["stages"]["dev"]["vulnerability_severity"] = "high"
    data["scanner"]["config"]["stages"]["dev"]["rules"]["vuln-fixable"] = "enforce"
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(data))
    return path


def test_a_name_with_control_characters_reaches_no_summary_raw(cli, tmp_path: Path) -> None:
    """A directory name (from a listing) carrying a terminal escape: the table and the SARIF
    messages show it escaped, the HTML escapes it; only the JSON keeps it (as data, escaped)."""
    from tests.batch.conftest import malicious_model

    evil = malicious_model(tmp_path / "evil\x1b]0;owned\x07\x1b[2J")
    missing = tmp_path / "gone\x1b[31m"
    flags = ["--workers", "1", "--no-cache", "--records", tmp_path / "rec", "--no-ledger"]
    sarif, html = tmp_path / "out.sarif", tmp_path / "out.html"
    r = cli("batch", evil, missing, *flags, "-f", "table", "-f", f"sarif={sarif}", "-f", f"html={html}")
    assert r.code == 2
    for text in (r.out, r.err, sarif.read_text(), html.read_text()):
        assert "\x1b" not in text and "\\u001b" not in text and "\x07" not in text
    doc = json.loads(sarif.read_text())
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "gone\\x1b[31m" in notes[0]["message"]["text"]


def test_a_verdict_is_not_reused_once_a_waiver_it_relied_on_has_ended(cli, tmp_path: Path) -> None:
    """A waiver may end at an instant (`expires: 2026-12-05T10:00:00Z`), not only at the end of a
    day (UTC). The entry kept only the day, compared with the local date: a verdict that relied
    on the waiver was reused for the rest of that day (or longer, west of UTC)."""
    import datetime as dt

    from scanner.batch.cache import ResultCache

    model = clean_model(tmp_path / "m", 12)
    ends = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)).replace(microsecond=0)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - {id: W1, selector: {rule: MODEL-UNSAFE-GLOBAL}, reason: reviewed, owner: sec, "
        f"expires: '{ends.isoformat().replace('+00:00', 'Z')}'}}\n"
    )
    cache = tmp_path / "cache"
    r = cli("batch", model, "--waivers", waivers, *_flags(cache, tmp_path))
    assert r.code == 0, r.err
    _, entry = _entry(cache)
    key = entry["key"]
    context = {k: v for k, v in key.items() if k not in ("format", "source", "artifact")}
    cache_now = ResultCache(cache, context, db_age=entry["db_age"])
    assert cache_now.load(str(model), key["artifact"], now=ends - dt.timedelta(seconds=1)).result is not None
    after = cache_now.load(str(model), key["artifact"], now=ends + dt.timedelta(seconds=1))
    assert after.result is None and "waiver" in str(after.problem)


def test_a_default_cache_inside_a_judged_tree_stops_the_run_before_anything_is_written(
    cli, tmp_path: Path, monkeypatch
) -> None:
    """A CI runner whose cache home is inside the checkout: the user cache (vulnerability
    database, compiled policies, the batch cache) would lie inside a tree being judged. As for
    `scanner gate`, the run stops (exit 2, naming it) — before the driver builds the database
    there and so changes the tree it is about to judge."""
    import os

    checkout = clean_model(tmp_path / "checkout", 13)
    monkeypatch.delenv("SCANNER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(checkout / ".cache"))
    before = sorted(os.listdir(checkout))
    r = cli("batch", checkout, "--workers", "1", "--records", tmp_path / "rec", "--no-ledger", "-f", "json")
    assert r.code == 2
    assert "cache directory" in r.err and "inside the scanned artifact" in r.err
    assert sorted(os.listdir(checkout)) == before


def test_an_empty_directory_that_changes_the_kind_is_a_miss(cli, tmp_path: Path) -> None:
    """The kind (which inventory reader runs) is guessed from names the artifact controls, and
    an empty directory named `*.dist-info` turns a model directory into an "environment" — with
    another verdict (at staging: allowed as a model directory, denied as an environment). It held
    no bytes, so it changed nothing the digest covered; an empty folder is part of the digest
    now, and the key holds the kind as well."""
    model = clean_model(tmp_path / "m", 14)
    flags = ["--stage", "staging", *_flags(tmp_path / "cache", tmp_path)]
    first = json.loads(cli("batch", model, *flags).out)["results"][0]
    assert first["allow"] is True and first["cached"] is False
    (model / "x.dist-info").mkdir()
    second = json.loads(cli("batch", model, *flags).out)["results"][0]
    assert second["digest"] != first["digest"]
    assert second["cached"] is False and second["allow"] is False, second


def test_a_link_out_of_the_artifact_added_beside_its_files_is_a_miss(cli, tmp_path: Path) -> None:
    """A link leaving the artifact (`pytorch_model.bin -> /elsewhere/payload.bin`: a loader
    follows it to bytes nobody scanned) is never read, so it added nothing to the artifact digest:
    the gate denies it (`MODEL-SYMLINK-ESCAPE`), the cache answered the clean verdict of the same
    digest. What the walk found but did not read is part of the digest now (its kind of problem
    and a hash of its target), as are FIFOs and dangling links."""
    import os

    model = clean_model(tmp_path / "m", 15)
    payload = tmp_path / "elsewhere" / "payload.bin"
    payload.parent.mkdir()
    payload.write_bytes(b"not scanned")
    flags = _flags(tmp_path / "cache", tmp_path)
    first = json.loads(cli("batch", model, *flags).out)["results"][0]
    assert first["allow"] is True
    os.symlink(payload, model / "pytorch_model.bin")
    second = json.loads(cli("batch", model, *flags).out)["results"][0]
    assert second["cached"] is False and second["allow"] is False, second
    assert second["digest"] != first["digest"]
    # another target, another digest; a FIFO or a dangling link is part of it too
    from scanner.files import FileSet

    digests = {FileSet(model).artifact_digest()}
    os.unlink(model / "pytorch_model.bin")
    os.symlink("/etc/hostname", model / "pytorch_model.bin")
    digests.add(FileSet(model).artifact_digest())
    os.unlink(model / "pytorch_model.bin")
    digests.add(FileSet(model).artifact_digest())
    os.mkfifo(model / "pipe")
    digests.add(FileSet(model).artifact_digest())
    os.unlink(model / "pipe")
    os.symlink("nowhere", model / "gone")
    digests.add(FileSet(model).artifact_digest())
    assert len(digests) == 5
