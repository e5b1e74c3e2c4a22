"""Fixtures for the verify tests: throwaway keys and a CA made with ``cryptography``, DSSE
signing with securesystemslib, and copies of the real Sigstore bundles (never edited in place)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ASSETS = Path(__file__).parent / "assets"
GITHUB = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    key: ec.EllipticCurvePrivateKey


def make_keypair(directory: Path, name: str) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    priv, pub = directory / f"{name}.key", directory / f"{name}.pub"
    priv.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return KeyPair(priv, pub, key)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    d = tmp_path_factory.mktemp("keys")
    return {name: make_keypair(d, name) for name in ("signer", "other")}


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    leaf_key: Path
    leaf_cert: Path
    other_ca_cert: Path


def _cert(subject: str, public_key: Any, issuer: str, issuer_key: Any, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA, a code-signing leaf issued by it, and an unrelated second CA."""
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    leaf = make_keypair(d, "leaf")
    ca = _cert("Test CA", ca_key.public_key(), "Test CA", ca_key, ca=True)
    other = _cert("Other CA", other_key.public_key(), "Other CA", other_key, ca=True)
    leaf_cert = _cert("model-signer@example.com", leaf.key.public_key(), "Test CA", ca_key, ca=False)
    paths = {"ca.pem": ca, "other-ca.pem": other, "leaf.pem": leaf_cert}
    for name, cert in paths.items():
        (d / name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(d / "ca.pem", leaf.private, d / "leaf.pem", d / "other-ca.pem")


def statement(subjects: list[tuple[str, str]], predicate_type: str, predicate: dict[str, Any]) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in subjects],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_dsse(stmt: dict[str, Any], key: KeyPair, payload_type: str = "application/vnd.in-toto+json") -> dict:
    """A DSSE envelope made by securesystemslib (an independent implementation of ours)."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    env = Envelope(payload=json.dumps(stmt).encode(), payload_type=payload_type, signatures={})
    env.sign(CryptoSigner(key.key))
    return env.to_dict()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def copy_asset(tmp_path: Path, artifact: str, bundle: str) -> tuple[Path, Path]:
    """Copy a real artifact and its bundle into a test's own directory (writable copies)."""
    a, b = tmp_path / artifact, tmp_path / bundle
    shutil.copyfile(ASSETS / artifact, a)
    shutil.copyfile(ASSETS / bundle, b)
    return a, b


def flip_byte(path: Path, offset: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
