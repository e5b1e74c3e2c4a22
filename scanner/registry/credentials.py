"""Where registry credentials come from, like oras and cosign: ``SCANNER_REGISTRY_USERNAME`` and
``SCANNER_REGISTRY_PASSWORD``, else the Docker config (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``: inline ``auths``, ``credHelpers``, ``credsStore``, read by oras).

The secret only ever lives in the auth backend; ``describe`` says where it came from, never what it is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.errors import ScanError

ENV_USER = "SCANNER_REGISTRY_USERNAME"
ENV_PASSWORD = "SCANNER_REGISTRY_PASSWORD"
MAX_CONFIG = 1 << 20


@dataclass(frozen=True)
class CredentialSource:
    """``kind`` is ``environment``, ``docker-config`` or ``none``; ``where`` names the file."""

    kind: str
    where: str | None = None

    def describe(self) -> str:
        if self.kind == "environment":
            return f"credentials from {ENV_USER}/{ENV_PASSWORD}"
        if self.kind == "docker-config":
            return f"credentials from {self.where}"
        return f"no credentials (set {ENV_USER}/{ENV_PASSWORD} or log in with docker/oras)"


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def load_into(backend: Any, registry: str) -> CredentialSource:
    """Give oras's auth ``backend`` the credentials for ``registry``; returns where they came from."""
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if user and password:
        backend.set_basic_auth(user, password)
        return CredentialSource("environment")
    if bool(user) != bool(password):
        raise ScanError(f"set both {ENV_USER} and {ENV_PASSWORD}, or neither")
    path = docker_config_path()
    config = _read_config(path)
    if not config:
        return CredentialSource("none")
    auths: dict[str, Any] = config["auths"] if isinstance(config.get("auths"), dict) else {}
    normalised = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        entry = dict(entry)
        if not entry.get("auth") and entry.get("username") and entry.get("password"):
            import base64

            entry["auth"] = base64.b64encode(f"{entry['username']}:{entry['password']}".encode()).decode()
        normalised[_host_of(key)] = entry
    helpers: dict[str, Any] = config["credHelpers"] if isinstance(config.get("credHelpers"), dict) else {}
    backend._auth_config = {  # oras 0.2.43 reads these three keys in _load_auth
        "auths": normalised,
        "credsStore": config.get("credsStore") if isinstance(config.get("credsStore"), str) else None,
        "credHelpers": {_host_of(k): v for k, v in helpers.items() if isinstance(v, str)},
    }
    for host in _aliases(registry):
        if backend._load_auth(host):
            return CredentialSource("docker-config", str(path))
    return CredentialSource("none")


def _read_config(path: Path) -> dict[str, Any]:
    from scanner.safeio import read_bounded

    if not path.exists():
        return {}
    try:
        loaded = jsonfile.loads(read_bounded(path, MAX_CONFIG, what="Docker config", follow=True))
    except ScanError:
        raise
    except (ValueError, RecursionError):
        raise ScanError("Docker config is not valid JSON", path) from None
    return loaded if isinstance(loaded, dict) else {}


def _host_of(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``index.docker.io``; ``host:5000`` stays."""
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0]


def _aliases(registry: str) -> list[str]:
    names = [registry]
    if registry in ("docker.io", "registry-1.docker.io"):
        names.append("index.docker.io")
    if registry.startswith("localhost"):
        names.append(registry.replace("localhost", "127.0.0.1", 1))
    elif registry.startswith("127.0.0.1"):
        names.append(registry.replace("127.0.0.1", "localhost", 1))
    return names
