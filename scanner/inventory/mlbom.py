"""The parts of an ML-BOM that come from the files of a model: their digests, formats and header
facts (dtypes, tensor and parameter counts, quantization), shard indexes, and where the model's
own identity can be read without running anything (a git checkout, a Hugging Face cache).

Headers are read with bounded readers of our own: a length field is checked against the file
size and a limit before anything is read, and nothing is ever loaded as a model.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

SAFETENSORS_MAX_HEADER = 100 << 20  # the safetensors library refuses larger headers too
INDEX_MAX_BYTES = 64 << 20
GGUF_MAX_KV = 1 << 20
GGUF_MAX_TENSORS = 1 << 22
GGUF_MAX_STRING = 16 << 20
GGUF_MAX_ARRAY = 1 << 26
GGUF_MAX_DIMS = 8
GIT_MAX_BYTES = 4 << 20

_HEX_REV = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


class HeaderError(ValueError):
    """A header that cannot be read as its format says (truncated, oversized, malformed)."""


# --- safetensors --------------------------------------------------------------------------------


def safetensors_facts(path: Path) -> dict[str, str]:
    """dtypes, tensor count and parameter count from a safetensors header."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise HeaderError("truncated: no header length")
        (n,) = struct.unpack("<Q", head)
        if n > SAFETENSORS_MAX_HEADER:
            raise HeaderError(f"header length {n} exceeds the {SAFETENSORS_MAX_HEADER}-byte limit")
        if 8 + n > size:
            raise HeaderError(f"header length {n} runs past the end of the file ({size} bytes)")
        raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HeaderError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise HeaderError("header is not a JSON object")
    data_size = size - 8 - n
    dtypes: set[str] = set()
    tensors = params = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise HeaderError(f"tensor {name!r} is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not (isinstance(dtype, str) and isinstance(shape, list) and isinstance(offsets, list)):
            raise HeaderError(f"tensor {name!r} lacks a dtype, shape or data_offsets")
        if not _ints(shape) or not _ints(offsets) or len(offsets) != 2:
            raise HeaderError(f"tensor {name!r} has a malformed shape or data_offsets")
        if not 0 <= offsets[0] <= offsets[1] <= data_size:
            raise HeaderError(f"tensor {name!r} data_offsets {offsets} lie outside the data ({data_size} bytes)")
        count = 1
        for dim in shape:
            count *= dim
        dtypes.add(dtype)
        tensors += 1
        params += count
    return {"dtypes": ",".join(sorted(dtypes)), "tensors": str(tensors), "parameters": str(params)}


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


# --- GGUF ---------------------------------------------------------------------------------------

# llama.cpp's LLAMA_FTYPE values (general.file_type): the quantization of most tensors.
GGUF_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
}
_GGUF_FIXED = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_GGUF_KEYS = {
    "general.architecture": "architecture",
    "general.name": "gguf:name",
    "general.organization": "gguf:organization",
    "general.version": "gguf:version",
    "general.license": "gguf:license",
    "general.quantization_version": "gguf:quantization_version",
}


def gguf_facts(path: Path) -> dict[str, str]:
    """Architecture, quantization, tensor and parameter counts from a GGUF (v2/v3) header."""
    with path.open("rb") as fh:
        reader = _Reader(fh, path.stat().st_size)
        if reader.take(4) != b"GGUF":
            raise HeaderError("not a GGUF file")
        version = reader.unpack("<I")
        facts = {"gguf:format_version": str(version)}
        if version not in (2, 3):
            return facts  # v1 used 32-bit lengths and is long obsolete: version only
        tensors, kvs = reader.unpack("<Q"), reader.unpack("<Q")
        if tensors > GGUF_MAX_TENSORS or kvs > GGUF_MAX_KV:
            raise HeaderError(f"implausible counts: {tensors} tensors, {kvs} metadata entries")
        for _ in range(kvs):
            key = reader.string()
            vtype = reader.unpack("<I")
            value = reader.value(vtype)
            if key == "general.file_type" and isinstance(value, int):
                facts["quantization"] = GGUF_FILE_TYPES.get(value, f"file_type={value}")
            elif key in _GGUF_KEYS and isinstance(value, (str, int)):
                facts[_GGUF_KEYS[key]] = str(value)
        params = 0
        for _ in range(tensors):
            reader.string()
            dims = reader.unpack("<I")
            if dims > GGUF_MAX_DIMS:
                raise HeaderError(f"tensor with {dims} dimensions")
            count = 1
            for _ in range(dims):
                count *= reader.unpack("<Q")
            reader.take(12)  # ggml type (u32) and data offset (u64)
            params += count
        facts["tensors"] = str(tensors)
        facts["parameters"] = str(params)
        return facts


class _Reader:
    """Little-endian reads that fail with HeaderError instead of running past the end."""

    def __init__(self, fh: BinaryIO, size: int):
        self.fh, self.size, self.pos = fh, size, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise HeaderError(f"truncated: {n} bytes wanted at offset {self.pos} of {self.size}")
        data = self.fh.read(n)
        if len(data) != n:
            raise HeaderError(f"truncated at offset {self.pos}")
        self.pos += n
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > GGUF_MAX_STRING:
            raise HeaderError(f"string of {n} bytes at offset {self.pos}")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _GGUF_FIXED:
            return self.unpack(_GGUF_FIXED[vtype])
        if vtype == _GGUF_STRING:
            return self.string()
        if vtype == _GGUF_ARRAY:
            etype, n = self.unpack("<I"), self.unpack("<Q")
            if n > GGUF_MAX_ARRAY:
                raise HeaderError(f"array of {n} elements at offset {self.pos}")
            if etype in _GGUF_FIXED:
                self.take(n * struct.calcsize(_GGUF_FIXED[etype]))  # skipped, not kept
            elif etype == _GGUF_STRING:
                for _ in range(n):
                    self.take(self._checked_len())
            else:
                raise HeaderError(f"array of unsupported element type {etype}")
            return None
        raise HeaderError(f"unknown metadata value type {vtype} at offset {self.pos}")

    def _checked_len(self) -> int:
        n = self.unpack("<Q")
        if n > GGUF_MAX_STRING:
            raise HeaderError(f"string of {n} bytes at offset {self.pos}")
        return int(n)


# --- shard indexes ------------------------------------------------------------------------------


def shard_index(path: Path) -> list[str]:
    """The shard file names a ``*.index.json`` (transformers' sharded checkpoint) lists."""
    if path.stat().st_size > INDEX_MAX_BYTES:
        raise HeaderError(f"index larger than {INDEX_MAX_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes())
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
    # In a Hugging Face cache snapshot every file is a link into the repository's ``blobs/``:
    # links that resolve to a file there are part of the model, every other link stays outside.
    blobs: Path | None = None

    def inside_blobs(self, link: Path) -> Path | None:
        """The file a snapshot link resolves to when it lies in this cache's ``blobs/``."""
        if self.blobs is None:
            return None
        try:
            target = link.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return target if target.is_relative_to(self.blobs) and target.is_file() else None


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
            if (parent.parent / "blobs").is_dir():
                origin.blobs = (parent.parent / "blobs").resolve()
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
