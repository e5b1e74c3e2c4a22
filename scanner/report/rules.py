"""What each rule id means, for SARIF rule metadata, JUnit and the HTML report.

Rules are matched by exact id first, then by the longest prefix ending in ``-``; a rule nobody
described gets help built from its first finding, never nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DOCS = "https://github.com/scanner-project/scanner/blob/main/README.md"


@dataclass(frozen=True)
class RuleHelp:
    title: str
    help: str


RULES: dict[str, RuleHelp] = {
    "MODEL-PICKLE-GLOBAL": RuleHelp(
        "Pickle imports a callable",
        "The model file is a pickle that imports a module attribute (GLOBAL / STACK_GLOBAL) that can execute "
        "code when the file is loaded with pickle, torch.load or joblib. Convert the model to safetensors, or "
        "load only with weights_only=True after confirming the import is benign.",
    ),
    "MODEL-KERAS-LAMBDA": RuleHelp(
        "Keras Lambda layer",
        "The Keras model contains a Lambda layer whose serialized Python code runs when the model is loaded. "
        "Replace the Lambda with a registered custom layer or re-export without it.",
    ),
    "MODEL-UNSCANNABLE": RuleHelp(
        "Model file could not be fully checked",
        "The scanner could not examine this model file completely (unknown or malformed format, encrypted or "
        "oversized archive). It is treated as unsafe until it can be checked: fix the file or convert it to a "
        "scannable format.",
    ),
    "MODEL-": RuleHelp(
        "Unsafe model serialization",
        "The model file uses a serialization feature that can execute code or hide content when loaded. "
        "Prefer safetensors or GGUF, and never load untrusted pickles.",
    ),
    "VULN-KNOWN": RuleHelp(
        "Dependency with a known vulnerability",
        "An installed or pinned dependency has a published advisory (OSV / PyPA). Upgrade to the fixed version "
        "named in the finding, or record a waiver with an owner, a reason and an expiry when it is not "
        "exploitable in this context.",
    ),
    "VULN-UNAUDITED": RuleHelp(
        "Dependency could not be audited",
        "A dependency could not be looked up in the vulnerability database (unpinned, unknown name, or missing "
        "from the snapshot). Pin it exactly, or update the database with `scanner db import`.",
    ),
    "SBOM-NTIA-": RuleHelp(
        "SBOM misses an NTIA minimum element",
        "Components of the SBOM lack an element the NTIA minimum elements require (supplier, name, version, "
        "unique identifier, dependency relationships, author or timestamp). Add the metadata at the source "
        "(package metadata, model card) so downstream consumers can identify the component.",
    ),
    "SBOM-UNPINNED-REQUIREMENT": RuleHelp(
        "Requirement is not pinned",
        "A requirement is not pinned to one version (`==`), so what gets installed can change between builds "
        "and cannot be audited. Pin it, ideally with hashes (`--require-hashes`).",
    ),
    "SBOM-MANIFEST-MISMATCH": RuleHelp(
        "Lock file does not match pyproject.toml",
        "The lock or requirements file(s) beside pyproject.toml do not resolve what it declares (a range no "
        "pinned version meets, a pin resolved differently, a required dependency not pinned at all): they are "
        "stale. The declared versions are audited as well. Lock the project again (uv lock, poetry lock, "
        "pip-compile, uv export).",
    ),
    "SBOM-MANIFEST-NOT-READ": RuleHelp(
        "Dependency manifest in a sub-folder not read",
        "Only the manifests at the top of a directory are read; this one (a sub-project, a vendored file) is not in "
        "the inventory, so its dependencies are not audited. Judge that folder on its own as well.",
    ),
    "SBOM-": RuleHelp(
        "Inventory problem",
        "The inventory of this artifact is incomplete or could not be parsed everywhere; the SBOM may miss components.",
    ),
    "SIGNATURE-INVALID": RuleHelp(
        "Signature does not verify",
        "A signature or Sigstore bundle for this artifact failed verification (digest mismatch, untrusted "
        "identity or issuer, or malformed bundle). Re-sign from the trusted pipeline and check the allowed "
        "identities in the policy data.",
    ),
    "SIGNATURE-": RuleHelp("Signature problem", "The artifact's signature could not be verified as required."),
    "PROVENANCE-INVALID": RuleHelp(
        "Provenance does not verify",
        "The in-toto / SLSA provenance statement does not verify, does not name this artifact, or comes from "
        "a builder or source repository the policy does not trust.",
    ),
    "PROVENANCE-": RuleHelp("Provenance problem", "The artifact's build provenance is missing or not trusted."),
    "LICENSE-": RuleHelp(
        "License policy",
        "A component's license is denied by the policy or could not be determined. Replace the component or "
        "obtain a waiver from the license owner.",
    ),
    "POLICY-": RuleHelp(
        "Policy decision",
        "The promotion policy denied or warned about this artifact; the message names the reason.",
    ),
}


def rule_help(rule_id: str, example: Mapping[str, Any] | None = None) -> RuleHelp:
    """Help for ``rule_id``; falls back to the first finding's message and fix."""
    if rule_id in RULES:
        return RULES[rule_id]
    prefixes = [p for p in RULES if p.endswith("-") and rule_id.startswith(p)]
    if prefixes:
        return RULES[max(prefixes, key=len)]
    title = rule_id.replace("-", " ").title()
    text = str(example.get("message", "")) if example else ""
    fix = example.get("fix") if example else None
    if fix:
        text = f"{text} Fix: {fix}"
    return RuleHelp(title, text or f"Finding {rule_id} reported by scanner.")
