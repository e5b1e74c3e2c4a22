"""``scanner attest``: a signed in-toto statement about an artifact, so that evaluation and test
jobs sign their results with the same tool, about the same digest the gate computes.

The subject is the artifact's identity as every command reports it (``scanner.artifact.detect``:
a file's sha256, a directory's digest over its files), so the gate counts the statement for
exactly these bytes and for nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.errors import ScanError
from scanner.evidence.predicates import CYCLONEDX_BOM, TEST_RESULT, VSA, PredicateError, summarize

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_MAX_BYTES = 16 << 20
# short names accepted by --predicate-type, like cosign's --type
ALIASES = {"test-result": TEST_RESULT, "cyclonedx": CYCLONEDX_BOM, "vsa": VSA}


def predicate_type(name: str) -> str:
    """An alias or a URI; anything else is refused (a predicate type is a URI)."""
    value = ALIASES.get(name, name)
    if "://" not in value:
        raise ScanError(f"predicate type {name!r} is neither a URI nor one of {', '.join(ALIASES)}")
    return value


def read_predicate(path: Path) -> Any:
    from scanner.safeio import read_bounded

    raw = read_bounded(path, PREDICATE_MAX_BYTES, what="predicate")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScanError(f"predicate is not valid JSON: {exc}", path) from None
    except RecursionError:
        raise ScanError("predicate nested too deeply", path) from None
    if not isinstance(value, dict):
        raise ScanError("predicate is not a JSON object", path)
    return value


def build_statement(name: str, digest: str, ptype: str, predicate: Mapping[str, Any]) -> dict[str, Any]:
    """The statement about ``digest`` (``sha256:<hex>``); a predicate of a type the gate reads
    must have that type's shape (so a job cannot sign something the gate would then refuse to
    count)."""
    algorithm, _, value = digest.partition(":")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {algorithm: value}}],
        "predicateType": ptype,
        "predicate": dict(predicate),
    }
    try:
        summarize(statement)
    except PredicateError as exc:
        raise ScanError(f"predicate does not fit {ptype}: {exc}") from None
    return statement


def sign_statement(statement: Mapping[str, Any], sign_key: Path | None) -> tuple[str, str]:
    """(DSSE envelope or Sigstore bundle JSON, how it was signed): with the PEM key, else
    Sigstore keyless when the environment offers an ambient OIDC credential."""
    from scanner.evidence.vsa import _sign_keyless, load_private_key

    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    if sign_key is None:
        return _sign_keyless(payload), "Sigstore keyless (ambient OIDC credential)"
    from scanner.verify.keyed import sign_envelope

    envelope = sign_envelope(load_private_key(sign_key), payload, PAYLOAD_TYPE)
    return json.dumps(envelope, indent=2), f"DSSE, key {sign_key}"


def attach_to_registry(ref: str, ptype: str, signed: str, keyless: bool, options: Any) -> str:
    """Attach a signed attestation to the manifest ``ref`` names as an OCI referrer (the referrers
    API, else the tag schema, as ``scanner promote`` attaches its evidence); returns the
    referrer's digest. ``scanner gate oci://…`` then discovers and verifies it."""
    import datetime as dt

    from scanner.registry import mediatypes as mt
    from scanner.registry.client import Client
    from scanner.registry.reference import parse_reference
    from scanner.registry.referrers import attach, build_referrer

    reference = parse_reference(ref, require="tag-or-digest")
    client = Client(reference.registry, options)
    manifest = client.get_manifest(reference.repository, reference.reference)
    media = mt.SIGSTORE_BUNDLE if keyless else mt.DSSE_ENVELOPE
    notes = {
        mt.ANN_PREDICATE: ptype,
        mt.ANN_CREATED: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    referrer = build_referrer(
        client,
        reference.repository,
        manifest.descriptor(),
        mt.SIGSTORE_BUNDLE if keyless else mt.IN_TOTO,
        [(signed.encode(), media)],
        notes,
    )
    attach(client, reference.repository, referrer)
    return referrer.digest


def registry_subject(ref: str, options: Any) -> tuple[str, str]:
    """(name, digest) of the manifest an ``oci://`` reference resolves to: the identity the gate
    gives a registry artifact (the manifest digest, which commits to every file)."""
    from scanner.registry.client import Client
    from scanner.registry.reference import parse_reference

    reference = parse_reference(ref, require="tag-or-digest")
    manifest = Client(reference.registry, options).get_manifest(reference.repository, reference.reference)
    return reference.name, manifest.digest
