"""Strict CycloneDX schema validation with a compiled validator.

The schemas are the ones cyclonedx-python-lib ships (bom-1.x, spdx, jsf, cryptography-defs) and
are applied as its ``JsonStrictValidator`` applies them (JSON Schema draft 7, formats checked),
but through jsonschema-rs, which is about two orders of magnitude faster than the pure-Python
validator (``benchmarks/sbom.py --validators`` measures both on the same BOM). Every BOM is
validated before it is written; an invalid one is an error, never output.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from scanner.errors import ScanError

SPEC_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
_PREFIX = "http://cyclonedx.org/schema/"
_SHARED = ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json", "cryptography-defs.SNAPSHOT.schema.json")
ERROR_CAP = 20


def schema_dir() -> Path:
    spec = importlib.util.find_spec("cyclonedx")
    if spec is None or not spec.submodule_search_locations:
        raise ScanError("cyclonedx-python-lib is not installed (it ships the CycloneDX schemas)")
    return Path(next(iter(spec.submodule_search_locations))) / "schema" / "_res"


def schema_path(spec_version: str) -> Path:
    if spec_version not in SPEC_VERSIONS:
        raise ScanError(f"unsupported CycloneDX specVersion {spec_version!r}")
    strict = "-strict" if spec_version in ("1.2", "1.3") else ""
    return schema_dir() / f"bom-{spec_version}{strict}.SNAPSHOT.schema.json"


@functools.lru_cache(maxsize=8)
def _validator(spec_version: str) -> Any:
    import jsonschema_rs

    folder = schema_dir()
    resources = [(_PREFIX + name, json.loads((folder / name).read_text(encoding="utf-8"))) for name in _SHARED]
    schema = json.loads(schema_path(spec_version).read_text(encoding="utf-8"))
    return jsonschema_rs.Draft7Validator(schema, registry=jsonschema_rs.Registry(resources), validate_formats=True)


def schema_errors(doc: Any, spec_version: str = "1.6") -> list[str]:
    """Schema violations of a parsed CycloneDX JSON document (empty when valid)."""
    validator = _validator(spec_version)
    errors: list[str] = []
    for err in validator.iter_errors(doc):
        where = "/".join(str(p) for p in err.instance_path) or "(document)"
        errors.append(f"{where}: {err.message[:300]}")
        if len(errors) >= ERROR_CAP:
            break
    return errors


@functools.lru_cache(maxsize=1)
def spdx_ids() -> frozenset[str]:
    """The SPDX licence ids the CycloneDX schema accepts in ``license.id``."""
    doc = json.loads((schema_dir() / "spdx.SNAPSHOT.schema.json").read_text(encoding="utf-8"))
    return frozenset(doc.get("enum") or ())


def library_schema_errors(text: str, spec_version: str = "1.6") -> list[str]:
    """The same check through cyclonedx-python-lib's own ``JsonStrictValidator`` (pure Python).
    Kept for the benchmark and as a cross-check in the tests."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    version = SchemaVersion.from_version(spec_version)
    errors = JsonStrictValidator(version).validate_str(text, all_errors=True)
    return [str(e)[:300] for e in errors or []][:ERROR_CAP]


def xml_schema_errors(text: str, spec_version: str = "1.6") -> list[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.xml import XmlValidator

    version = SchemaVersion.from_version(spec_version)
    error = XmlValidator(version).validate_str(text)
    return [str(error)[:300]] if error else []
