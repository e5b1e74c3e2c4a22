"""Every command reads an ``oci://`` source through the same pipeline as a path."""

from __future__ import annotations

import json
from pathlib import Path

from tests.registry.helpers import malicious_model, model_dir


def test_gate_scan_sbom_audit_read_from_the_registry(cli, registry, repo, tmp_path: Path) -> None:
    pinned = cli("push", model_dir(tmp_path), registry.ref(repo, "v1"), "--plain-http").out.strip()
    digest = pinned.rsplit("@", 1)[1]
    r = cli("gate", registry.ref(repo, "v1"), "--stage", "dev", "--plain-http", "-f", "json", "--no-ledger")
    assert r.code == 0, r.err
    record = json.loads(r.out)
    assert record["artifact"]["digest"] == digest
    assert record["artifact"]["path"] == f"oci://{registry.host}/{repo}@{digest}"
    assert {f["path"] for f in record["artifact"]["files"]} >= {"model.safetensors", "tokenizer/vocab.txt"}

    r = cli("sbom", registry.ref(repo, "v1"), "--plain-http", "-f", "cyclonedx-json")
    assert r.code == 0, r.err
    bom = json.loads(r.out)
    assert any(c.get("type") == "machine-learning-model" for c in bom["components"] + [bom["metadata"]["component"]])

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.31.0\n")
    cli("push", requirements, registry.ref(repo + "-app", "v1"), "--plain-http")
    r = cli("audit", registry.ref(repo + "-app", "v1"), "--plain-http", "-f", "json", "--fail-on", "none")
    assert r.code == 0, r.err


def test_scan_finds_the_pickle_inside_a_registry_artifact(cli, registry, repo, tmp_path: Path) -> None:
    cli("push", malicious_model(tmp_path), registry.ref(repo, "v1"), "--plain-http")
    r = cli("scan", registry.ref(repo, "v1"), "--plain-http", "-f", "json")
    assert r.code == 1
    assert "MODEL-PICKLE-GLOBAL" in r.out and "model.pkl" in r.out
    assert "/tmp/" not in r.out  # files are named inside the artifact


def test_without_plain_http_a_plain_registry_is_a_clear_error(cli, registry, repo) -> None:
    r = cli("gate", registry.ref(repo, "v1"), "--stage", "dev", "--no-ledger")
    assert r.code == 2 and "use --plain-http" in r.err


def test_verify_checks_the_signatures_attached_to_the_digest(cli, registry, repo, tmp_path: Path, sign_key) -> None:
    from scanner.registry import mediatypes as mt
    from scanner.registry.client import Client
    from scanner.registry.manifest import build_index, tag_for
    from tests.registry.helpers import PLAIN, raw_manifest, signed_bundle

    pinned = cli("push", model_dir(tmp_path), registry.ref(repo, "v1"), "--plain-http").out.strip()
    digest = pinned.rsplit("@", 1)[1]
    r = cli("verify", registry.ref(repo, "v1"), "--plain-http", "--key", sign_key[1])
    assert (
        r.code == 2 and f"oci://{registry.host}/{repo}@{digest}: no signature found (looked at the referrers" in r.err
    )

    client = Client(registry.host, PLAIN)
    subject = client.get_manifest(repo, digest).descriptor()
    good = signed_bundle(sign_key[0], digest, f"{registry.host}/{repo}")
    sig = raw_manifest(client, repo, "sig", [(good, mt.SIGSTORE_BUNDLE, {})], artifact_type=mt.SIGSTORE_BUNDLE,
                       subject=subject)  # fmt: skip
    client.put_manifest(repo, tag_for(digest), build_index([sig.descriptor()]))
    r = cli("verify", registry.ref(repo, "v1"), "--plain-http", "--key", sign_key[1], "-f", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["verified"] and doc["artifact"] == f"oci://{registry.host}/{repo}@{digest}"
    assert doc["signatures"][0]["bundle"].startswith(f"oci://{registry.host}/{repo}@{digest} referrer ")
    gate = cli("gate", registry.ref(repo, "v1"), "--plain-http", "--stage", "prod", "--no-ledger", "-f", "json")
    for out in (r.out + r.err, gate.out + gate.err):  # the private folders pulled into are never named
        assert "scanner-oci" not in out


def test_pickle_inside_a_kitops_layer_is_found(cli, registry, repo, tmp_path: Path) -> None:
    """ModelKit layers stay tarballs on disk; the model check reads inside them by content."""
    import pickle

    from scanner.registry import mediatypes as mt
    from scanner.registry.client import Client
    from tests.registry.helpers import PLAIN, System, raw_manifest, tar_bytes

    layer = tar_bytes({"model/weights.pkl": pickle.dumps(System(), protocol=4)}, gzip=True)
    raw_manifest(
        Client(registry.host, PLAIN),
        repo,
        "kit",
        [(layer, "application/vnd.kitops.modelkit.model.v1.tar+gzip", {})],
        config=(b'{"manifestVersion": "1.0"}', mt.KITOPS_CONFIG),
    )
    r = cli("scan", registry.ref(repo, "kit"), "--plain-http", "-f", "json")
    assert r.code == 1, r.err
    assert "MODEL-PICKLE-GLOBAL" in r.out and "model/weights.pkl" in r.out


def test_sarif_locations_of_a_registry_artifact_are_well_formed_references(cli, registry, repo, tmp_path: Path) -> None:
    """A file inside a pulled artifact is located at the pinned reference and its path in the
    artifact (``oci://host/repo@sha256:…/model.pkl``), a single pulled file at the reference —
    never a path-normalised ``oci:/host/…`` (one slash: a URI no consumer resolves)."""
    model = malicious_model(tmp_path)
    single = tmp_path / "single.pkl"
    single.write_bytes((model / "model.pkl").read_bytes())
    in_dir = _pinned(registry, repo, cli("push", model, registry.ref(repo, "dir"), "--plain-http").out)
    alone = _pinned(
        registry, repo + "-file", cli("push", single, registry.ref(repo + "-file", "one"), "--plain-http").out
    )
    for ref, pinned, where in (
        (registry.ref(repo, "dir"), in_dir, f"{in_dir}/model.pkl"),
        (registry.ref(repo + "-file", "one"), alone, alone),
    ):
        r = cli("gate", ref, "--stage", "dev", "--plain-http", "-f", "sarif", "--no-ledger")
        assert r.code == 1, r.err
        results = json.loads(r.out)["runs"][0]["results"]
        located = [
            (res["ruleId"], loc["physicalLocation"]["artifactLocation"]["uri"])
            for res in results
            for loc in res["locations"]
        ]
        assert located and all(uri.startswith(pinned) for _, uri in located), located
        assert {uri for rule, uri in located if rule == "MODEL-PICKLE-GLOBAL"} == {where}


def _pinned(registry, repo: str, pushed: str) -> str:
    """``oci://host/repo@sha256:…``: the reference a pulled artifact's records name."""
    return f"oci://{registry.host}/{repo}@{pushed.strip().rsplit('@', 1)[1]}"


def test_a_pulled_artifact_is_judged_with_the_names_of_its_files(
    cli, registry, repo, tmp_path: Path, monkeypatch
) -> None:
    """Waivers and the policy see a pulled file under its name in the artifact, as they see the
    same file judged from disk — never under the private folder it was pulled into (a waiver
    naming ``model.pkl`` waived the local file and not the same file pulled: two verdicts)."""
    single = tmp_path / "model.pkl"
    single.write_bytes((malicious_model(tmp_path) / "model.pkl").read_bytes())
    cli("push", single, registry.ref(repo, "one"), "--plain-http")
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "waivers:\n  - id: W-1\n    selector: {rule: MODEL-PICKLE-GLOBAL, path: model.pkl}\n"
        "    reason: accepted for the test\n    owner: platform\n    expires: 2099-12-31\n"
    )
    monkeypatch.chdir(tmp_path)
    common = ("--stage", "dev", "--no-ledger", "--waivers", waivers, "-f", "json")
    local = cli("gate", "model.pkl", *common)
    pulled = cli("gate", registry.ref(repo, "one"), "--plain-http", *common, "--save-input", tmp_path / "in.json")
    assert local.code == 0, local.out
    assert pulled.code == local.code, pulled.out
    for run in (local, pulled):
        waived = [f for f in json.loads(run.out)["findings"] if f["id"] == "MODEL-PICKLE-GLOBAL"]
        assert waived and all(f["subject"] == "model.pkl" for f in waived)
    assert "scanner-oci" not in (tmp_path / "in.json").read_text()


def test_the_sbom_of_a_pulled_model_names_its_files_inside_it(cli, registry, repo, tmp_path: Path) -> None:
    """The requirements a pulled model carries are sourced at ``requirements.txt:1`` (its path in
    the artifact), never in the private folder it was pulled into."""
    model = model_dir(tmp_path)
    (model / "requirements.txt").write_text("requests==2.0.0\n")
    cli("push", model, registry.ref(repo, "v1"), "--plain-http")
    r = cli("sbom", registry.ref(repo, "v1"), "--plain-http", "-f", "cyclonedx-json")
    assert r.code == 0, r.err
    bom = json.loads(r.out)
    sources = {
        p["value"]
        for c in bom["components"]
        if c.get("purl") == "pkg:pypi/requests@2.0.0"
        for p in c.get("properties") or []
        if p["name"] == "scanner:source"
    }
    assert sources == {"requirements.txt:1"}
    assert "scanner-oci" not in r.out


def test_provenance_attached_in_the_registry_is_judged_about_the_pinned_reference(
    cli, registry, repo, tmp_path: Path, sign_key
) -> None:
    """A provenance statement attached to the digest is about the manifest: a failed one is a
    finding on the pinned reference (as an attached signature's is), never on the private file
    the manifest's bytes were saved to for verification."""
    from cryptography.hazmat.primitives import serialization

    from scanner.registry import mediatypes as mt
    from scanner.registry.client import Client
    from scanner.registry.referrers import attach, build_referrer
    from scanner.verify.keyed import sign_envelope
    from tests.registry.helpers import PLAIN

    pinned = _pinned(registry, repo, cli("push", model_dir(tmp_path), registry.ref(repo, "v1"), "--plain-http").out)
    digest = pinned.rsplit("@", 1)[1]
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"{registry.host}/{repo}", "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://builder.example/untrusted"}},
        },
    }
    key = serialization.load_pem_private_key(sign_key[0].read_bytes(), None)
    envelope = json.dumps(sign_envelope(key, json.dumps(statement).encode(), "application/vnd.in-toto+json")).encode()
    client = Client(registry.host, PLAIN)
    subject = client.get_manifest(repo, digest).descriptor()
    attach(client, repo, build_referrer(client, repo, subject, mt.DSSE_ENVELOPE, [(envelope, mt.DSSE_ENVELOPE)], {}))

    saved = tmp_path / "in.json"
    r = cli("gate", registry.ref(repo, "v1"), "--plain-http", "--stage", "dev", "--no-ledger", "--key", sign_key[1],
            "-f", "json", "--save-input", saved)  # fmt: skip
    assert r.code in (0, 1), r.err
    [finding] = [f for f in json.loads(r.out)["findings"] if f["id"] == "PROVENANCE-INVALID"]
    assert finding["subject"] == pinned
    assert "scanner-oci" not in r.out + r.err + saved.read_text()


def test_an_error_in_a_pulled_file_names_it_inside_the_artifact(cli, registry, repo, tmp_path: Path) -> None:
    """A file of a pulled artifact that stops the run is named by its path in the artifact, as
    piped content is named stdin — never by the private folder it was pulled into."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project\nname = 'x'\n")
    assert cli("push", project / "pyproject.toml", registry.ref(repo, "v1"), "--plain-http").code == 0
    for command in (("gate", "--stage", "dev", "--no-ledger"), ("sbom",), ("audit",)):
        r = cli(command[0], registry.ref(repo, "v1"), "--plain-http", *command[1:])
        assert r.code == 2 and "scanner: error: pyproject.toml: malformed TOML" in r.err, r.err
        assert "scanner-oci" not in r.out + r.err
    r = cli("batch", registry.ref(repo, "v1"), "--plain-http", "--stage", "dev", "--no-ledger", "--no-cache",
            "-f", "json")  # fmt: skip
    [result] = json.loads(r.out)["results"]
    assert result["error"].startswith("pyproject.toml: malformed TOML"), result
    assert "scanner-oci" not in r.out + r.err


def test_a_signature_file_inside_a_pulled_model_is_named_inside_it(cli, registry, repo, tmp_path: Path) -> None:
    """``model.sig`` carried in a pulled model is named ``model.sig`` wherever a report names the
    signature it holds — the signatures section, the finding, the files read, ``verify`` —
    never by the private folder it was pulled into."""
    model = model_dir(tmp_path)
    (model / "model.sig").write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}')
    assert cli("push", model, registry.ref(repo, "v1"), "--plain-http").code == 0
    saved = tmp_path / "in.json"
    gate = cli("gate", registry.ref(repo, "v1"), "--plain-http", "--stage", "dev", "--no-ledger", "-f", "json",
               "--save-input", saved)  # fmt: skip
    record = json.loads(gate.out)
    assert [s["bundle"] for s in record["sections"]["signatures"]] == ["model.sig"]
    [finding] = [f for f in record["findings"] if f["id"] == "SIGNATURE-INVALID"]
    assert finding["message"].startswith("signature model.sig does not verify")
    assert [f["path"] for f in record["inputs"]["signature_files"]] == ["model.sig"]
    verify = cli("verify", registry.ref(repo, "v1"), "--plain-http", "-f", "json")
    assert [s["bundle"] for s in json.loads(verify.out)["signatures"]] == ["model.sig"]
    for out in (gate.out + gate.err, verify.out + verify.err, saved.read_text()):
        assert "scanner-oci" not in out


def test_sarif_locates_a_pulled_artifacts_packages_in_it(cli, registry, repo, tmp_path: Path) -> None:
    """A vulnerable pin in a pulled application is located at its manifest inside the artifact
    (``oci://…@sha256:…/requirements.txt``, line 1), not at a ``requirements.txt`` of whatever
    directory the report is read in; pulled alone, at the pinned reference."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.11.2\n")
    (app / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    as_dir = _pinned(registry, repo, cli("push", app, registry.ref(repo, "dir"), "--plain-http").out)
    alone = _pinned(
        registry,
        repo + "-req",
        cli("push", app / "requirements.txt", registry.ref(repo + "-req", "v1"), "--plain-http").out,
    )
    for ref, where in (
        (registry.ref(repo, "dir"), f"{as_dir}/requirements.txt"),
        (registry.ref(repo + "-req", "v1"), alone),
    ):
        r = cli("gate", ref, "--stage", "dev", "--plain-http", "-f", "sarif", "--no-ledger")
        assert r.code in (0, 1), r.err
        located = {
            (
                loc["physicalLocation"]["artifactLocation"]["uri"],
                loc["physicalLocation"].get("region", {}).get("startLine"),
            )
            for res in json.loads(r.out)["runs"][0]["results"]
            if res["ruleId"] == "VULN-KNOWN"
            for loc in res["locations"]
        }
        assert located == {(where, 1)}, located


def test_sarif_locates_a_pulled_requirements_files_includes_inside_it(cli, registry, repo, tmp_path: Path) -> None:
    """A requirements file pushed with its include (``-r more.txt``) is pulled as that file: what
    is in ``more.txt`` is located at ``oci://…@sha256:…/more.txt`` and its line, not at line 3 of
    the requirements file (the reference); what is in the requirements file stays at the reference."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("requests==2.31.0\n-r more.txt\n")
    (app / "more.txt").write_text("# c\n\njinja2==2.11.2\nflask>=1\n")
    pinned = _pinned(
        registry, repo, cli("push", app / "requirements.txt", registry.ref(repo, "v1"), "--plain-http").out
    )
    r = cli("gate", registry.ref(repo, "v1"), "--stage", "dev", "--plain-http", "-f", "sarif", "--no-ledger")
    assert r.code in (0, 1), r.err
    assert "scanner-oci" not in r.out
    located = {
        (
            res["ruleId"],
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"].get("region", {}).get("startLine"),
        )
        for res in json.loads(r.out)["runs"][0]["results"]
        for loc in res["locations"]
    }
    assert ("VULN-KNOWN", f"{pinned}/more.txt", 3) in located, located
    assert ("VULN-UNAUDITED", f"{pinned}/more.txt", 4) in located, located
    assert all(uri in (pinned, f"{pinned}/more.txt") for _, uri, _ in located), located
