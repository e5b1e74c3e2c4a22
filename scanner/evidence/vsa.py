"""The gate's own attestation: an in-toto statement with a SLSA Verification Summary (VSA v1,
https://slsa.dev/spec/v1.0/verification_summary) about the artifact and the decision, signed
as a DSSE envelope with a local key (``--sign-key``), or with Sigstore keyless when no key is
given and the environment offers an ambient OIDC credential (GitHub Actions and other CI).

``scanner verify ARTIFACT --bundle VSA --key PUB`` verifies it again (and fails on a FAILED one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import __version__
from scanner.errors import ScanError

if TYPE_CHECKING:
    from scanner.pipeline import Outcome as GateOutcome

PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
VERIFIER_ID = "urn:scanner:gate"


def build_statement(
    outcome: GateOutcome,
    *,
    policy_dir: Path,
    policy_data: Mapping[str, Any],
    now: dt.datetime | None = None,
    resource_uri: str | None = None,
) -> dict[str, Any]:
    artifact = outcome.artifact
    algorithm, _, value = artifact.digest.partition(":")
    if outcome.decision is None or outcome.policy_input is None:
        raise ScanError("a verification summary needs a decision (run every stage)")
    passed = outcome.decision.allow
    doc = outcome.policy_input
    levels = [e.get("slsa_build_level") or 0 for e in doc.get("provenance") or [] if e.get("verified")]
    now = now or dt.datetime.now(dt.timezone.utc)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": artifact.name, "digest": {algorithm: value}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"scanner": __version__}},
            "timeVerified": now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resourceUri": resource_uri or Path(artifact.path).resolve().as_uri(),
            "policy": {
                "uri": Path(policy_dir).resolve().as_uri(),
                "digest": {"sha256": policy_digest(policy_dir, policy_data)},
            },
            "inputAttestations": input_attestations(outcome),
            "verificationResult": "PASSED" if passed else "FAILED",
            "verifiedLevels": _levels(passed, levels, (doc.get("promotion") or {}).get("to")),
            "slsaVersion": "1.0",
            # not part of SLSA: the model identity and the metrics the gate judged, so that a
            # registry gate can read the baseline of a stage back from its tag's VSA
            "scanner": {
                "model": (outcome.record.get("quality") or {}).get("model", artifact.name),
                "metrics": {
                    name: m["value"]
                    for name, m in (doc.get("metrics") or {}).items()
                    if isinstance(m, Mapping) and isinstance(m.get("value"), (int, float))
                },
            },
        },
    }


def _levels(passed: bool, build_levels: list[int], stage: str | None) -> list[str]:
    """The SLSA build level of the best verified provenance (0 without any), plus a custom
    ``SCANNER_STAGE_<STAGE>`` naming the stage the artifact was admitted to; ``FAILED`` on deny."""
    if not passed:
        return ["FAILED"]
    levels = [f"SLSA_BUILD_LEVEL_{max(build_levels, default=0)}"]
    return [*levels, f"SCANNER_STAGE_{stage.upper()}"] if stage else levels


def policy_digest(policy_dir: Path, policy_data: Mapping[str, Any]) -> str:
    """SHA-256 over every ``.rego`` file (sorted relative path and content digest) and the
    canonical JSON of the policy data the gate used."""
    h = hashlib.sha256()
    root = Path(policy_dir)
    for path in sorted(root.rglob("*.rego")) if root.is_dir() else []:
        h.update(f"{path.relative_to(root).as_posix()}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    h.update(json.dumps(policy_data, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def input_attestations(outcome: GateOutcome) -> list[dict[str, Any]]:
    """The signed evidence the decision rested on, by the digest of exactly the bytes its checks
    verified (``CheckResult.inputs`` and ``.attached``, the record's ``inputs.signature_files``
    and ``inputs.attached_evidence``) — never hashed again here, where a file could hold
    something else by now. A file is named by its path; a document attached in a registry by its
    referrer manifest (whose digest commits to the layer read, named in ``annotations``)."""
    seen: dict[str, dict[str, Any]] = {}
    for result in outcome.results:
        for item in result.inputs:
            if item.sha256 is not None:  # None: too large, not read (its verification failed)
                uri = Path(os.path.abspath(item.path)).as_uri()
                seen.setdefault(uri, {"uri": uri, "digest": {"sha256": item.sha256}})
        for ref in result.attached:
            algorithm, _, value = ref.referrer.partition(":")
            seen.setdefault(
                ref.ref, {"uri": ref.ref, "digest": {algorithm: value}, "annotations": {"layer": ref.layer}}
            )
    return list(seen.values())


def write_vsa(
    outcome: GateOutcome,
    output: Path,
    *,
    policy_dir: Path,
    policy_data: Mapping[str, Any],
    sign_key: Path | None = None,
    resource_uri: str | None = None,
) -> str:
    """Write the signed VSA to ``output``; returns how it was signed (for the log line).
    ``resource_uri`` names where the artifact lives (``oci://…@sha256:…`` for a registry)."""
    from scanner.atomic import write_atomic

    text, how = signed_vsa(outcome, policy_dir=policy_dir, policy_data=policy_data, sign_key=sign_key,
                           resource_uri=resource_uri)  # fmt: skip
    write_atomic(output, [text], "attestation")  # whole or not at all
    return how


def signed_vsa(
    outcome: GateOutcome,
    *,
    policy_dir: Path,
    policy_data: Mapping[str, Any],
    sign_key: Path | None = None,
    resource_uri: str | None = None,
) -> tuple[str, str]:
    """The signed VSA's text (a DSSE envelope or a Sigstore bundle) and how it was signed."""
    statement = build_statement(outcome, policy_dir=policy_dir, policy_data=policy_data, resource_uri=resource_uri)
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    if sign_key is not None:
        from scanner.verify.keyed import sign_envelope

        text = json.dumps(sign_envelope(load_private_key(sign_key), payload, PAYLOAD_TYPE), indent=2)
        how = f"DSSE, key {sign_key}"
    else:
        text, how = _sign_keyless(payload), "Sigstore keyless (ambient OIDC credential)"
    return text + "\n", how


def load_private_key(path: Path) -> Any:
    """A PEM private key; its password, if any, comes from ``SCANNER_SIGN_KEY_PASSWORD``."""
    from cryptography.hazmat.primitives import serialization

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScanError(f"cannot read signing key: {exc.strerror or exc}", path) from None
    password = os.environ.get("SCANNER_SIGN_KEY_PASSWORD")
    try:
        return serialization.load_pem_private_key(data, password.encode() if password else None)
    except TypeError:
        raise ScanError("signing key is encrypted: set SCANNER_SIGN_KEY_PASSWORD", path) from None
    except ValueError:
        raise ScanError("not a PEM private key (or wrong password)", path) from None
    except Exception as exc:  # UnsupportedAlgorithm
        raise ScanError(f"unsupported signing key: {exc}", path) from None


def _sign_keyless(payload: bytes) -> str:
    """Sigstore keyless signing (Fulcio + Rekor, needs the network). Used only when an ambient
    OIDC credential exists; cannot run in the offline test environment."""
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential

    try:
        token = detect_credential()
    except IdentityError as exc:
        raise ScanError(f"ambient OIDC credential unusable: {exc}") from None
    if not token:
        raise ScanError(
            "cannot sign the attestation: no --sign-key given and no ambient OIDC credential for Sigstore keyless"
        )
    from sigstore.dsse import Statement
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    try:
        context = SigningContext.from_trust_config(ClientTrustConfig.production())
        with context.signer(IdentityToken(token), cache=False) as signer:
            return str(signer.sign_dsse(Statement(payload)).to_json())
    except Exception as exc:  # network and service errors of several types
        raise ScanError(f"Sigstore keyless signing failed: {exc}") from None
