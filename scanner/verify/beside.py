"""Where an artifact's signatures and provenance are found: by name, beside it (or, for a model
signature, inside the model directory). Kept apart from the verifiers so that finding them — which
``scanner batch`` does for every cache hit, to key the verdict on them — imports nothing else."""

from __future__ import annotations

from pathlib import Path

BUNDLE_SUFFIXES = (".sigstore.json", ".sigstore")
PROVENANCE_SUFFIXES = (".intoto.jsonl", ".provenance.json", ".slsa.json")
SIGNATURE_NAMES = ("model.sig", "model.sigstore.json")  # model-signing's names inside a model


def find_signature(model_dir: Path) -> Path | None:
    """``model.sig`` inside the model (model-signing's default name), else ``DIR.sig`` beside it."""
    for name in SIGNATURE_NAMES:
        if (model_dir / name).is_file():
            return model_dir / name
    for suffix in (".sig", ".sigstore.json"):
        beside = model_dir.with_name(model_dir.name + suffix)
        if beside.is_file():
            return beside
    return None


def discover(artifact: Path) -> list[Path]:
    """Signature files for ``artifact``: ``X.sigstore.json``/``X.sigstore`` beside a file; a
    model signature (``model.sig`` inside, or ``DIR.sig``) for a directory."""
    if artifact.is_dir():
        found = find_signature(artifact)
        beside = [artifact.with_name(artifact.name + s) for s in BUNDLE_SUFFIXES]
        return [p for p in [found, *beside] if p is not None and p.is_file()]
    return [p for p in (artifact.with_name(artifact.name + s) for s in BUNDLE_SUFFIXES) if p.is_file()]


def discover_provenance(artifact: Path) -> list[Path]:
    return [p for p in (artifact.with_name(artifact.name + s) for s in PROVENANCE_SUFFIXES) if p.is_file()]
