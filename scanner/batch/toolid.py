"""What judges, as a digest: the scanner's own files and the versions of the libraries that take
part in a verdict.

``scanner.__version__`` names a release; between releases (an editable install, a patched or
backported build) the code that decides a verdict changes under the same version — a detection
fixed, a deny-list or a pinned Sigstore trusted root updated — and so do the libraries it judges
with (pickle scanning, signature verification, version matching, the Rego engine), and so do the
environment markers that keep or drop a requirement line. A cached verdict made by other code, or
on another platform, is not the verdict this code would give here, so the cache key holds this
digest (``job.context_of``), and a worker whose digest differs from the driver's judges nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

# The runtime dependencies (pyproject.toml ``dependencies``; a test keeps the two in step).
JUDGING = (
    "click",
    "rich",
    "jinja2",
    "pyyaml",
    "packaging",
    "cyclonedx-python-lib",
    "sigstore",
    "model-signing",
    "pyopenssl",
    "modelscan",
    "numpy",
    "pip-audit",
    "regopy",
    "in-toto",
    "safetensors",
    "license-expression",
    "jsonschema-rs",
    "cvss",
    "h5py",
    "bandit",
    "oras",
    "cryptography",
)


MARKERS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_system",
    "python_full_version",
    "sys_platform",
)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def tool_digest() -> str:
    """sha256 over every file of the ``scanner`` package (bytecode caches aside), the Python
    version and the environment-marker values of this host, and the installed version of each
    ``JUDGING`` distribution. About 10 ms."""
    import scanner

    h = hashlib.sha256()
    h.update(f"python {sys.implementation.name} {sys.version}\n".encode())
    # requirement lines are kept or dropped by environment markers evaluated for this host (the
    # kernel's release and build strings aside: they differ between the nodes of any cluster)
    markers = marker_values()
    for name in MARKERS:
        h.update(f"marker {name} {markers.get(name, '')}\n".encode())
    for name, version in sorted(_versions().items()):
        h.update(f"dist {name} {version}\n".encode())
    root = Path(scanner.__file__).resolve().parent
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file in sorted(files):
            if file.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath, file)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            h.update(f"file {path.relative_to(root).as_posix()} {digest}\n".encode())
    return "sha256:" + h.hexdigest()


def marker_values() -> dict[str, str]:
    """The ``MARKERS`` values requirement markers are evaluated with on this host, worked out as
    ``packaging.markers.default_environment`` does (a test holds the two equal) without importing
    ``packaging.markers``, whose import costs more than the whole digest."""
    import platform

    info = sys.implementation.version
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += f"{info.releaselevel[0]}{info.serial}"
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_system": platform.system(),
        "python_full_version": platform.python_version(),
        "sys_platform": sys.platform,
    }


def _versions() -> dict[str, str]:
    """Versions from the ``NAME-VERSION.dist-info`` folders on ``sys.path`` (the first one found
    wins, as for imports): listing folders costs far less than ``importlib.metadata``."""
    wanted = set(JUDGING)
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith(".dist-info"):
                continue
            name, _, version = folder[: -len(".dist-info")].rpartition("-")
            key = normalise(name)
            if key in wanted and key not in found:
                found[key] = version
    return {name: found.get(name, "absent") for name in JUDGING}
