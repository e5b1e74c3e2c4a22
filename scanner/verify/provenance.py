"""SLSA provenance (v1, and v0.2 as still produced by older builders) in a verified in-toto
statement: is the artifact a subject, did a trusted builder make it, from the expected source?

What is exposed to the policy (``entry``) follows the contract in the brief: builder id, build
type, source (repository, ref, digest) and materials (v1 ``resolvedDependencies``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.files import FileSet
from scanner.verify.coverage import PartialCoverage, exempt
from scanner.verify.result import SignatureResult
from scanner.verify.statement import subject_match

if TYPE_CHECKING:
    from scanner.options import VerifyOptions

SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
PREDICATE_TYPES = (SLSA_V1, SLSA_V02)
MAX_MATERIALS = 200


@dataclass(frozen=True)
class Expectations:
    """``trusted_builders`` entries are builder ids, or ``{"id": ..., "level": n}``; an id also
    trusts the same builder at any ``@ref``. An empty ``source_repositories`` means any."""

    trusted_builders: tuple[Any, ...] = ()
    source_repositories: tuple[str, ...] = ()
    source_ref: str | None = None

    @classmethod
    def from_options(cls, options: VerifyOptions, policy_data: Mapping[str, Any] | None = None) -> Expectations:
        """Options first (``builder_ids``, ``source_repo``, ``source_ref``), else the policy data's
        ``provenance`` section."""
        conf = _policy_provenance(policy_data)
        builders = options.builder_ids or tuple(conf.get("trusted_builders") or ())
        repos = (options.source_repo,) if options.source_repo else tuple(conf.get("source_repositories") or ())
        return cls(builders, repos, options.source_ref or conf.get("source_ref"))

    def builder_level(self, builder_id: str | None) -> int | None:
        """The SLSA build level this builder is trusted for (2 unless the entry says), or None."""
        if not builder_id:
            return None
        for entry in self.trusted_builders:
            ident, level = (entry.get("id"), entry.get("level", 2)) if isinstance(entry, dict) else (entry, 2)
            if isinstance(ident, str) and (builder_id == ident or builder_id.startswith(ident + "@")):
                return int(level)
        return None


def _policy_provenance(policy_data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    conf = ((policy_data or {}).get("scanner") or {}).get("config") or {}
    section = conf.get("provenance") if isinstance(conf, Mapping) else None
    return section if isinstance(section, Mapping) else {}


def is_provenance(stmt: Mapping[str, Any] | None) -> bool:
    return bool(stmt) and stmt is not None and stmt.get("predicateType") in PREDICATE_TYPES


def summarize(stmt: Mapping[str, Any]) -> dict[str, Any]:
    """builder_id, build_type, source and materials of a SLSA v1 or v0.2 predicate."""
    pred = _dict(stmt.get("predicate"))
    if stmt.get("predicateType") == SLSA_V02:
        config = _dict(_get(pred, "invocation", "configSource"))
        repo, ref = _split_uri(config.get("uri"))
        materials = pred.get("materials")
        return _summary(
            _get(pred, "builder", "id"),
            pred.get("buildType"),
            repo,
            ref,
            _commit(config.get("digest")),
            materials if isinstance(materials, list) else [],
        )
    build = _dict(pred.get("buildDefinition"))
    ext = _dict(build.get("externalParameters"))
    deps = build.get("resolvedDependencies")
    deps = deps if isinstance(deps, list) else []
    repo = ref = digest = None
    workflow = ext.get("workflow")
    if isinstance(workflow, dict):
        repo, ref = _str(workflow.get("repository")), _str(workflow.get("ref"))
    source = ext.get("source")
    if isinstance(source, str):
        repo, ref = _split_uri(source) if repo is None else (repo, ref)
    elif isinstance(source, dict):
        r, f = _split_uri(source.get("uri"))
        repo, ref = repo or _str(source.get("repository")) or r, ref or _str(source.get("ref")) or f
        digest = _commit(source.get("digest"))
    repo, ref = repo or _str(ext.get("repository")), ref or _str(ext.get("ref"))
    for dep in deps:
        if not isinstance(dep, dict):
            continue
        dep_repo, dep_ref = _split_uri(dep.get("uri"))
        if dep_repo and str(dep.get("uri", "")).startswith("git+") and (repo is None or same_repo(dep_repo, repo)):
            repo, ref = repo or dep_repo, ref or dep_ref
            digest = digest or _commit(dep.get("digest"))
            break
    return _summary(_get(pred, "runDetails", "builder", "id"), build.get("buildType"), repo, ref, digest, deps)


def _summary(builder: Any, build_type: Any, repo: Any, ref: Any, digest: Any, materials: list[Any]) -> dict[str, Any]:
    return {
        "builder_id": _str(builder),
        "build_type": _str(build_type),
        "source": {"repository": repo, "ref": ref, "digest": digest},
        "materials": [_material(m) for m in materials[:MAX_MATERIALS] if isinstance(m, dict)],
    }


def _material(m: dict[str, Any]) -> dict[str, Any]:
    digest = m.get("digest")
    return {
        "uri": _str(m.get("uri")),
        "name": _str(m.get("name")),
        "digest": {str(k): str(v) for k, v in digest.items()} if isinstance(digest, dict) else {},
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _commit(digest: Any) -> str | None:
    if not isinstance(digest, dict):
        return None
    for alg in ("gitCommit", "sha1", "sha256"):
        if isinstance(digest.get(alg), str):
            return f"{alg}:{digest[alg]}"
    return None


def _split_uri(uri: Any) -> tuple[str | None, str | None]:
    """``git+https://github.com/o/r@refs/heads/main`` → (``https://github.com/o/r``, ``refs/heads/main``)."""
    if not isinstance(uri, str) or not uri:
        return None, None
    uri = uri.removeprefix("git+")
    base, at, ref = uri.rpartition("@")
    if at and "/" in base and "://" in base:
        return base, ref or None
    return uri, None


def _norm_repo(repo: str) -> str:
    r = repo.strip().removeprefix("git+").lower()
    r = r.split("://", 1)[-1].removesuffix("/").removesuffix(".git")
    first = r.split("/", 1)[0]
    return r if "." in first else f"github.com/{r}"


def same_repo(a: str, b: str) -> bool:
    return _norm_repo(a) == _norm_repo(b)


def same_ref(actual: str | None, expected: str) -> bool:
    if actual is None:
        return False
    if expected.startswith("refs/"):
        return actual == expected
    return actual in (expected, f"refs/heads/{expected}", f"refs/tags/{expected}")


def evaluate(
    sig: SignatureResult, artifact: Path, expect: Expectations, files: FileSet | None = None
) -> dict[str, Any]:
    """The policy-input ``provenance`` entry for a signature result carrying a statement. About a
    directory, its subjects must cover every file (``unsigned`` names those left out)."""
    stmt = sig.statement or {}
    summary = summarize(stmt) if is_provenance(stmt) else _summary(None, None, None, None, None, [])
    reasons: list[str] = []
    if not sig.signature_ok:
        reasons.append(f"provenance signature not verified: {sig.error}")
    if stmt and not is_provenance(stmt):
        reasons.append(f"not SLSA provenance (predicateType {stmt.get('predicateType')!r})")
    unsigned: list[str] = []
    try:
        subject_ok = (
            bool(stmt) and subject_match(dict(stmt), artifact, files, exempt(artifact, _bundles(sig))) is not None
        )
    except PartialCoverage as partial:
        subject_ok, unsigned = False, partial.unsigned
        reasons.append(f"the provenance {partial}")
    else:
        if stmt and not subject_ok:
            reasons.append("the artifact is not a subject of the provenance")
    builder = summary["builder_id"]
    level = expect.builder_level(builder)
    if not expect.trusted_builders:
        reasons.append("no trusted builders configured (provenance.trusted_builders or --builder-id)")
    elif stmt and level is None:
        reasons.append(f"builder {builder!r} is not trusted")
    source_ok = _source_ok(summary["source"], expect, reasons) if stmt else False
    verified = sig.signature_ok and is_provenance(stmt) and subject_ok and level is not None and source_ok
    entry = {
        "verified": verified,
        "predicate_type": stmt.get("predicateType"),
        "builder_id": builder,
        "build_type": summary["build_type"],
        "source": summary["source"],
        "materials": summary["materials"],
        "subject_matches": subject_ok,
        "trusted_builder": level is not None,
        "source_matches": source_ok,
        "slsa_build_level": level if verified else None,
        "bundle": sig.bundle,
        "signer": sig.identity,
        "error": "; ".join(reasons) if reasons else None,
    }
    if unsigned:  # provenance about a directory that leaves files out
        entry["unsigned"] = unsigned
    return entry


def _bundles(sig: SignatureResult) -> list[Path]:
    return [Path(sig.bundle.split("#", 1)[0])] if sig.bundle else []


def _source_ok(source: dict[str, Any], expect: Expectations, reasons: list[str]) -> bool:
    ok = True
    repo, ref = source.get("repository"), source.get("ref")
    if expect.source_repositories and not (repo and any(same_repo(repo, r) for r in expect.source_repositories)):
        reasons.append(f"source repository {repo!r} is not {' or '.join(map(repr, expect.source_repositories))}")
        ok = False
    if expect.source_ref and not same_ref(ref, expect.source_ref):
        reasons.append(f"source ref {ref!r} is not {expect.source_ref!r}")
        ok = False
    return ok
