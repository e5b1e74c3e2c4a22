"""HDF5 (Keras ``.h5``): the model's JSON config lives in root attributes; judge it as a Keras config.

h5py opens the stream read-only (it accepts Python file objects); only the ``model_config`` and
``training_config`` attributes are read, after their declared storage size is checked. Keras is
never imported. A file h5py cannot open is unscannable, never clean.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from scanner.core import Finding
from scanner.models.api import FormatContext, unscannable
from scanner.models.formats import keras_config

FORMAT = "hdf5"
CONFIG_ATTRS = ("model_config", "training_config")


def _member(subject: str) -> str | None:
    return subject.split("!", 1)[1] if "!" in subject else None


def _text(value: Any) -> str | None:
    """An attribute value as text: h5py returns str, bytes, or a 0-d/1-element numpy array."""
    if hasattr(value, "shape") and getattr(value, "size", 0) == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return None


def scan(data: BinaryIO, size: int, subject: str, ctx: FormatContext) -> list[Finding]:
    extra: dict[str, Any] = {"format": FORMAT}
    member = _member(subject)
    if member is not None:
        extra["member"] = member
    import h5py

    limit = ctx.limits.max_header_bytes
    findings: list[Finding] = []
    data.seek(0)
    try:
        with h5py.File(data, "r") as h5:
            for name in CONFIG_ATTRS:
                if name not in h5.attrs:
                    continue
                attr = h5py.h5a.open(h5.id, name.encode())
                if attr.get_storage_size() > limit:
                    findings.append(unscannable(subject, f"attribute {name} exceeds {limit} bytes", **extra))
                    continue
                text = _text(h5.attrs[name])
                if text is None:
                    findings.append(unscannable(subject, f"attribute {name} is not a string", **extra))
                    continue
                if len(text) > limit:
                    findings.append(unscannable(subject, f"attribute {name} exceeds {limit} bytes", **extra))
                    continue
                try:
                    config = keras_config.parse_json(text.encode("utf-8"))
                except ValueError as exc:
                    findings.append(unscannable(subject, f"attribute {name} is not valid JSON: {exc}", **extra))
                    continue
                findings.extend(keras_config.judge_config(config, subject, {**extra, "attribute": name}, name))
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        return [unscannable(subject, f"HDF5 file could not be read: {exc}", **extra)]
    return findings
