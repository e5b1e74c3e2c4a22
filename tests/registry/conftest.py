"""A real OCI registry for the tests: Debian's ``docker-registry`` (CNCF distribution 2.8) on
127.0.0.1, a temporary storage directory and a free port; one per module (tests use unique
repository names), plus one behind htpasswd auth."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BINARY = shutil.which("docker-registry")
USER, PASSWORD = "alice", "correct-horse-battery"


@dataclass
class Registry:
    """A running registry. ``host`` is ``127.0.0.1:PORT``; ``restart`` starts it again on the same
    port and storage after ``kill``."""

    host: str
    storage: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes]

    def ref(self, repo: str, tag: str | None = None) -> str:
        return f"oci://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.process = _start(self.config, self.log)
        _wait_ready(self.host, self.process, self.log)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    assert BINARY
    with log.open("ab") as out:
        return subprocess.Popen([BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(host: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401 from the authenticated one: it is answering
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not become ready in 20 s")


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd line: htpasswd (apache2-utils), else the bcrypt module, else crypt(3)."""
    tool = shutil.which("htpasswd")
    if tool:
        out = subprocess.run([tool, "-nbB", "-C", "4", user, password], check=True, capture_output=True, text=True)
        return out.stdout.strip()
    try:
        import bcrypt  # type: ignore[import-not-found]

        return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}"
    except ImportError:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # Python 3.11: glibc's crypt(3) does bcrypt

        return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}"


def launch(tmp: Path, *, auth: bool = False) -> Registry:
    if BINARY is None:
        pytest.skip("docker-registry is not installed (apt-get install -y docker-registry; .ci/run does this)")
    storage = tmp / "storage"
    storage.mkdir(parents=True)
    port = _free_port()
    lines = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: 127.0.0.1:{port}, secret: test}}",
    ]
    if auth:
        (tmp / "htpasswd").write_text(htpasswd_line(USER, PASSWORD) + "\n")
        lines.append(f"auth: {{htpasswd: {{realm: scanner-test, path: {tmp / 'htpasswd'}}}}}")
    config = tmp / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = tmp / "registry.log"
    process = _start(config, log)
    reg = Registry(f"127.0.0.1:{port}", storage, config, log, process)
    try:
        _wait_ready(reg.host, process, log)
    except Exception:
        reg.kill()
        raise
    return reg


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = launch(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.kill()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = launch(tmp_path_factory.mktemp("auth-registry"), auth=True)
    yield reg
    reg.kill()


@pytest.fixture
def repo() -> str:
    """A repository name no other test uses."""
    return f"t/{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's Docker config or credentials."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for name in ("SCANNER_REGISTRY_USERNAME", "SCANNER_REGISTRY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    os.environ.pop("SCANNER_CONFIG", None)


@pytest.fixture(autouse=True)
def _ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every decision goes to a ledger of the test's own."""
    path = tmp_path / "ledger.db"
    monkeypatch.setenv("SCANNER_LEDGER", str(path))
    return path


@pytest.fixture(scope="session")
def sign_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(private PEM, public PEM) of a throwaway EC key for the verification summaries."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    d = tmp_path_factory.mktemp("sign-key")
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = d / "vsa.key", d / "vsa.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture(scope="module")
def registry2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second, independent registry (cross-registry promotion)."""
    reg = launch(tmp_path_factory.mktemp("registry2"))
    yield reg
    reg.kill()
