"""Model cards: reading a Hugging Face card, and the CycloneDX 1.6 ``modelCard`` built from it.

A Hugging Face card is a README.md whose YAML front matter holds the machine-readable part
(``license``, ``datasets``, ``base_model``, ``pipeline_tag``, ``model-index`` with evaluation
results, ``co2_eq_emissions``) and whose Markdown sections hold the prose (intended uses,
limitations, bias, training hyperparameters). cyclonedx-python-lib 11 has no model-card classes,
so the small dataclasses below produce the CycloneDX JSON themselves; the serializer merges it
into the model component by bom-ref and validates the whole BOM strictly afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.core import Finding, ScanError, Severity

README_MAX_BYTES = 4 << 20  # a card is text; more than this is read no further
SECTION_MAX_CHARS = 4000
_PLACEHOLDER = re.compile(r"^\s*(more information needed|\[more information needed\]|n/?a|tbd)\.?\s*$", re.I)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*[-*]\s+([^:]+?)\s*:\s*(.+?)\s*$")


# --- the CycloneDX 1.6 modelCard ----------------------------------------------------------------


@dataclass(frozen=True)
class PerformanceMetric:
    type: str
    value: str
    slice: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"type": self.type, "value": self.value}
        if self.slice:
            out["slice"] = self.slice
        return out


@dataclass(frozen=True)
class EthicalConsideration:
    name: str
    mitigation_strategy: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name}
        if self.mitigation_strategy:
            out["mitigationStrategy"] = self.mitigation_strategy
        return out


@dataclass
class ModelParameters:
    task: str | None = None
    architecture_family: str | None = None
    model_architecture: str | None = None
    dataset_refs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.task:
            out["task"] = self.task
        if self.architecture_family:
            out["architectureFamily"] = self.architecture_family
        if self.model_architecture:
            out["modelArchitecture"] = self.model_architecture
        if self.dataset_refs:
            out["datasets"] = [{"ref": ref} for ref in self.dataset_refs]
        return out


@dataclass
class Considerations:
    use_cases: list[str] = field(default_factory=list)
    technical_limitations: list[str] = field(default_factory=list)
    ethical_considerations: list[EthicalConsideration] = field(default_factory=list)
    environmental_properties: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.use_cases:
            out["useCases"] = list(self.use_cases)
        if self.technical_limitations:
            out["technicalLimitations"] = list(self.technical_limitations)
        if self.ethical_considerations:
            out["ethicalConsiderations"] = [e.to_json() for e in self.ethical_considerations]
        if self.environmental_properties:
            out["environmentalConsiderations"] = {"properties": _props(self.environmental_properties)}
        return out


@dataclass
class ModelCard:
    """CycloneDX 1.6 ``modelCard``; ``to_json`` leaves out every empty member."""

    parameters: ModelParameters = field(default_factory=ModelParameters)
    metrics: list[PerformanceMetric] = field(default_factory=list)
    considerations: Considerations = field(default_factory=Considerations)
    properties: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        params = self.parameters.to_json()
        if params:
            out["modelParameters"] = params
        if self.metrics:
            out["quantitativeAnalysis"] = {"performanceMetrics": [m.to_json() for m in self.metrics]}
        cons = self.considerations.to_json()
        if cons:
            out["considerations"] = cons
        if self.properties:
            out["properties"] = _props(self.properties)
        return out


def _props(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


# --- reading a Hugging Face card ----------------------------------------------------------------


@dataclass(frozen=True)
class EvalResult:
    """One metric of a ``model-index`` result, with the dataset it was measured on."""

    metric: str
    value: str
    dataset: str | None
    dataset_name: str | None = None
    config: str | None = None
    split: str | None = None
    task: str | None = None

    @property
    def slice(self) -> str | None:
        if not self.dataset:
            return None
        parts = [self.dataset]
        if self.config:
            parts.append(f"config={self.config}")
        if self.split:
            parts.append(f"split={self.split}")
        return " ".join(parts)


@dataclass
class CardFacts:
    """What a model card says, as plain data (every field optional)."""

    name: str | None = None
    task: str | None = None
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    library_name: str | None = None
    base_models: list[str] = field(default_factory=list)
    base_model_relation: str | None = None
    training_datasets: list[str] = field(default_factory=list)
    results: list[EvalResult] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    co2: list[tuple[str, str]] = field(default_factory=list)
    use_cases: list[str] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    recommendations: str | None = None
    hyperparameters: list[tuple[str, str]] = field(default_factory=list)
    training_frameworks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def evaluation_datasets(self) -> list[str]:
        return _unique(r.dataset for r in self.results if r.dataset)


def read_card(path: Path, shown: str) -> tuple[CardFacts, list[Finding]]:
    """Facts from README.md ``path`` (``shown`` is the name used in findings). Broken front matter
    is a ``SBOM-MODEL-CARD-INVALID`` finding naming the file and line; the prose is still read."""
    with path.open("rb") as fh:
        raw = fh.read(README_MAX_BYTES)
    text = raw.decode("utf-8", errors="replace")
    front, body = split_front_matter(text)
    facts = CardFacts()
    findings: list[Finding] = []
    if front is not None:
        from scanner import safeyaml

        try:
            # One leading newline per line before the YAML keeps the parser's line numbers equal
            # to the README's (the opening "---" is line 1).
            data = safeyaml.load("\n" + front, shown)
        except ScanError as exc:
            findings.append(_invalid(shown, exc.message))
            data = None
        if data is not None and not isinstance(data, dict):
            findings.append(_invalid(shown, "front matter is not a mapping"))
            data = None
        if data:
            _read_front(data, facts)
    _read_sections(body, facts)
    return facts, findings


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(YAML between the opening and closing ``---`` lines or None, the Markdown body)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return "".join(lines[1:]), ""  # never closed: all of it is (broken) front matter


def _invalid(shown: str, message: str) -> Finding:
    m = re.search(r"line (\d+)", message)
    return Finding(
        id="SBOM-MODEL-CARD-INVALID",
        check="sbom",
        severity=Severity.LOW,
        subject=shown,
        message=f"model card front matter cannot be read: {message}",
        evidence={"file": shown, "line": int(m.group(1)) if m else None, "error": message},
        fix="fix the YAML between the '---' lines at the top of the model card",
    )


def _read_front(data: dict[str, Any], facts: CardFacts) -> None:
    facts.task = _text(data.get("pipeline_tag"))
    facts.library_name = _text(data.get("library_name"))
    lic = data.get("license")
    facts.license = " OR ".join(_strings(lic)) if isinstance(lic, list) else _text(lic)
    facts.license_name = _text(data.get("license_name"))
    facts.license_link = _text(data.get("license_link"))
    facts.base_models = _strings(data.get("base_model"))
    facts.base_model_relation = _text(data.get("base_model_relation"))
    facts.training_datasets = _strings(data.get("datasets"))
    facts.languages = _strings(data.get("language"))
    facts.tags = _strings(data.get("tags"))
    co2 = data.get("co2_eq_emissions")
    if isinstance(co2, dict):
        facts.co2 = [(f"co2_eq_emissions:{k}", str(v)) for k, v in co2.items() if _scalar(v)]
    elif _scalar(co2) and co2 is not None:
        facts.co2 = [("co2_eq_emissions:emissions", str(co2))]
    index = data.get("model-index")
    if isinstance(index, list):
        for entry in index:
            if not isinstance(entry, dict):
                continue
            facts.name = facts.name or _text(entry.get("name"))
            for result in entry.get("results") or []:
                if isinstance(result, dict):
                    facts.results.extend(_eval_results(result))


def _eval_results(result: dict[str, Any]) -> list[EvalResult]:
    task: dict[str, Any] = result["task"] if isinstance(result.get("task"), dict) else {}
    ds: dict[str, Any] = result["dataset"] if isinstance(result.get("dataset"), dict) else {}
    out = []
    for metric in result.get("metrics") or []:
        if not isinstance(metric, dict) or not _scalar(metric.get("value")) or metric.get("value") is None:
            continue
        kind = _text(metric.get("type")) or _text(metric.get("name"))
        if not kind:
            continue
        out.append(
            EvalResult(
                metric=kind,
                value=str(metric["value"]),
                dataset=_text(ds.get("type")) or _text(ds.get("name")),
                dataset_name=_text(ds.get("name")),
                config=_text(ds.get("config")),
                split=_text(ds.get("split")),
                task=_text(task.get("type")),
            )
        )
    return out


def _read_sections(body: str, facts: CardFacts) -> None:
    """Prose by heading: bias/risk → ethical considerations, intended use → use cases,
    limitations/out-of-scope → technical limitations; Trainer-style "- key: value" lists under
    "Training hyperparameters" and "Framework versions"."""
    for title, text in _sections(body):
        t = title.lower()
        if "hyperparameter" in t:
            facts.hyperparameters.extend(_key_values(text))
        elif "framework version" in t:
            for line in text.splitlines():
                m = re.match(r"^\s*[-*]\s+(\S+)\s+(\S+)\s*$", line)
                if m:
                    facts.training_frameworks.append((m.group(1), m.group(2)))
        elif _PLACEHOLDER.match(text) or not text:
            continue
        elif "recommendation" in t:
            facts.recommendations = text
        elif any(w in t for w in ("bias", "risk", "ethic")):
            facts.risks.append(text)
        elif "out-of-scope" in t or "out of scope" in t:
            facts.limitations.append(text)
        elif "intended use" in t or t in ("uses", "direct use", "downstream use") or "use case" in t:
            facts.use_cases.append(text)
        elif "limitation" in t:
            facts.limitations.append(text)


def _sections(body: str) -> list[tuple[str, str]]:
    """(heading, text up to the next heading) pairs; fenced code is not searched for headings."""
    out: list[tuple[str, list[str]]] = []
    fenced = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            out.append((m.group(2), []))
        elif out:
            out[-1][1].append(line)
    return [(title, "\n".join(lines).strip()[:SECTION_MAX_CHARS]) for title, lines in out]


def _key_values(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        m = _LIST_ITEM.match(line)
        if m:
            pairs.append((m.group(1).strip(), m.group(2).strip()))
    return pairs


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return _unique(t for t in (_text(v) for v in value) if t)
    text = _text(value)
    return [text] if text else []


def _unique(items: Any) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
