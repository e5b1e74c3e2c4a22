"""Duplicate keys in any JSON (or YAML) input are refused, naming the file: a second, empty
``components`` must not make the audit see nothing."""

from __future__ import annotations

import io
import json
import zipfile

from scanner import jsonfile
from tests.hostile.conftest import Hostile

COMPONENTS = '[{"type": "library", "name": "six", "version": "1.16.0", "purl": "pkg:pypi/six@1.16.0"}]'


def test_loader_rejects_duplicates_at_any_depth() -> None:
    assert jsonfile.loads('{"a": {"b": 1, "c": 2}}') == {"a": {"b": 1, "c": 2}}
    for text in ('{"a": 1, "a": 2}', '[{"x": {"b": 1, "b": 1}}]'):
        try:
            jsonfile.loads(text)
        except jsonfile.DuplicateKey as exc:
            assert "duplicate key" in str(exc)
        else:
            raise AssertionError(text)


def test_bom_with_components_twice(hostile: Hostile) -> None:
    bom = hostile.work / "bom.json"
    bom.write_text(
        '{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, '
        f'"components": {COMPONENTS}, "components": []}}'
    )
    for command in (("audit", bom), ("sbom", bom, "--input-type", "sbom")):
        out = hostile.run(*command)
        assert out.code == 2, out.text
        assert f"{bom}: " in out.err and "duplicate key 'components'" in out.err


def test_osv_record_with_duplicate_keys(hostile: Hostile) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("PYSEC-1.json", '{"id": "PYSEC-1", "modified": "2024-01-01T00:00:00Z", "affected": [], "id": "X"}')
    (hostile.work / "all.zip").write_bytes(buf.getvalue())
    out = hostile.run("db", "import", hostile.work / "all.zip", "--db", hostile.work / "osv.db")
    assert out.code == 2
    assert "all.zip!PYSEC-1.json" in out.err and "duplicate key 'id'" in out.err


def test_policy_data_and_input_with_duplicate_keys(hostile: Hostile) -> None:
    data = hostile.work / "data.json"
    data.write_text('{"stages": {}, "stages": {"prod": {}}}')
    inp = hostile.work / "input.json"
    inp.write_text(json.dumps({"artifact": {"name": "x"}})[:-1] + ', "artifact": {}}')
    out = hostile.run("policy", "eval", "--input", inp, memory=False)
    assert out.code == 2, out.text
    assert f"{inp}: " in out.err and "duplicate key 'artifact'" in out.err
    out = hostile.run("policy", "test", "--data", data, memory=False)
    assert out.code == 2, out.text
    assert f"{data}: " in out.err and "duplicate key 'stages'" in out.err


def test_waivers_with_duplicate_keys(hostile: Hostile) -> None:
    waivers = hostile.work / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - id: W1\n    rule: VULN-KNOWN\n    reason: r\n    owner: o\n    expires: 2030-01-01\n"
        "    rule: MODEL-PICKLE-GLOBAL\n"
    )
    req = hostile.work / "requirements.txt"
    req.write_text("six==1.16.0\n")
    out = hostile.run("audit", req, "--waivers", waivers)
    assert out.code == 2
    assert "waivers.yaml" in out.err and "duplicate key 'rule'" in out.err


def test_sigstore_bundle_with_duplicate_keys(hostile: Hostile) -> None:
    art = hostile.work / "artifact.txt"
    art.write_text("hello\n")
    bundle = hostile.work / "artifact.txt.sigstore.json"
    bundle.write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "mediaType": "x"}')
    out = hostile.run("verify", art, "--bundle", bundle, "--cert-identity", "a@b", "--cert-oidc-issuer", "https://x")
    assert out.code in (1, 2)
    assert "duplicate key 'mediaType'" in out.text
