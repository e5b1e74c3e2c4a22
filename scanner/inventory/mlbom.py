"""The parts of an ML-BOM that come from the files of a model: their digests, formats and header
facts (dtypes, tensor and parameter counts, quantization), shard indexes, and where the model's
own identity can be read without running anything (a git checkout, a Hugging Face cache).

Headers are read by the bounded format readers shared with the model check (``scanner.formats``): a
length field is checked against the file size and a limit before anything is read, and nothing
is ever loaded as a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from scanner import jsonfile
from scanner.safeio import open_regular

INDEX_MAX_BYTES = 64 << 20
GIT_MAX_BYTES = 4 << 20

_HEX_REV = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


class HeaderError(ValueError):
    """A header that cannot be read as its format says (truncated, oversized, malformed)."""


# --- header facts: read by the bounded format readers shared with the model check ---------------


def safetensors_facts(path: Path) -> dict[str, str]:
    """dtypes, tensor count and parameter count from a safetensors header. A header the
    safetensors validator finds malformed gives no facts (HeaderError names the first problem)."""
    from scanner.formats import safetensors

    size = path.stat().st_size
    with open_regular(path, follow=True) as fh:
        try:
            header, n = safetensors.read_header(fh, size)
            problems = safetensors.check_header(header, size - 8 - n)
            if problems:
                raise HeaderError(f"malformed safetensors header: {problems[0]}")
            fh.seek(0)
            facts = safetensors.read_header_facts(fh, size)
        except HeaderError:
            raise
        except ValueError as exc:
            raise HeaderError(str(exc)) from None
    return {
        "dtypes": ",".join(facts["dtypes"]),
        "tensors": str(facts["tensor_count"]),
        "parameters": str(facts["parameter_count"]),
    }


# GGUF facts → ML-BOM property names
_GGUF_PROPERTIES = {
    "architecture": "architecture",
    "name": "gguf:name",
    "organization": "gguf:organization",
    "model_version": "gguf:version",
    "license": "gguf:license",
    "quantization_version": "gguf:quantization_version",
}


def gguf_facts(path: Path) -> dict[str, str]:
    """Architecture, quantization, tensor and parameter counts from a GGUF header."""
    from scanner.formats import gguf

    with open_regular(path, follow=True) as fh:
        try:
            facts = gguf.read_header_facts(fh, path.stat().st_size)
        except ValueError as exc:
            raise HeaderError(str(exc)) from None
    out = {"gguf:format_version": str(facts["version"])}
    out.update({prop: str(facts[key]) for key, prop in _GGUF_PROPERTIES.items() if facts.get(key) is not None})
    if facts.get("quantization"):
        out["quantization"] = facts["quantization"]
    elif facts.get("file_type") is not None:
        out["quantization"] = f"file_type={facts['file_type']}"
    out["tensors"] = str(facts["tensor_count"])
    out["parameters"] = str(facts["parameter_count"])
    return out


# --- shard indexes ------------------------------------------------------------------------------


def shard_index(path: Path) -> list[str]:
    """The shard file names a ``*.index.json`` (transformers' sharded checkpoint) lists."""
    if path.stat().st_size > INDEX_MAX_BYTES:
        raise HeaderError(f"index larger than {INDEX_MAX_BYTES} bytes")
    try:
        data = jsonfile.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise HeaderError(f"index is not JSON: {exc}") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise HeaderError("index has no weight_map object")
    return sorted({v for v in weight_map.values() if isinstance(v, str)})


def is_shard_index(name: str) -> bool:
    return name.endswith(".index.json")


# --- identity -----------------------------------------------------------------------------------


@dataclass
class Origin:
    """Where a model directory says it comes from: a hub id and a revision, with their sources."""

    hub_id: str | None = None
    revision: str | None = None
    sources: list[str] = field(default_factory=list)


def find_origin(root: Path) -> Origin:
    """Hub id and revision from a git checkout (``.git/HEAD``, refs, ``config``), the Hugging Face
    cache layout (``models--org--name/snapshots/<rev>``) or ``huggingface-cli download
    --local-dir`` metadata (``.cache/huggingface/download/*.metadata``). Nothing is executed."""
    origin = Origin()
    if not root.is_dir():
        return origin
    git = root / ".git"
    if git.is_dir() and not git.is_symlink():
        rev = _git_head(git)
        if rev:
            origin.revision = rev
            origin.sources.append(".git/HEAD")
        hub = _git_hub_id(git)
        if hub:
            origin.hub_id = hub
            origin.sources.append(".git/config")
    resolved = root.resolve()
    parent = resolved.parent
    if parent.name == "snapshots" and parent.parent.name.startswith("models--"):
        hub = parent.parent.name[len("models--") :].replace("--", "/")
        if _HUB_ID.match(hub):
            origin.hub_id = origin.hub_id or hub
            if _HEX_REV.match(resolved.name):
                origin.revision = origin.revision or resolved.name
            origin.sources.append("huggingface cache path")
    if origin.revision is None:
        meta_dir = root / ".cache" / "huggingface" / "download"
        if meta_dir.is_dir() and not meta_dir.is_symlink():
            for meta in sorted(meta_dir.rglob("*.metadata")):
                first = _small_text(meta).splitlines()[:1]
                if first and _HEX_REV.match(first[0].strip()):
                    origin.revision = first[0].strip()
                    origin.sources.append(meta.relative_to(root).as_posix())
                    break
    return origin


def _git_head(git: Path) -> str | None:
    head = _small_text(git / "HEAD").strip()
    if _HEX_REV.match(head):
        return head
    if not head.startswith("ref: "):
        return None
    ref = head[5:].strip()
    if ".." in ref or not ref.startswith("refs/"):
        return None
    value = _small_text(git / ref).strip()
    if _HEX_REV.match(value):
        return value
    for line in _small_text(git / "packed-refs").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref and _HEX_REV.match(parts[0]):
            return parts[0]
    return None


def _git_hub_id(git: Path) -> str | None:
    for line in _small_text(git / "config").splitlines():
        m = re.match(r"\s*url\s*=\s*(?:https?://|git@)(?:[\w.-]+@)?huggingface\.co[:/](.+?)(?:\.git)?/?\s*$", line)
        if m and not m.group(1).startswith(("datasets/", "spaces/")) and _HUB_ID.match(m.group(1)):
            return m.group(1)
    return None


def _small_text(path: Path) -> str:
    """A small text file inside a checkout, or "" (links are not followed)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > GIT_MAX_BYTES:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def hub_purl(hub_id: str, revision: str | None = None) -> str:
    """``pkg:huggingface/<org>/<name>[@rev]``; hub ids are case-sensitive and kept as they are."""
    from packageurl import PackageURL

    org, _, name = hub_id.rpartition("/")
    return PackageURL(type="huggingface", namespace=org or None, name=name, version=revision).to_string()


def dataset_purl(dataset_id: str) -> str:
    """A Hugging Face dataset: the huggingface purl type with the datasets repository URL, so a
    dataset is never mistaken for a model of the same name."""
    from packageurl import PackageURL

    org, _, name = dataset_id.rpartition("/")
    return PackageURL(
        type="huggingface",
        namespace=org or None,
        name=name,
        qualifiers={"repository_url": "https://huggingface.co/datasets"},
    ).to_string()


def is_hub_id(text: str) -> bool:
    return bool(_HUB_ID.match(text)) and not text.startswith((".", "/"))
