"""SPDX 3.0.1 JSON-LD for an Inventory, with the AI and Dataset profiles.

The model becomes an ``ai_AIPackage`` (its card's task, architecture, hyperparameters, metrics and
limitations in the AI profile's fields), each dataset a ``dataset_DatasetPackage`` linked by
``trainedOn`` / ``testedOn``, the base model an ``ai_AIPackage`` that is ``ancestorOf`` the model,
every file a ``software_File`` with its SHA-256 that the model ``contains``, libraries
``software_Package``s it ``dependsOn``, and licences ``simplelicensing_LicenseExpression``s
(``hasDeclaredLicense``). Element ids derive from the artifact digest and the bom-refs, so the same
input gives the same ids; only ``created`` changes between runs (fixed by the inventory timestamp).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote

from scanner import __version__
from scanner.core import Artifact
from scanner.inventory.components import Component, Inventory

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
CREATION = "_:creationinfo"
_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA3-256": "sha3_256",
    "SHA3-384": "sha3_384",
    "SHA3-512": "sha3_512",
    "BLAKE2b-256": "blake2b256",
    "BLAKE2b-384": "blake2b384",
    "BLAKE2b-512": "blake2b512",
    "BLAKE3": "blake3",
}
_PURPOSE = {
    "machine-learning-model": "model",
    "data": "data",
    "library": "library",
    "framework": "framework",
    "application": "application",
    "container": "container",
    "operating-system": "operatingSystem",
    "firmware": "firmware",
    "device-driver": "deviceDriver",
}
_WEIGHT_FORMATS = {"safetensors", "gguf", "pickle", "zip", "hdf5", "numpy", "protobuf", "tflite"}


def to_spdx3_json(inventory: Inventory, artifact: Artifact) -> str:
    return json.dumps(build_spdx3(inventory, artifact), indent=2) + "\n"


def build_spdx3(inventory: Inventory, artifact: Artifact) -> dict[str, Any]:
    return _Writer(inventory, artifact).document()


class _Writer:
    def __init__(self, inventory: Inventory, artifact: Artifact):
        self.inv = inventory
        self.artifact = artifact
        digest = artifact.digest.partition(":")[2] or artifact.digest
        self.ns = f"https://spdx.org/spdxdocs/scanner-{digest[:40]}/"
        self.graph: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}  # bom-ref → spdxId
        self.by_ref = {c.bom_ref: c for c in inventory.components}
        self.agents: dict[str, str] = {}
        self.licenses: dict[str, str] = {}
        self.relationships = 0

    # -- ids and shared elements --

    def id(self, kind: str, key: str) -> str:
        return f"{self.ns}{kind}/{quote(key, safe=':@/')}"

    def element(self, type_: str, spdx_id: str, **props: Any) -> dict[str, Any]:
        el = {"type": type_, "spdxId": spdx_id, "creationInfo": CREATION}
        el.update({k: v for k, v in props.items() if v not in (None, [], "")})
        self.graph.append(el)
        return el

    def organization(self, name: str) -> str:
        if name not in self.agents:
            self.agents[name] = self.id("agent", name)
            self.element("Organization", self.agents[name], name=name)
        return self.agents[name]

    def license(self, expression: str) -> str:
        expr = spdx_expression(expression)
        if expr not in self.licenses:
            self.licenses[expr] = self.id("license", expr)
            self.element(
                "simplelicensing_LicenseExpression", self.licenses[expr], simplelicensing_licenseExpression=expr
            )
        return self.licenses[expr]

    def relationship(self, from_id: str, rel_type: str, to_ids: list[str]) -> None:
        if to_ids:
            self.relationships += 1
            rel_id = self.id("relationship", str(self.relationships))
            self.element("Relationship", rel_id, relationshipType=rel_type)
            self.graph[-1].update({"from": from_id, "to": to_ids})

    # -- the document --

    def document(self) -> dict[str, Any]:
        created = _timestamp(self.inv.timestamp)
        tool = self.id("tool", "scanner")
        self.element("Tool", tool, name=f"scanner {__version__}")
        creators = [self.person(a) for a in self.inv.authors]
        if not creators:
            creators = [self.id("agent", "scanner")]
            self.element("SoftwareAgent", creators[0], name="scanner")
        for comp in self.inv.components:
            self.component(comp)
        root = self.inv.root
        if root is not None:
            if root.bom_ref not in self.ids:  # an application's root is not among its components
                self.component(root)
            self.model_extras(root)
        self.edges()
        for comp in self.inv.components:
            if comp.licenses:
                self.relationship(self.ids[comp.bom_ref], "hasDeclaredLicense", [self.license(comp.licenses[0])])
        data_license = self.license("CC0-1.0")
        doc_id = self.id("document", "sbom")
        elements = [el["spdxId"] for el in self.graph]
        doc = {
            "type": "SpdxDocument",
            "spdxId": doc_id,
            "creationInfo": CREATION,
            "name": f"SBOM of {self.artifact.name}",
            "profileConformance": ["core", "software", "simpleLicensing", "ai", "dataset"],
            "dataLicense": data_license,
            "element": elements,
        }
        if root is not None:
            doc["rootElement"] = [self.ids[root.bom_ref]]
        creation = {
            "type": "CreationInfo",
            "@id": CREATION,
            "specVersion": SPEC_VERSION,
            "created": created,
            "createdBy": creators,
            "createdUsing": [tool],
        }
        return {"@context": CONTEXT, "@graph": [creation, doc, *self.graph]}

    def person(self, name: str) -> str:
        spdx_id = self.id("agent", name)
        if name not in self.agents:
            self.agents[name] = spdx_id
            self.element("Person", spdx_id, name=name)
        return spdx_id

    def component(self, comp: Component) -> None:
        common: dict[str, Any] = {"name": comp.name, "description": comp.description}
        hashes = [
            {"type": "Hash", "algorithm": _HASH_ALGORITHMS[alg], "hashValue": value}
            for alg, value in sorted(comp.hashes.items())
            if alg in _HASH_ALGORITHMS
        ]
        if hashes:
            common["verifiedUsing"] = hashes
        if comp.supplier:
            common["suppliedBy"] = self.organization(comp.supplier)
        if comp.type == "file":
            spdx_id = self.id("file", comp.name)
            self.element("software_File", spdx_id, software_primaryPurpose=_file_purpose(comp), **common)
        else:
            pkg = {
                "software_packageVersion": comp.version,
                "software_packageUrl": comp.purl,
                "software_primaryPurpose": _PURPOSE.get(comp.type, "other"),
                "software_downloadLocation": comp.external_references.get("distribution")
                or comp.external_references.get("website"),
                "software_homePage": comp.external_references.get("website"),
            }
            if comp.type == "machine-learning-model":
                spdx_id = self.id("model", comp.bom_ref)
                self.element("ai_AIPackage", spdx_id, **common, **pkg)
            elif comp.type == "data":
                spdx_id = self.id("dataset", comp.bom_ref)
                self.element("dataset_DatasetPackage", spdx_id, dataset_datasetType=["noAssertion"], **common, **pkg)
            else:
                spdx_id = self.id("package", comp.bom_ref)
                self.element("software_Package", spdx_id, **common, **pkg)
        self.ids[comp.bom_ref] = spdx_id

    def model_extras(self, root: Component) -> None:
        """The modelCard's facts in the AI profile's fields; the base models as ancestors."""
        extras = self.inv.cyclonedx_extras.get(root.bom_ref, {})
        el = next(e for e in self.graph if e["spdxId"] == self.ids[root.bom_ref])
        card = extras.get("modelCard") or {}
        if card and el["type"] == "ai_AIPackage":
            el.update(_ai_fields(card))
        for anc in (extras.get("pedigree") or {}).get("ancestors") or []:
            base_id = self.id("model", anc.get("bom-ref") or anc["name"])
            base: dict[str, Any] = {"name": anc["name"], "software_packageUrl": anc.get("purl")}
            if isinstance(anc.get("supplier"), dict) and anc["supplier"].get("name"):
                base["suppliedBy"] = self.organization(anc["supplier"]["name"])
            self.element("ai_AIPackage", base_id, software_primaryPurpose="model", **base)
            self.relationship(base_id, "ancestorOf", [self.ids[root.bom_ref]])

    def edges(self) -> None:
        root_ref = self.inv.root.bom_ref if self.inv.root else None
        for ref in sorted(self.inv.dependencies, key=lambda r: (r != root_ref, r)):
            if ref not in self.ids:
                continue
            grouped: dict[str, list[str]] = {}
            for target in self.inv.dependencies[ref]:
                comp = self.by_ref.get(target)
                if comp is None or target not in self.ids:
                    continue
                for rel in _relationship_types(comp, from_root=ref == root_ref):
                    grouped.setdefault(rel, []).append(self.ids[target])
            for rel, targets in grouped.items():
                self.relationship(self.ids[ref], rel, targets)


def _relationship_types(target: Component, from_root: bool) -> list[str]:
    if target.type == "file" and from_root:
        return ["contains"]
    if target.type == "data":
        roles = target.properties.get("ml-role", "").split(",")
        types = [t for role, t in (("training", "trainedOn"), ("evaluation", "testedOn")) if role in roles]
        return types or ["dependsOn"]
    return ["dependsOn"]


def _ai_fields(card: dict[str, Any]) -> dict[str, Any]:
    params = card.get("modelParameters") or {}
    cons = card.get("considerations") or {}
    props = [(p["name"], p["value"]) for p in card.get("properties") or []]
    out: dict[str, Any] = {}
    types = [params[k] for k in ("modelArchitecture", "architectureFamily") if params.get(k)]
    if types:
        out["ai_typeOfModel"] = types
    hyper = [_entry(k.removeprefix("hyperparameter:"), v) for k, v in props if k.startswith("hyperparameter:")]
    if hyper:
        out["ai_hyperparameter"] = hyper
    metrics = [
        _entry(m["type"] + (f" [{m['slice']}]" if m.get("slice") else ""), m["value"])
        for m in (card.get("quantitativeAnalysis") or {}).get("performanceMetrics") or []
    ]
    if metrics:
        out["ai_metric"] = metrics
    application = ([f"Task: {params['task']}."] if params.get("task") else []) + list(cons.get("useCases") or [])
    if application:
        out["ai_informationAboutApplication"] = "\n\n".join(application)
    limits = list(cons.get("technicalLimitations") or [])
    limits += [e["name"] for e in cons.get("ethicalConsiderations") or []]
    if limits:
        out["ai_limitation"] = "\n\n".join(limits)
    training = [f"{k.removeprefix('training-framework:')} {v}" for k, v in props if k.startswith("training-framework:")]
    env = [(p["name"], p["value"]) for p in (cons.get("environmentalConsiderations") or {}).get("properties") or []]
    about = []
    if training:
        about.append("Frameworks: " + ", ".join(training) + ".")
    if env:
        about.append("; ".join(f"{k}: {v}" for k, v in env) + ".")
    if about:
        out["ai_informationAboutTraining"] = " ".join(about)
    return out


def _entry(key: str, value: str) -> dict[str, str]:
    return {"type": "DictionaryEntry", "key": key, "value": str(value)}


def _file_purpose(comp: Component) -> str:
    fmt = comp.properties.get("format")
    name = comp.name.rsplit("/", 1)[-1].lower()
    if fmt in _WEIGHT_FORMATS:
        return "model"
    if name.endswith(".md") or name.startswith(("readme", "license", "licence", "notice")):
        return "documentation"
    if fmt == "json" or name.endswith((".json", ".yaml", ".yml", ".txt", ".model")):
        return "configuration"
    return "other"


def spdx_expression(text: str) -> str:
    """An SPDX licence expression for ``text``: itself normalised when it parses as one, else a
    ``LicenseRef-`` naming it (SPDX 3 wants an expression, never free text)."""
    from license_expression import ExpressionError, get_spdx_licensing

    try:
        return str(get_spdx_licensing().parse(text, validate=True, strict=True).render())
    except ExpressionError:
        return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "unknown")


def _timestamp(value: str | None) -> str:
    """SPDX 3 DateTimeStamp: UTC, seconds, a ``Z``."""
    when = dt.datetime.now(dt.timezone.utc)
    if value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
