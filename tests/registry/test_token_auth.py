"""Bearer-token authentication against the real registry: ``docker-registry`` configured with
``auth: token`` trusts JWTs signed by a test key (its certificate in ``rootcertbundle``); a small
token service on 127.0.0.1 checks Basic credentials and issues tokens scoped as asked, as the
distribution token spec describes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.registry.conftest import PASSWORD, USER, Registry, _free_port, _start, _wait_ready
from tests.registry.helpers import model_dir

SERVICE, ISSUER = "test-registry", "test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    def __init__(self, directory: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token-signer")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = directory / "token-root.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, str]] = []

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {"iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.requests.append(dict(self.headers))
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                scopes = parse_qs(urlsplit(self.path).query).get("scope", [])
                body = json.dumps({"token": service.token(scopes)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenService]]:
    from tests.registry.conftest import BINARY

    if BINARY is None:
        pytest.skip("docker-registry is not installed (apt-get install -y docker-registry; .ci/run does this)")
    tmp = tmp_path_factory.mktemp("token-registry")
    service = TokenService(tmp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), service.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = _free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'storage'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: test}}\n"
        f"auth: {{token: {{realm: 'http://127.0.0.1:{server.server_port}/token', service: {SERVICE}, "
        f"issuer: {ISSUER}, rootcertbundle: {service.bundle}}}}}\n"
    )
    log = tmp / "registry.log"
    process = _start(config, log)
    reg = Registry(f"127.0.0.1:{port}", tmp / "storage", config, log, process)
    _wait_ready(reg.host, process, log)
    yield reg, service
    reg.kill()
    server.shutdown()
    server.server_close()


def test_bearer_token_challenge(cli, token_registry, repo, tmp_path, monkeypatch) -> None:
    reg, service = token_registry
    monkeypatch.setenv("SCANNER_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("SCANNER_REGISTRY_PASSWORD", PASSWORD)
    r = cli("push", model_dir(tmp_path), reg.ref(repo, "v1"), "--plain-http")
    assert r.code == 0, r.err + reg.log.read_text()[-2000:]
    r = cli("status", reg.ref(repo), "--plain-http", "-f", "json")
    assert r.code == 0 and json.loads(r.out)["tags"][0]["tag"] == "v1"
    assert service.requests  # tokens were fetched from the realm, with the credentials


def test_bearer_with_wrong_password(cli, token_registry, repo, tmp_path, monkeypatch) -> None:
    reg, _ = token_registry
    monkeypatch.setenv("SCANNER_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("SCANNER_REGISTRY_PASSWORD", "wrong-secret-77")
    r = cli("push", model_dir(tmp_path), reg.ref(repo, "v1"), "--plain-http")
    assert r.code == 2 and "token service refused access" in r.err and "wrong-secret-77" not in r.err
