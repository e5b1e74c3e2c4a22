"""The ML-BOM of a model directory (Hugging Face layout) or a single model file.

The root component is the model itself: its own name and revision, taken from an explicit
name/version, a hub id and revision found in the directory (git checkout, Hugging Face cache), the
card's ``model-index`` name, or the directory name, in that order. ``config.json``'s
``_name_or_path`` and the card's ``base_model`` name where the model came from: they become the
pedigree ancestor, never the model's identity.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from scanner import jsonfile
from scanner.core import Artifact, Finding, ScanError, Severity
from scanner.files import FileSet, declared_root
from scanner.inventory import mlbom
from scanner.inventory.components import Component, Inventory
from scanner.inventory.modelcard import (
    CardFacts,
    Considerations,
    EthicalConsideration,
    ModelCard,
    ModelParameters,
    PerformanceMetric,
    read_card,
)

CONFIG_MAX_BYTES = 16 << 20
# Housekeeping of the tools that fetched the model, not part of it.
SKIPPED_DIRS = (".git/", ".cache/huggingface/")
# config.json facts worth keeping (the rest is architecture detail of interest to nobody auditing).
CONFIG_FACTS = (
    "model_type",
    "torch_dtype",
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "max_position_embeddings",
    "quantization_config",
    "peft_type",
)
WEIGHT_FORMATS = {"safetensors", "gguf", "pickle", "zip", "hdf5", "numpy", "protobuf", "tflite"}
# Trainer's "Framework versions" names → PyPI names.
FRAMEWORK_PYPI = {
    "transformers": "transformers",
    "pytorch": "torch",
    "datasets": "datasets",
    "tokenizers": "tokenizers",
    "peft": "peft",
    "tensorflow": "tensorflow",
    "jax": "jax",
}


def inventory_model(
    artifact: Artifact, *, name: str | None = None, version: str | None = None, files: FileSet | None = None
) -> Inventory:
    """ML-BOM inventory of ``artifact``; ``name``/``version`` override the model's identity
    (a ``org/name`` name that looks like a hub id gets a ``pkg:huggingface`` purl). File hashes
    come from the run's ``files`` (each file hashed once per run)."""
    path = artifact.path
    inv = Inventory(timestamp=_now())
    is_dir = path.is_dir()
    origin = mlbom.find_origin(path) if is_dir else mlbom.Origin()
    card, config = CardFacts(), {}
    if is_dir:
        readme = _own_file(path, "README.md")
        if readme is not None:
            card, card_findings = read_card(readme, _shown(artifact, "README.md"))
            inv.findings.extend(card_findings)
        config = _configs(artifact, origin, inv.findings)

    root = _root_component(artifact, origin, card, name, version)
    inv.root = root
    inv.components.append(root)
    deps: list[str] = []

    for comp in _framework_components(config, card):
        inv.components.append(comp)
        deps.append(comp.bom_ref)
    dataset_refs = []
    for comp in _dataset_components(card):
        inv.components.append(comp)
        deps.append(comp.bom_ref)
        dataset_refs.append(comp.bom_ref)

    file_comps = _file_components(artifact, inv, files if files is not None else FileSet(artifact.path))
    inv.components.extend(file_comps)
    deps.extend(c.bom_ref for c in file_comps)
    if is_dir:
        deps.extend(_package_components(artifact, inv, root, file_comps, config))
    totals = _weight_totals(file_comps)
    root.properties.update(totals)
    inv.dependencies[root.bom_ref] = deps

    extras: dict[str, Any] = {"modelCard": _model_card(card, config, dataset_refs).to_json()}
    ancestors = _ancestors(card, config, root)
    if ancestors:
        extras["pedigree"] = {"ancestors": ancestors}
    inv.cyclonedx_extras[root.bom_ref] = extras
    return inv


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _shown(artifact: Artifact, rel: str) -> str:
    return artifact.show(artifact.path / rel if artifact.path.is_dir() else artifact.path)


def _own_file(root: Path, name: str) -> Path | None:
    """``root/name`` when it is a file of the model: a regular file, or a link that stays inside
    the declared root (``scanner.files.declared_root``: in a Hugging Face hub cache snapshot, the
    links into the cached repository's ``blobs/``)."""
    path = root / name
    if not path.is_symlink():
        return path if path.is_file() else None
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return path if target.is_relative_to(declared_root(root)) and target.is_file() else None


def _configs(artifact: Artifact, origin: mlbom.Origin, findings: list[Finding]) -> dict[str, Any]:
    """config.json (transformers), with what diffusers' model_index.json and PEFT's
    adapter_config.json add in the same terms: the pipeline class as the architecture, the
    diffusers version, the adapter's base model."""
    found: dict[str, dict[str, Any]] = {}
    for name in ("config.json", "model_index.json", "adapter_config.json"):
        path = _own_file(artifact.path, name)
        if path is not None:
            found[name] = _read_config(path, _shown(artifact, name), findings)
    config = dict(found.get("config.json", {}))
    pipeline = found.get("model_index.json", {})
    if isinstance(pipeline.get("_class_name"), str):
        config.setdefault("architectures", [pipeline["_class_name"]])
    if isinstance(pipeline.get("_diffusers_version"), str):
        config["diffusers_version"] = pipeline["_diffusers_version"]
    adapter = found.get("adapter_config.json", {})
    if isinstance(adapter.get("base_model_name_or_path"), str):
        config.setdefault("_name_or_path", adapter["base_model_name_or_path"])
    if isinstance(adapter.get("peft_type"), str):
        config["peft_type"] = adapter["peft_type"]
    return config


def _read_config(path: Path, shown: str, findings: list[Finding]) -> dict[str, Any]:
    problem = None
    if path.stat().st_size > CONFIG_MAX_BYTES:
        problem = f"larger than {CONFIG_MAX_BYTES} bytes"
    else:
        try:
            data = jsonfile.loads(path.read_bytes())
        except (ValueError, RecursionError) as exc:
            problem = f"not JSON: {exc}"
        else:
            if isinstance(data, dict):
                return data
            problem = "not a JSON object"
    findings.append(
        Finding(
            id="SBOM-MODEL-CONFIG-INVALID",
            check="sbom",
            severity=Severity.LOW,
            subject=shown,
            message=f"{Path(shown).name} cannot be read: {problem}",
            evidence={"file": shown, "error": problem},
        )
    )
    return {}


def _root_component(
    artifact: Artifact, origin: mlbom.Origin, card: CardFacts, name: str | None, version: str | None
) -> Component:
    hub_id = origin.hub_id
    if name and mlbom.is_hub_id(name) and "/" in name:
        hub_id = name
    own_name = name or hub_id or card.name or artifact.name
    revision = version or origin.revision
    comp = Component(
        bom_ref=f"model:{own_name}" + (f"@{revision}" if revision else ""),
        name=own_name,
        version=revision,
        type="machine-learning-model",
        purl=mlbom.hub_purl(hub_id, revision) if hub_id else None,
        supplier=hub_id.split("/")[0] if hub_id and "/" in hub_id else None,
        licenses=_licenses(card),
        source=artifact.show(artifact.path),
    )
    if hub_id:
        comp.external_references["website"] = f"https://huggingface.co/{hub_id}"
    if card.license_link:
        comp.external_references["license"] = card.license_link
    if origin.sources:
        comp.properties["identity-source"] = ", ".join(origin.sources)
    return comp


def _licenses(card: CardFacts) -> list[str]:
    """The card's licence as an SPDX expression when it is one (``apache-2.0`` → ``Apache-2.0``);
    ``other`` with a ``license_name`` keeps that name; anything else stays a plain name."""
    if not card.license:
        return []
    if card.license.lower() == "other":
        return [card.license_name or "other"]
    from license_expression import ExpressionError, get_spdx_licensing

    try:
        return [get_spdx_licensing().parse(card.license, validate=True, strict=True).render()]
    except ExpressionError:
        return [card.license]


def _framework_components(config: dict[str, Any], card: CardFacts) -> list[Component]:
    """The library that loads the model: transformers (diffusers) at the version config.json
    (model_index.json) was written with, and the card's ``library_name`` when it is another
    library (its version unknown)."""
    out = []
    named = set()
    for known, key in (("transformers", "transformers_version"), ("diffusers", "diffusers_version")):
        ver = config.get(key)
        if isinstance(ver, str) and ver.strip():
            purl = f"pkg:pypi/{known}@{ver.strip()}"
            # scope "excluded": the version that wrote the config, not what the model runs with
            # (so not audited as a dependency unless the package also declares it)
            out.append(
                Component(bom_ref=purl, name=known, version=ver.strip(), type="framework", purl=purl, scope="excluded")
            )
            named.add(known)
    lib = card.library_name
    if lib and lib.lower() not in named and mlbom.is_hub_id(lib) and "/" not in lib:
        from packaging.utils import canonicalize_name

        norm = canonicalize_name(lib)
        out.append(
            Component(
                bom_ref=f"pkg:pypi/{norm}", name=norm, type="framework", purl=f"pkg:pypi/{norm}", scope="excluded"
            )
        )
    return out


def _package_components(
    artifact: Artifact,
    inv: Inventory,
    root: Component,
    files: list[Component],
    config: dict[str, Any],
) -> list[str]:
    """What the model carries besides weights (``scanner.inventory.modelpkg``): a ``code-role``
    on every Python file and on every file a loader imports, a component for code named but not
    carried (another repository's, or missing), the runtime dependencies (``pkg:pypi``, audited
    like any application's) and conda packages, and MLflow's facts as root properties. Returns
    the bom-refs the model depends on."""
    from scanner.inventory import modelpkg

    readable = [c.name for c in files if "skipped" not in c.properties]
    pkg = modelpkg.read_package(
        artifact.path,
        lambda rel: _shown(artifact, rel),
        readable,
        already={"config.json": config},
        locate=lambda rel: _own_file(artifact.path, rel),
    )
    inv.findings.extend(pkg.findings)
    root.properties.update(pkg.properties)
    roles = pkg.code_roles()
    entries: dict[str, list[str]] = {}
    for ref in pkg.code:
        if ref.rel is not None:
            entries.setdefault(ref.rel, []).append(f"{ref.declared_in}: {ref.entry}")
    by_name = {c.name: c for c in files}
    for comp in files:
        if comp.name in roles or comp.name.endswith(".py"):
            comp.properties["code-role"] = roles.get(comp.name, modelpkg.BUNDLED_CODE)
            if comp.name in entries:
                comp.properties["code-entry"] = "; ".join(sorted(set(entries[comp.name])))
    out: list[str] = []
    seen: set[str] = set()
    for ref in pkg.code:
        if ref.rel is not None and ref.rel in by_name:
            continue
        location = "external" if ref.repo else "missing"
        bom_ref = f"code:{ref.declared_in}:{ref.entry}"
        if bom_ref in seen:
            continue
        seen.add(bom_ref)
        comp = Component(
            bom_ref=bom_ref,
            name=ref.entry.split(": ", 1)[1] if ref.repo else (ref.rel or "?"),
            type="file",
            properties={
                "code-role": ref.role,
                "code-location": location,
                "code-entry": f"{ref.declared_in}: {ref.entry}",
            },
        )
        if ref.repo:
            comp.external_references["vcs"] = f"https://huggingface.co/{ref.repo}"
            if mlbom.is_hub_id(ref.repo):
                comp.purl = mlbom.hub_purl(ref.repo)
                comp.supplier = ref.repo.split("/")[0]
        inv.components.append(comp)
        out.append(bom_ref)
    existing = {c.bom_ref: c for c in inv.components}
    for dep in [*pkg.dependencies, *pkg.conda_packages]:
        known = existing.get(dep.bom_ref)
        if known is not None:  # the framework config.json names, now a declared runtime dependency
            known.scope = None
            known.properties.update(dep.properties)
        else:
            inv.components.append(dep)
            existing[dep.bom_ref] = dep
        if dep.bom_ref not in out:
            out.append(dep.bom_ref)
    return out


def _dataset_components(card: CardFacts) -> list[Component]:
    training = set(card.training_datasets)
    evaluation = set(card.evaluation_datasets)
    out = []
    for ds in [*card.training_datasets, *(d for d in card.evaluation_datasets if d not in training)]:
        roles = [r for r, members in (("training", training), ("evaluation", evaluation)) if ds in members]
        comp = Component(bom_ref=f"dataset:{ds}", name=ds, type="data", properties={"ml-role": ",".join(roles)})
        if mlbom.is_hub_id(ds):
            comp.purl = mlbom.dataset_purl(ds)
            comp.external_references["website"] = f"https://huggingface.co/datasets/{ds}"
            if "/" in ds:
                comp.supplier = ds.split("/")[0]
        out.append(comp)
    return out


def _file_components(artifact: Artifact, inv: Inventory, fileset: FileSet) -> list[Component]:
    from scanner.formats.sniff import sniff_file

    files: list[Component] = []
    shard_links: dict[str, list[str]] = {}
    present: set[str] = set()
    for entry in fileset.entries:
        if entry.rel.startswith(SKIPPED_DIRS):
            continue
        ref = f"file:{entry.rel}"
        shown = _shown(artifact, entry.rel)
        if entry.escapes:  # the finding is the model check's MODEL-SYMLINK-ESCAPE (one rule)
            files.append(Component(bom_ref=ref, name=entry.rel, type="file", properties={"skipped": "link outside"}))
            continue
        if not entry.readable:
            continue
        target = entry.path
        try:
            digest = fileset.digest(entry)
            comp = Component(
                bom_ref=ref,
                name=entry.rel,
                type="file",
                hashes={"SHA-256": digest.sha256},
                properties={"size": str(digest.size), "format": sniff_file(target)},
            )
            _header_facts(comp, target, entry.rel, shown, inv, shard_links)
        except PermissionError:
            raise ScanError("permission denied", target) from None
        except OSError as exc:
            raise ScanError(exc.strerror or str(exc), target) from None
        files.append(comp)
        present.add(entry.rel)
    for index_rel, shards in shard_links.items():
        base = index_rel.rpartition("/")[0]
        refs = []
        for shard in shards:
            rel = f"{base}/{shard}" if base else shard
            if rel in present and "/" not in shard and shard not in ("", ".", ".."):
                refs.append(f"file:{rel}")
            else:
                inv.findings.append(_missing_shard(_shown(artifact, index_rel), shard))
        inv.dependencies[f"file:{index_rel}"] = refs
    return files


def _header_facts(
    comp: Component, path: Path, rel: str, shown: str, inv: Inventory, shard_links: dict[str, list[str]]
) -> None:
    fmt = comp.properties["format"]
    try:
        if fmt == "safetensors":
            comp.properties.update(mlbom.safetensors_facts(path))
        elif fmt == "gguf":
            comp.properties.update(mlbom.gguf_facts(path))
        elif fmt == "json" and mlbom.is_shard_index(rel):
            shard_links[rel] = mlbom.shard_index(path)
    except mlbom.HeaderError as exc:
        comp.properties["header-error"] = str(exc)
        inv.findings.append(
            Finding(
                id="SBOM-MODEL-HEADER-UNREADABLE",
                check="sbom",
                severity=Severity.MEDIUM,
                subject=shown,
                message=f"{fmt} header cannot be read: {exc}",
                evidence={"file": shown, "format": fmt, "error": str(exc)},
            )
        )


def _weight_totals(files: list[Component]) -> dict[str, str]:
    """Parameter count and dtypes of the model: the sum over its weight files whose header gives them."""
    params = [int(c.properties["parameters"]) for c in files if "parameters" in c.properties]
    dtypes = sorted({d for c in files for d in c.properties.get("dtypes", "").split(",") if d})
    quant = sorted({c.properties["quantization"] for c in files if "quantization" in c.properties})
    out = {}
    if params:
        out["parameters"] = str(sum(params))
    if dtypes:
        out["dtypes"] = ",".join(dtypes)
    if quant:
        out["quantization"] = ",".join(quant)
    weights = [c for c in files if c.properties.get("format") in WEIGHT_FORMATS]
    if weights:
        out["weight-files"] = str(len(weights))
    return out


def _model_card(card: CardFacts, config: dict[str, Any], dataset_refs: list[str]) -> ModelCard:
    archs = config.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    family = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    mc = ModelCard(
        parameters=ModelParameters(
            task=card.task, architecture_family=family, model_architecture=arch, dataset_refs=dataset_refs
        ),
        metrics=[PerformanceMetric(r.metric, r.value, r.slice) for r in card.results],
        considerations=Considerations(
            use_cases=list(card.use_cases),
            technical_limitations=list(card.limitations),
            ethical_considerations=[EthicalConsideration(text, card.recommendations) for text in card.risks],
            environmental_properties=list(card.co2),
        ),
    )
    props = mc.properties
    props.extend(("hyperparameter:" + k, v) for k, v in card.hyperparameters)
    props.extend(("training-framework:" + k, v) for k, v in card.training_frameworks)
    for key in CONFIG_FACTS:
        value = config.get(key)
        if value is not None and not isinstance(value, list):
            props.append((f"config:{key}", value if isinstance(value, str) else json.dumps(value, sort_keys=True)))
    if isinstance(config.get("_name_or_path"), str):
        props.append(("config:_name_or_path", config["_name_or_path"]))
    if card.library_name:
        props.append(("library_name", card.library_name))
    if card.base_model_relation:
        props.append(("base_model_relation", card.base_model_relation))
    props.extend(("language", lang) for lang in card.languages)
    props.extend(("tag", tag) for tag in card.tags)
    return mc


def _ancestors(card: CardFacts, config: dict[str, Any], root: Component) -> list[dict[str, Any]]:
    """The base model(s) as CycloneDX pedigree ancestors: the card's ``base_model``, else
    config.json's ``_name_or_path`` when it is a hub id other than the model's own."""
    bases = list(card.base_models)
    name_or_path = config.get("_name_or_path")
    own = (root.name, root.name.rpartition("/")[2])
    if not bases and isinstance(name_or_path, str) and "/" in name_or_path and name_or_path not in own:
        bases = [name_or_path] if mlbom.is_hub_id(name_or_path) else []
    out = []
    for base in bases:
        anc: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": f"base-model:{base}", "name": base}
        if mlbom.is_hub_id(base):
            anc["purl"] = mlbom.hub_purl(base)
            if "/" in base:
                anc["supplier"] = {"name": base.split("/")[0]}
        out.append(anc)
    return out


def _missing_shard(shown: str, shard: str) -> Finding:
    return Finding(
        id="SBOM-MODEL-SHARD-MISSING",
        check="sbom",
        severity=Severity.MEDIUM,
        subject=shown,
        message=f"the shard index names {shard!r}, which is not a file beside it",
        evidence={"file": shown, "shard": shard},
    )
