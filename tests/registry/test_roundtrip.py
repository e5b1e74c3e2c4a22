"""Push and pull against the real registry: every artifact kind round-trips byte for byte; other
tools' model artifacts are read; hostile manifests and tampered storage are refused (exit 2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from scanner.errors import ScanError
from scanner.registry import mediatypes as mt
from scanner.registry.client import Client
from scanner.registry.options import RegistryOptions
from scanner.registry.pull import UnsafePath
from scanner.registry.push import push
from scanner.registry.reference import parse_reference
from scanner.registry.source import open_source
from tests.registry.helpers import PLAIN, model_dir, raw_manifest, tar_bytes


def _tree(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_model_dir_round_trip_as_modelpack(cli, registry, repo, tmp_path: Path) -> None:
    src = model_dir(tmp_path)
    r = cli("push", src, registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 0, r.err
    pinned = r.out.strip()
    assert pinned.startswith(registry.ref(repo, "v1") + "@sha256:")

    client = Client(registry.host, PLAIN)
    manifest = client.get_manifest(repo, "v1")
    assert manifest.digest == pinned.rsplit("@", 1)[1]
    assert manifest.artifact_type == mt.MODEL_MANIFEST_ARTIFACT
    assert manifest.config is not None and manifest.config.media_type == mt.MODEL_CONFIG
    by_path = {layer.annotations[mt.ANN_FILEPATH]: layer.media_type for layer in manifest.layers}
    assert by_path == {
        "README.md": mt.MODEL_DOC,
        "config.json": mt.MODEL_WEIGHT_CONFIG,
        "model.safetensors": mt.MODEL_WEIGHT,
        "tokenizer/vocab.txt": mt.MODEL_WEIGHT_CONFIG,
    }
    config = json.loads(b"".join(client.open_blob(repo, manifest.config.digest).iter_content(1 << 16)))
    assert config["descriptor"]["name"] == "tiny-test-model"
    assert config["descriptor"]["licenses"] == ["Apache-2.0"]
    assert config["modelfs"]["diffIds"] == [layer.digest for layer in manifest.layers]

    pulled = open_source(pinned, tmp_path / "work", PLAIN)
    assert pulled.digest == manifest.digest and pulled.format == "modelpack"
    assert pulled.ref == f"oci://{registry.host}/{repo}@{manifest.digest}"
    assert _tree(pulled.root) == _tree(src)
    assert oct(pulled.root.parent.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize(
    ("make", "artifact_type"),
    [
        (lambda d: _write(d / "requirements.txt", "requests==2.31.0\n"), "requirements"),
        (lambda d: _write(d / "app" / "pyproject.toml", '[project]\nname = "app"\nversion = "1"\n').parent, "app-dir"),
        (lambda d: _write(d / "bom.json", json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6"})), "sbom"),
        (lambda d: _write(d / "pkg-1.0-py3-none-any.whl", "PK\x05\x06" + "\0" * 18), "wheel"),
        (lambda d: _write(d / "weights.safetensors", "\x08\0\0\0\0\0\0\0{}      "), None),
    ],
)
def test_every_kind_round_trips(make, artifact_type, registry, repo, tmp_path: Path) -> None:
    src = make(tmp_path)
    client = Client(registry.host, PLAIN)
    result = push(src, parse_reference(registry.ref(repo, "t")), client)
    expected = f"application/vnd.scanner.artifact.{artifact_type}.v1" if artifact_type else mt.MODEL_MANIFEST_ARTIFACT
    assert result.artifact_type == expected
    pulled = open_source(registry.ref(repo, "t"), tmp_path / "work", PLAIN)
    assert _tree(pulled.root) == _tree(src)
    if src.is_file():
        assert pulled.root.name == src.name  # a one-file artifact is that file again


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_kitops_modelkit_is_read_without_unpacking(registry, repo, tmp_path: Path) -> None:
    client = Client(registry.host, PLAIN)
    model_tar = tar_bytes({"model/weights.bin": b"\0" * 64}, gzip=True)
    code_tar = tar_bytes({"code/train.py": b"print('hi')\n"})
    kitfile = json.dumps({"manifestVersion": "1.0", "package": {"name": "kit-model"}}).encode()
    manifest = raw_manifest(
        client,
        repo,
        "kit",
        [
            (model_tar, "application/vnd.kitops.modelkit.model.v1.tar+gzip", {}),
            (code_tar, "application/vnd.kitops.modelkit.code.v1.tar", {}),
        ],
        config=(kitfile, mt.KITOPS_CONFIG),
    )
    pulled = open_source(registry.ref(repo, "kit"), tmp_path / "w", PLAIN)
    assert pulled.format == "kitops"
    names = sorted(f.rel for f in pulled.files)
    short = [layer.digest.split(":")[1][:12] for layer in manifest.layers]
    assert names == sorted([f"model-{short[0]}.tar.gz", f"code-{short[1]}.tar"])
    assert (pulled.root / f"model-{short[0]}.tar.gz").read_bytes() == model_tar


def test_docker_model_artifact_is_read(registry, repo, tmp_path: Path) -> None:
    client = Client(registry.host, PLAIN)
    gguf = b"GGUF" + b"\x03\0\0\0" + b"\0" * 16
    raw_manifest(
        client,
        repo,
        "dmr",
        [
            (gguf, "application/vnd.docker.ai.gguf.v3", {}),
            (b"MIT License\n", "application/vnd.docker.ai.license", {mt.ANN_TITLE: "LICENSE"}),
        ],
        config=(b'{"config":{"format":"gguf"}}', "application/vnd.docker.ai.model.config.v0.1+json"),
    )
    pulled = open_source(registry.ref(repo, "dmr"), tmp_path / "w", PLAIN)
    assert pulled.format == "docker-model"
    names = {f.rel for f in pulled.files}
    assert "LICENSE" in names and any(n.startswith("gguf-") and n.endswith(".gguf") for n in names)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../../etc/cron.d/evil", "path traversal"),
        ("/etc/passwd", "absolute"),
        ("a/../../b", "path traversal"),
        ("ok\x00name", "control characters"),
    ],
)
def test_traversal_in_filepath_annotation_is_refused(
    cli, registry, repo, tmp_path: Path, path: str, message: str
) -> None:
    client = Client(registry.host, PLAIN)
    raw_manifest(
        client,
        repo,
        "evil",
        [(b"x", mt.MODEL_WEIGHT, {mt.ANN_FILEPATH: path})],
        config=(b"{}", mt.MODEL_CONFIG),
        artifact_type=mt.MODEL_MANIFEST_ARTIFACT,
    )
    with pytest.raises(UnsafePath, match=message):
        open_source(registry.ref(repo, "evil"), tmp_path / "w", PLAIN)
    assert not any((tmp_path / "w").rglob("passwd")) and not (tmp_path / "etc").exists()
    r = cli("promote", registry.ref(repo, "evil"), registry.ref(repo, "prod"), "--stage", "dev", "--plain-http")
    assert r.code == 2 and message in r.err
    assert Client(registry.host, PLAIN).resolve(repo, "prod") is None


def test_duplicate_paths_and_declared_links_are_refused(registry, repo, tmp_path: Path) -> None:
    client = Client(registry.host, PLAIN)
    raw_manifest(
        client,
        repo,
        "dup",
        [(b"a", mt.MODEL_DOC, {mt.ANN_FILEPATH: "x"}), (b"b", mt.MODEL_DOC, {mt.ANN_FILEPATH: "./x"})],
    )
    with pytest.raises(UnsafePath, match="two layers claim"):
        open_source(registry.ref(repo, "dup"), tmp_path / "w", PLAIN)
    raw_manifest(
        client,
        repo,
        "nest",
        [(b"a", mt.MODEL_DOC, {mt.ANN_FILEPATH: "x"}), (b"b", mt.MODEL_DOC, {mt.ANN_FILEPATH: "x/y"})],
    )
    with pytest.raises(UnsafePath, match="directory where another layer is a file"):
        open_source(registry.ref(repo, "nest"), tmp_path / "w", PLAIN)
    link = json.dumps({"name": "x", "typeflag": 50})
    raw_manifest(
        client,
        repo,
        "link",
        [(b"/etc/passwd", mt.MODEL_DOC, {mt.ANN_FILEPATH: "x", "org.cncf.model.file.metadata+json": link})],
    )
    with pytest.raises(UnsafePath, match="declares a link"):
        open_source(registry.ref(repo, "link"), tmp_path / "w", PLAIN)


def test_tampered_blob_in_storage_is_refused(cli, registry, repo, tmp_path: Path) -> None:
    src = model_dir(tmp_path, weights=4096)
    client = Client(registry.host, PLAIN)
    push(src, parse_reference(registry.ref(repo, "v1")), client)
    weights = hashlib.sha256((src / "model.safetensors").read_bytes()).hexdigest()
    data = registry.storage / "docker/registry/v2/blobs/sha256" / weights[:2] / weights / "data"
    original = data.read_bytes()
    try:
        data.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit flipped
        r = cli("promote", registry.ref(repo, "v1"), registry.ref(repo, "staging"), "--stage", "dev", "--plain-http")
        assert r.code == 2
        assert f"blob sha256:{weights} does not match its digest" in r.err
        assert client.resolve(repo, "staging") is None
    finally:
        data.write_bytes(original)


def test_size_budget_and_manifest_budget(cli, registry, repo, tmp_path: Path) -> None:
    src = model_dir(tmp_path, weights=8192)
    push(src, parse_reference(registry.ref(repo, "v1")), Client(registry.host, PLAIN))
    r = cli("promote", registry.ref(repo, "v1"), registry.ref(repo, "s"), "--stage", "dev", "--plain-http",
            "--max-artifact-size", "64K")  # fmt: skip
    assert r.code == 2 and "over --max-artifact-size (65536 bytes): not fetched" in r.err
    tight = RegistryOptions(plain_http=True, max_manifest_size=256)
    with pytest.raises(ScanError, match="larger than 256 bytes"):
        open_source(registry.ref(repo, "v1"), tmp_path / "w", tight)


def test_declared_size_lies_are_cut_off(registry, repo, tmp_path: Path) -> None:
    """A manifest claiming a smaller size than the blob has: reading stops at the claimed size."""
    from scanner.registry.blobs import push_bytes
    from scanner.registry.manifest import Descriptor, build_manifest

    client = Client(registry.host, PLAIN)
    blob = push_bytes(client, repo, b"A" * 1000, mt.MODEL_WEIGHT)
    cfg = push_bytes(client, repo, b"{}", mt.MODEL_CONFIG)
    lie = Descriptor(mt.MODEL_WEIGHT, blob.digest, 10, {mt.ANN_FILEPATH: "w.bin"})
    try:
        client.put_manifest(repo, "lie", build_manifest(config=cfg, layers=[lie]))
    except ScanError:
        pytest.skip("registry refused the inconsistent manifest itself")
    with pytest.raises(ScanError, match="larger than its 10 bytes"):
        open_source(registry.ref(repo, "lie"), tmp_path / "w", PLAIN)


def test_a_model_with_an_empty_file_round_trips(cli, registry, repo, tmp_path: Path) -> None:
    """An empty file (``__init__.py``, ``.gitkeep``) is an empty blob: pushed, pulled back as an
    empty file, the same artifact. (Its upload was sent with a chunked body and a zero length at
    once: the registry waited for the body and the push timed out after 30 s.)"""
    src = model_dir(tmp_path)
    (src / "__init__.py").write_bytes(b"")
    r = cli("push", src, registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 0, r.err
    pulled = open_source(r.out.strip(), tmp_path / "work", PLAIN)
    assert _tree(pulled.root) == _tree(src)
    assert (pulled.root / "__init__.py").read_bytes() == b""
