"""What a model package carries besides its weights: code and runtime dependencies.

Recognised by content, never executed:

- **MLflow** (an ``MLmodel`` YAML file with ``flavors``): each flavor's code path (``code:``),
  a models-from-code ``python_model: model.py``, the ``loader_module``, the model file(s) the
  flavors name, and the environment it declares — ``requirements.txt``, ``python_env.yaml``
  (Python version, build and runtime dependencies) and ``conda.yaml`` (channels, Python version,
  conda packages, the ``pip:`` list).
- **Hugging Face remote code**: ``auto_map`` in ``config.json`` (what ``trust_remote_code=True``
  imports for the model), ``tokenizer_config.json`` (tokenizer code) and
  ``preprocessor_config.json`` / ``processor_config.json`` (processor code). An entry
  ``org/repo--module.Class`` names code in *another* repository, fetched at load time.
- A ``requirements.txt`` beside the weights.

Every YAML file goes through ``scanner.safeyaml`` (bounded, plain data), every JSON file through
``scanner.safeio`` with a size limit. A file that cannot be read is an ``SBOM-MODEL-CONFIG-INVALID``
finding, never a crash and never silently ignored.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from scanner.core import Finding, ScanError, Severity
from scanner.inventory.components import Component

CONFIG_MAX_BYTES = 16 << 20
YAML_MAX_BYTES = 1 << 20

# Roles of the code a model carries (the ML-BOM property ``code-role``).
REMOTE_CODE = "remote-code"  # config.json auto_map: the model's own classes
TOKENIZER_CODE = "tokenizer-code"  # tokenizer_config.json auto_map
PROCESSOR_CODE = "processor-code"  # preprocessor_config.json / processor_config.json auto_map
MLFLOW_CODE_PATH = "mlflow-code-path"  # files under an MLmodel flavor's ``code:`` directory
MLFLOW_MODEL_CODE = "mlflow-model-code"  # models-from-code: ``python_model: model.py``
BUNDLED_CODE = "bundled-code"  # any other Python file in the model directory

AUTO_MAP_FILES = {
    "config.json": REMOTE_CODE,
    "tokenizer_config.json": TOKENIZER_CODE,
    "preprocessor_config.json": PROCESSOR_CODE,
    "processor_config.json": PROCESSOR_CODE,
}
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_CONDA_SPEC = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(==|=|<=|>=|<|>|!=|~=)?\s*([A-Za-z0-9_.*+!-]+)?")
_INCLUDE = re.compile(r"\s*(?:-r|--requirement)(?:\s+|=)(\S+)\s*$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class CodeRef:
    """A Python module a loader imports: ``rel`` inside the package, or ``repo`` (another
    repository) when the reference points elsewhere. ``entry`` is the reference as written."""

    role: str
    entry: str
    declared_in: str
    rel: str | None = None
    repo: str | None = None


@dataclass
class ModelPackage:
    """Facts about the package; ``dependencies`` are ``pkg:pypi`` components (one per purl)."""

    properties: dict[str, str] = field(default_factory=dict)  # the model's (ML-BOM root) properties
    code: list[CodeRef] = field(default_factory=list)
    dependencies: list[Component] = field(default_factory=list)
    conda_packages: list[Component] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def code_roles(self) -> dict[str, str]:
        """rel → role of the code files the package's own metadata names (first role wins)."""
        out: dict[str, str] = {}
        for ref in self.code:
            if ref.rel is not None:
                out.setdefault(ref.rel, ref.role)
        return out


def read_package(
    root: Path,
    shown: Callable[[str], str],
    files: list[str],
    already: dict[str, dict[str, Any]] | None = None,
    locate: Callable[[str], Path | None] | None = None,
) -> ModelPackage:
    """Read the package at ``root`` (a directory). ``files`` are its in-tree file paths (POSIX,
    relative); ``shown`` turns one into the path findings name; ``already`` holds JSON configs
    the caller has read (by name), which are not read again; ``locate`` gives the file to read for
    a path of the package (a Hugging Face snapshot's files are links into its cache's blobs), or
    None for one that is not the package's."""
    pkg = ModelPackage()
    present = set(files)
    where = locate or (lambda rel: root / rel)
    deps = _Deps(pkg, root, shown, where)
    if "MLmodel" in present:
        _mlflow(root, shown, present, pkg, deps)
    for name, role in AUTO_MAP_FILES.items():
        if already is not None and name in already:
            _auto_map(already[name], name, role, present, pkg)
        elif name in present:
            data = _json(where(name), shown(name), pkg.findings)
            _auto_map(data, name, role, present, pkg)
    if "requirements.txt" in present:
        deps.requirements_file("requirements.txt")
    pkg.dependencies = list(deps.by_ref.values())
    return pkg


# --- MLflow --------------------------------------------------------------------------------------


def _mlflow(root: Path, shown: Callable[[str], str], present: set[str], pkg: ModelPackage, deps: _Deps) -> None:
    doc = _yaml(deps.locate("MLmodel"), shown("MLmodel"), pkg.findings)
    flavors = doc.get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavors, dict):
        if doc is not None:
            pkg.findings.append(_invalid(shown("MLmodel"), "no flavors mapping"))
        return
    props = pkg.properties
    props["mlflow:flavors"] = ",".join(sorted(str(k) for k in flavors))
    if isinstance(doc.get("mlflow_version"), str):
        props["mlflow:version"] = doc["mlflow_version"]
    model_files: set[str] = set()
    env_files: dict[str, str] = {}
    for flavor, conf in sorted(flavors.items()):
        if not isinstance(conf, dict):
            continue
        code_dir = conf.get("code")
        if isinstance(code_dir, str) and code_dir:
            prefix = code_dir.strip("/") + "/"
            for rel in sorted(present):
                if rel.startswith(prefix) and rel.endswith(".py"):
                    pkg.code.append(CodeRef(MLFLOW_CODE_PATH, f"{flavor}.code: {code_dir}", "MLmodel", rel=rel))
        python_model = conf.get("python_model")
        if isinstance(python_model, str) and python_model.endswith(".py"):
            pkg.code.append(CodeRef(MLFLOW_MODEL_CODE, f"{flavor}.python_model", "MLmodel", rel=python_model))
        code_path = conf.get("model_code_path")  # MLflow 3 models-from-code: the author's path, copied beside
        if isinstance(code_path, str) and code_path:
            base = code_path.replace("\\", "/").rsplit("/", 1)[-1]
            pkg.code.append(CodeRef(MLFLOW_MODEL_CODE, f"{flavor}.model_code_path: {code_path}", "MLmodel", rel=base))
        if isinstance(conf.get("loader_module"), str):
            props["mlflow:loader-module"] = conf["loader_module"]
        if isinstance(conf.get("python_version"), str):
            props.setdefault("python-version", conf["python_version"])
        if isinstance(conf.get("serialization_format"), str):
            props["mlflow:serialization-format"] = conf["serialization_format"]
        for key in ("pickled_model", "model_path", "python_model", "data", "model_data", "artifacts_path"):
            value = conf.get(key)
            if not isinstance(value, str) or not value:
                continue
            if value in present or any(p.startswith(f"{value}/") for p in present):
                model_files.add(value)
        env = conf.get("env")
        if isinstance(env, dict):
            env_files.update({k: v for k, v in env.items() if isinstance(v, str)})
        elif isinstance(env, str):
            env_files["conda"] = env
    if model_files:
        props["mlflow:model-files"] = ",".join(sorted(model_files))
    conda = env_files.get("conda", "conda.yaml")
    if conda in present:
        _conda(root, conda, shown, pkg, deps)
    venv = env_files.get("virtualenv", "python_env.yaml")
    if venv in present:
        _python_env(root, venv, shown, pkg, deps)


def _conda(root: Path, rel: str, shown: Callable[[str], str], pkg: ModelPackage, deps: _Deps) -> None:
    doc = _yaml(deps.locate(rel), shown(rel), pkg.findings)
    if not isinstance(doc, dict):
        return
    channels = doc.get("channels")
    if isinstance(channels, list):
        pkg.properties["conda:channels"] = ",".join(str(c) for c in channels if isinstance(c, str))
    items = doc.get("dependencies")
    if not isinstance(items, list):
        return
    for i, item in enumerate(items, 1):
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            for j, spec in enumerate(item["pip"], 1):
                deps.spec(spec, f"{rel}:dependencies[{i}].pip[{j}]")
        elif isinstance(item, str):
            m = _CONDA_SPEC.match(item)
            if m is None:
                continue
            name, op, version = m.group(1), m.group(2), m.group(3)
            if op not in ("=", "==") or (version and "*" in version):
                version = None
            if name == "python":
                if m.group(3):
                    pkg.properties["python-version"] = m.group(3).rstrip(".*")
                continue
            purl = f"pkg:conda/{name}@{version}" if version else f"pkg:conda/{name}"
            pkg.conda_packages.append(
                Component(
                    bom_ref=purl,
                    name=name,
                    version=version,
                    purl=purl,
                    properties={"declared-in": rel, "conda:spec": item.strip()},
                )
            )


def _python_env(root: Path, rel: str, shown: Callable[[str], str], pkg: ModelPackage, deps: _Deps) -> None:
    doc = _yaml(deps.locate(rel), shown(rel), pkg.findings)
    if not isinstance(doc, dict):
        return
    if isinstance(doc.get("python"), str | float | int):
        pkg.properties["python-version"] = str(doc["python"])
    for key in ("build_dependencies", "dependencies"):
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        for i, spec in enumerate(items, 1):
            where = f"{rel}:{key}[{i}]"
            include = _INCLUDE.match(spec) if isinstance(spec, str) else None
            if include:
                deps.requirements_file(include.group(1), via=where)
            else:
                deps.spec(spec, where, build=key == "build_dependencies")


# --- Hugging Face auto_map -----------------------------------------------------------------------


def _auto_map(data: dict[str, Any], name: str, role: str, present: set[str], pkg: ModelPackage) -> None:
    auto_map = data.get("auto_map")
    if not isinstance(auto_map, dict):
        return
    for auto_class, value in sorted(auto_map.items()):
        targets = value if isinstance(value, list) else [value]
        for target in targets:
            if not isinstance(target, str) or not target:
                continue  # a tokenizer pair may have no fast (or slow) class: null
            entry = f"{auto_class}: {target}"
            repo, sep, ref = target.partition("--")
            if not sep:
                repo, ref = "", target
            module = ref.rpartition(".")[0]
            if repo:
                pkg.code.append(CodeRef(role, entry, name, repo=repo if _REPO.match(repo) else repo[:200]))
                continue
            if not _DOTTED.match(ref):
                pkg.code.append(CodeRef(role, entry, name, rel=ref[:200] or "?"))
                continue
            pkg.code.append(CodeRef(role, entry, name, rel=module.replace(".", "/") + ".py"))


# --- dependencies --------------------------------------------------------------------------------


class _Deps:
    """Runtime dependencies, one component per purl, each naming every file that declares it."""

    def __init__(
        self, pkg: ModelPackage, root: Path, shown: Callable[[str], str], locate: Callable[[str], Path | None]
    ) -> None:
        self.pkg = pkg
        self.root = root
        self.shown = shown
        self.locate = locate
        self.by_ref: dict[str, Component] = {}
        self.read_files: set[str] = set()

    def _show_path(self, path: Path) -> str:
        """A file of the package as outputs name it (``shown``, by its path in the package)."""
        rel = os.path.relpath(path, self.root)
        return self.shown(rel) if rel != ".." and not rel.startswith("../") else str(path)

    def add(self, comp: Component, where: str, build: bool = False) -> None:
        old = self.by_ref.get(comp.bom_ref)
        if old is None:
            comp.properties["declared-in"] = where
            if build:
                comp.properties["dependency-kind"] = "build"
            self.by_ref[comp.bom_ref] = comp
            return
        places = old.properties["declared-in"].split(", ")
        if where not in places:
            old.properties["declared-in"] = ", ".join([*places, where])
        if not build:
            old.properties.pop("dependency-kind", None)

    def spec(self, spec: Any, where: str, build: bool = False) -> None:
        if not isinstance(spec, str) or not spec.strip():
            self.pkg.findings.append(
                _unparseable(self.shown(where.split(":")[0]), where, repr(spec)[:200], str(spec)[:200])
            )
            return
        text = spec.split(" #", 1)[0].strip()
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            self.pkg.findings.append(_unparseable(self.shown(where.split(":")[0]), where, f"{text!r}: {exc}", text))
            return
        name = canonicalize_name(req.name)
        pins = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        version = pins[0] if len(pins) == 1 else None
        purl = f"pkg:pypi/{name}@{version}" if version else f"pkg:pypi/{name}"
        comp = Component(bom_ref=purl, name=name, version=version, purl=purl, source=where)
        if version is None:
            comp.properties["scanner:specifier"] = str(req.specifier) or "any"
        self.add(comp, where, build)

    def requirements_file(self, rel: str, via: str | None = None) -> None:
        """A requirements file of the package (an include must stay inside the package root)."""
        from scanner.inventory.requirements import inventory_requirements

        root = self.root.resolve()
        inside = (self.root / rel).resolve()
        shown = self.shown(rel)
        path = self.locate(inside.relative_to(root).as_posix()) if inside.is_relative_to(root) else None
        if path is None or not path.is_file():
            self.pkg.findings.append(
                _invalid(self.shown(via.split(":")[0]) if via else shown, f"names {rel!r}, not a file of the package")
            )
            return
        norm = inside.relative_to(root).as_posix()
        if norm in self.read_files:
            return
        self.read_files.add(norm)
        try:
            inv = inventory_requirements(path, show=self._show_path)
        except ScanError as exc:
            self.pkg.findings.append(_invalid(shown, exc.message))
            return
        self.pkg.findings.extend(inv.findings)
        for comp in inv.components:
            self.add(comp, norm)


# --- bounded readers -----------------------------------------------------------------------------


def _yaml(path: Path | None, shown: str, findings: list[Finding]) -> Any:
    from scanner import safeyaml
    from scanner.safeio import read_bounded

    if path is None:
        findings.append(_invalid(shown, "a link out of the package: not read"))
        return None
    try:  # follow: ``locate`` only returns files of the package (in-tree, or its snapshot blobs)
        raw = read_bounded(path, YAML_MAX_BYTES, what="YAML file", follow=True)
        return safeyaml.load(raw, shown)
    except ScanError as exc:
        findings.append(_invalid(shown, exc.message))
        return None


def _json(path: Path | None, shown: str, findings: list[Finding]) -> dict[str, Any]:
    from scanner.safeio import read_bounded

    if path is None:
        findings.append(_invalid(shown, "a link out of the package: not read"))
        return {}
    try:
        data = json.loads(read_bounded(path, CONFIG_MAX_BYTES, what="JSON config", follow=True))
    except ScanError as exc:
        findings.append(_invalid(shown, exc.message))
        return {}
    except (ValueError, RecursionError) as exc:
        findings.append(_invalid(shown, f"not JSON: {str(exc)[:200]}"))
        return {}
    if not isinstance(data, dict):
        findings.append(_invalid(shown, "not a JSON object"))
        return {}
    return data


def _invalid(shown: str, problem: str) -> Finding:
    return Finding(
        id="SBOM-MODEL-CONFIG-INVALID",
        check="sbom",
        severity=Severity.MEDIUM,
        subject=shown,
        message=f"{Path(shown).name} cannot be read: {problem}",
        evidence={"file": shown, "error": problem},
        fix="fix or remove the file: what it declares (code, dependencies) cannot be checked",
    )


def _unparseable(shown: str, where: str, problem: str, requirement: str) -> Finding:
    """Kept as an unauditable dependency by the vulnerability check (``evidence.requirement``)."""
    return Finding(
        id="SBOM-UNPARSEABLE-REQUIREMENT",
        check="sbom",
        severity=Severity.MEDIUM,
        subject=where,
        message=f"cannot parse the dependency {problem}",
        evidence={"file": shown, "where": where, "requirement": requirement},
        fix="write each dependency as a PEP 508 requirement, pinned with ==",
    )
