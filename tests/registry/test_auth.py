"""Credentials: from the environment or the Docker config, never printed, never sent to another
host after a redirect; wrong or missing credentials are one clear line (exit 2)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scanner.registry.client import Client
from tests.registry.conftest import PASSWORD, USER
from tests.registry.helpers import PLAIN, model_dir


def test_push_and_pull_with_environment_credentials(cli, auth_registry, repo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCANNER_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("SCANNER_REGISTRY_PASSWORD", PASSWORD)
    r = cli("push", model_dir(tmp_path), auth_registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 0, r.err
    r = cli("status", auth_registry.ref(repo), "--plain-http", "-f", "json")
    assert r.code == 0 and json.loads(r.out)["tags"][0]["tag"] == "v1"
    assert PASSWORD not in r.out + r.err


def test_docker_config_credentials(cli, auth_registry, repo, tmp_path, monkeypatch) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    r = cli("push", model_dir(tmp_path), auth_registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 0, r.err


def test_wrong_password_is_a_clear_error_without_the_secret(cli, auth_registry, repo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCANNER_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("SCANNER_REGISTRY_PASSWORD", "not-the-password-42")
    r = cli("push", model_dir(tmp_path), auth_registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 2
    assert "authentication failed (credentials from SCANNER_REGISTRY_USERNAME/SCANNER_REGISTRY_PASSWORD)" in r.err
    assert "not-the-password-42" not in r.err + r.out
    assert base64.b64encode(f"{USER}:not-the-password-42".encode()).decode() not in r.err
    assert "Traceback" not in r.err


def test_no_credentials_says_how_to_log_in(cli, auth_registry, repo) -> None:
    r = cli("status", auth_registry.ref(repo), "--plain-http")
    assert r.code == 2 and "needs a login" in r.err and "SCANNER_REGISTRY_USERNAME" in r.err


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


def _redirector(target: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if "Authorization" not in self.headers:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="test"')
            else:
                self.send_response(307)
                self.send_header("Location", f"{target}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    return Redirect


@pytest.fixture
def servers() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server that challenges, then redirects every authenticated request to a second server
    on another port (another origin) that records the headers it receives."""
    seen: list[dict[str, str]] = []
    recorder = type("Rec", (_Recorder,), {"seen": seen})
    other = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    front = ThreadingHTTPServer(("127.0.0.1", 0), _redirector(f"http://127.0.0.1:{other.server_port}"))
    for server in (other, front):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{front.server_port}", seen
    for server in (front, other):
        server.shutdown()
        server.server_close()


def test_credentials_are_not_sent_to_another_host_after_a_redirect(servers, monkeypatch, tmp_path: Path) -> None:
    host, seen = servers
    monkeypatch.setenv("SCANNER_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("SCANNER_REGISTRY_PASSWORD", PASSWORD)
    client = Client(host, PLAIN)
    assert client.blob_exists("t/x", "sha256:" + "0" * 64) is False  # 404 from the other origin
    assert seen and all("Authorization" not in h for h in seen)
