"""Artifacts for the registry tests, generated in code (payloads harmless)."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import push_bytes
from scanner.registry.client import Client
from scanner.registry.manifest import Descriptor, Manifest, build_manifest
from scanner.registry.options import RegistryOptions

PLAIN = RegistryOptions(plain_http=True)


class System:
    """Pickles as os.system('true'); never loaded."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("true",))


def model_dir(root: Path, name: str = "model", *, weights: int = 64) -> Path:
    """A small clean model: safetensors weights, config, tokenizer file and a card with a licence."""
    d = root / name
    (d / "tokenizer").mkdir(parents=True)
    rng = np.random.default_rng(1)
    save_file({"w": rng.standard_normal((weights, 4), dtype=np.float32)}, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    (d / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    (d / "README.md").write_text(
        "---\nlicense: apache-2.0\nmodel-index:\n  - name: tiny-test-model\n---\n# A model for tests\n"
    )
    return d


def malicious_model(root: Path) -> Path:
    d = root / "evil"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (d / "model.pkl").write_bytes(pickle.dumps(System(), protocol=4))
    return d


def raw_manifest(
    client: Client,
    repo: str,
    tag: str,
    files: list[tuple[bytes, str, dict[str, str]]],
    *,
    config: tuple[bytes, str] = (mt.EMPTY_JSON, mt.OCI_EMPTY),
    artifact_type: str | None = None,
    subject: Descriptor | None = None,
) -> Manifest:
    """Push blobs and a hand-made manifest (as another tool would) and tag it."""
    cfg = push_bytes(client, repo, config[0], config[1])
    layers = []
    for data, media, notes in files:
        desc = push_bytes(client, repo, data, media)
        layers.append(Descriptor(media, desc.digest, desc.size, notes))
    manifest = build_manifest(config=cfg, layers=layers, artifact_type=artifact_type, subject=subject)
    client.put_manifest(repo, tag, manifest)
    return manifest


def tar_bytes(members: dict[str, bytes], gzip: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def data_relaxed_prod(tmp: Path) -> Path:
    """Policy data where prod does not require what a test registry cannot provide (a keyless
    signature, SLSA provenance, full NTIA fields): everything else as shipped."""
    from scanner.resources import policies_dir

    data = json.loads((policies_dir() / "data.json").read_text())
    for stage in ("staging", "prod"):
        rules = data["scanner"]["config"]["stages"][stage]["rules"]
        for rule in ("signature-required", "provenance-required", "sbom-incomplete", "vuln-unaudited", "vuln-db-stale"):
            rules[rule] = "warn"
    path = tmp / "data.json"
    path.write_text(json.dumps(data))
    return path


def signed_bundle(
    private_key: Path, digest: str, name: str, predicate_type: str = "https://example.com/reviewed/v1"
) -> bytes:
    """A Sigstore bundle v0.3 as cosign writes with a key: a DSSE envelope over an in-toto
    statement about the manifest ``digest``, signed with ``private_key``, with the key's hint."""
    from cryptography.hazmat.primitives import serialization

    from scanner.verify.keyed import key_hint, sign_envelope

    key = serialization.load_pem_private_key(private_key.read_bytes(), None)
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": {"reviewed": True},
    }
    payload = json.dumps(statement).encode()
    envelope = sign_envelope(key, payload, "application/vnd.in-toto+json")
    bundle = {
        "mediaType": mt.SIGSTORE_BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(key.public_key())}},  # type: ignore[arg-type]
        "dsseEnvelope": envelope,
    }
    return json.dumps(bundle).encode()
