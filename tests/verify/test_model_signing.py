"""OpenSSF model signatures made by model-signing with a key and with a throwaway CA, then
tampered with: a failure names, in plain words, each file that changed, is missing or was added."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scanner.verify.api import Options, verify_artifact
from scanner.verify.modelsig import diff_manifests, verify_model
from tests.verify.conftest import flip_byte, sign_dsse, statement


def make_model(root: Path) -> Path:
    model = root / "tiny-model"
    (model / "tokenizer").mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (model / "model.safetensors").write_bytes(os.urandom(64 * 1024))
    (model / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    return model


def sign_with_key(model: Path, key: Path, signature: Path, algorithm: str = "sha256") -> Path:
    from model_signing import hashing, signing

    config = signing.Config().use_elliptic_key_signer(private_key=key)
    config.set_hashing_config(hashing.Config().use_file_serialization(hashing_algorithm=algorithm))  # type: ignore[arg-type]
    config.sign(model, signature)
    return signature


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path)


@pytest.mark.parametrize("algorithm", ["sha256", "blake2", "blake3"])
def test_key_signed_model_verifies(cli, model: Path, keys, algorithm: str) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("tiny-model.sig"), algorithm)
    run = cli("verify", model, "--key", keys["signer"].public)  # signature found beside the model
    assert run.code == 0, run.out + run.err
    assert f"OK    model-signing    {sig}: signed with the given key" in run.out


def test_signature_inside_the_model_is_ignored(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model / "model.sig")
    [r] = verify_artifact(model, sig, Options(key=keys["signer"].public))
    assert r.verified, r.error


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda m: flip_byte(m / "model.safetensors", 1000), "1 file changed (model.safetensors)"),
        (lambda m: (m / "tokenizer" / "vocab.txt").unlink(), "1 file missing (tokenizer/vocab.txt)"),
        (lambda m: (m / "extra.py").write_text("import os\n"), "1 file added (extra.py)"),
        (
            lambda m: (flip_byte(m / "config.json"), (m / "config.json").rename(m / "config2.json")),
            "1 file missing (config.json); 1 file added (config2.json)",
        ),
    ],
    ids=["flip-byte", "delete", "add", "rename"],
)
@pytest.mark.parametrize("algorithm", ["sha256", "blake2"])
def test_tampered_model(model: Path, keys, tamper, error: str, algorithm: str) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("tiny-model.sig"), algorithm)
    tamper(model)
    r = verify_model(model, sig, key=keys["signer"].public)
    assert not r.verified
    assert r.error == f"model does not match its signature: {error}"


def test_several_changes_in_one_sentence(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    flip_byte(model / "model.safetensors")
    flip_byte(model / "config.json")
    (model / "tokenizer" / "vocab.txt").unlink()
    (model / "a.bin").write_bytes(b"x")
    (model / "b.bin").write_bytes(b"y")
    r = verify_model(model, sig, key=keys["signer"].public)
    assert r.error == (
        "model does not match its signature: 2 files changed (config.json, model.safetensors); "
        "1 file missing (tokenizer/vocab.txt); 2 files added (a.bin, b.bin)"
    )


def test_swapped_key(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    r = verify_model(model, sig, key=keys["other"].public)
    assert r.error == "model was signed with a different key (the signature's key hint does not match the given key)"


def test_forged_signature_bytes(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    doc = json.loads(sig.read_text())
    forged = sign_dsse({"x": 1}, keys["other"])["signatures"][0]["sig"]
    doc["dsseEnvelope"]["signatures"][0]["sig"] = forged
    sig.write_text(json.dumps(doc))
    r = verify_model(model, sig, key=keys["signer"].public)
    assert r.error == "model signature does not verify with the given key (wrong key or tampered signature)"


def test_manifest_edited_to_match_tampered_file(model: Path, keys) -> None:
    """Rewriting the signed manifest to hide a change breaks the signature instead."""
    import base64

    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    doc = json.loads(sig.read_text())
    stmt = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    stmt["predicate"]["resources"] = stmt["predicate"]["resources"][:-1]
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    sig.write_text(json.dumps(doc))
    r = verify_model(model, sig, key=keys["signer"].public)
    assert r.error == "model signature does not verify with the given key (wrong key or tampered signature)"


def sign_with_certificate(model: Path, pki, signature: Path) -> Path:
    from model_signing import signing

    signing.Config().use_certificate_signer(
        private_key=pki.leaf_key, signing_certificate=pki.leaf_cert, certificate_chain=[pki.ca_cert]
    ).sign(model, signature)
    return signature


def test_certificate_chain_method(cli, model: Path, pki) -> None:
    sig = sign_with_certificate(model, pki, model.with_name("tiny-model.sig"))
    run = cli("verify", model, "--cert-chain", pki.ca_cert)
    assert run.code == 0, run.out + run.err
    assert f"OK    model-signing    {sig}: signed by CN=model-signer@example.com" in run.out
    flip_byte(model / "model.safetensors")
    r = verify_model(model, sig, cert_chain=[pki.ca_cert])
    assert r.error == "model does not match its signature: 1 file changed (model.safetensors)"
    assert r.identity == "CN=model-signer@example.com"


def test_certificate_chain_untrusted_ca(model: Path, pki) -> None:
    sig = sign_with_certificate(model, pki, model.with_name("m.sig"))
    r = verify_model(model, sig, cert_chain=[pki.other_ca_cert])
    assert not r.verified
    assert r.error == (
        "signing certificate does not chain to the given CA certificates (self-signed certificate in certificate chain)"
    )


def test_key_signed_model_on_the_sigstore_path(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    r = verify_model(model, sig, rules=())
    assert r.error == "model signature was made with a key: verify it with --key"


def test_not_a_model_signature(model: Path, keys) -> None:
    env = sign_dsse(statement([("x", "00" * 32)], "https://example.com/other", {}), keys["signer"])
    sig = model.with_name("m.sig")
    sig.write_text(json.dumps(env))
    r = verify_model(model, sig, key=keys["signer"].public)
    assert r.error == "a model signature must be one Sigstore bundle holding a DSSE envelope"


def test_symlink_in_model_is_refused(model: Path, keys) -> None:
    sig = sign_with_key(model, keys["signer"].private, model.with_name("m.sig"))
    (model / "escape").symlink_to("/etc/passwd")
    r = verify_model(model, sig, key=keys["signer"].public)
    assert not r.verified
    assert r.error == (
        f"model signature does not verify: Cannot use '{model / 'escape'}' because it is a symlink. "
        "This behavior can be changed with `allow_symlinks`."
    )


def test_diff_folds_shards_into_files() -> None:
    expected = {"w.bin:0:10": "a", "w.bin:10:20": "b", "c.json": "c"}
    actual = {"w.bin:0:10": "a", "w.bin:10:20": "X", "d.json": "d"}
    assert diff_manifests(expected, actual) == (["w.bin"], ["c.json"], ["d.json"])
