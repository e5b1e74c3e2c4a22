"""The pipeline: identify → inventory → checks → decide → evidence.

Every command is a selection of these stages over the same Artifact and Inventory (``Stages``:
``AUDIT`` = inventory + vulnerabilities, ``SCAN`` = identify + model files, ``SBOM`` = inventory,
``VERIFY`` = identify + signatures/provenance, ``GATE`` = all), so the same artifact has the same
digest, components and findings in every command. ``scanner/cli/`` only maps flags to
``GateOptions`` and renders the ``Outcome``.

Use from code::

    from scanner.pipeline import GateOptions, gate, run, Stages, prepare_policy
    policy = prepare_policy(options)          # compile the policies once (batch workers)
    outcome = gate("path/or/oci://reg/repo:tag", options, policy=policy)
    outcome.decision.allow, outcome.record

A source is a local path or ``oci://REGISTRY/REPO[:TAG|@DIGEST]`` (pulled by
``scanner.registry.source.open_source`` into a temporary directory, then judged like a path; the
artifact's digest is then the manifest digest).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from scanner import ui
from scanner.artifact import local_path
from scanner.check import Check, CheckResult, GateContext
from scanner.core import Artifact, ArtifactKind, Decision, ScanError
from scanner.files import FileEntry, FileSet
from scanner.inventory.components import Inventory
from scanner.options import (
    GateOptions,
    InventoryOptions,
    ModelOptions,
    RegistryOptions,
    VerifyOptions,
    VulnOptions,
)
from scanner.stage import Stage, stage_ladder
from scanner.text import clean_text

if TYPE_CHECKING:
    from scanner.registry.source import PulledArtifact
    from scanner.verify.documents import DocumentReader

__all__ = [
    "GateOptions",
    "InventoryOptions",
    "ModelOptions",
    "Outcome",
    "PreparedPolicy",
    "RegistryOptions",
    "Stage",
    "Stages",
    "VerifyOptions",
    "VulnOptions",
    "gate",
    "identify",
    "prepare_policy",
    "run",
    "stage_ladder",
]

OCI_SCHEME = "oci://"
# A path, an ``oci://`` reference, or an artifact already pulled from a registry.
Source = Union[str, Path, "PulledArtifact"]


@dataclass(frozen=True)
class Stages:
    """Which stages run. ``checks`` names the checks (``None``: every registered check);
    ``decide`` evaluates the policy (and requires the inventory)."""

    command: str
    inventory: bool = True
    checks: frozenset[str] | None = None
    decide: bool = False


GATE = Stages("gate", decide=True)
AUDIT = Stages("audit", checks=frozenset({"vulns"}))
SCAN = Stages("scan", inventory=False, checks=frozenset({"model"}))
SBOM = Stages("sbom", checks=frozenset())
VERIFY = Stages("verify", inventory=False, checks=frozenset({"signature", "provenance"}))


@dataclass
class Outcome:
    """What a run produced. ``policy_input`` and ``decision`` are ``None`` unless it decided."""

    artifact: Artifact
    inventory: Inventory
    results: list[CheckResult]
    policy_input: dict[str, Any] | None
    decision: Decision | None
    record: dict[str, Any] = field(default_factory=dict)
    stage: Stage | None = None
    policy_dir: Path | None = None
    policy_data: Mapping[str, Any] = field(default_factory=dict)
    files: FileSet | None = None  # the artifact's files as this run read them (None: running environment)


@dataclass(frozen=True)
class PreparedPolicy:
    """Policies compiled once and reused across runs (a batch worker prepares one).
    ``digests``: the policy directory's, the data file's and the waivers file's digests, taken
    once when they were read (every evidence record names them; a batch must not hash them
    again for each artifact)."""

    policy_dir: Path
    data: Mapping[str, Any]
    data_file: Path | None
    engine: Any  # scanner.policy.engine.PolicyEngine (imported lazily: regopy is heavy)
    digests: Mapping[Path, str] = field(default_factory=dict)


def prepare_policy(options: GateOptions) -> PreparedPolicy:
    """Read the policy directory and data and compile them. Fails before any artifact work."""
    from scanner.files import directory_digest, sha256_file
    from scanner.policy.engine import PolicyEngine

    policy_dir, data, data_file = _policy_inputs(options)
    engine = PolicyEngine(policy_dir, dict(data))
    digests = {policy_dir: directory_digest(policy_dir)}
    for path in (data_file, options.waiver_file):
        if path is not None and path.is_file():
            digests[path] = sha256_file(path)
    return PreparedPolicy(policy_dir, data, data_file, engine, digests)


def _policy_inputs(options: GateOptions) -> tuple[Path, Mapping[str, Any], Path | None]:
    from scanner.jsonfile import load_policy_data
    from scanner.resources import policies_dir

    policy_dir = options.policy_dir or policies_dir()
    data_file = options.data_file or policy_dir / "data.json"
    if options.policy_data is not None:
        return policy_dir, options.policy_data, options.data_file
    return policy_dir, load_policy_data(data_file, required=options.data_file is not None), data_file


def gate(source: Source, options: GateOptions, *, policy: PreparedPolicy | None = None) -> Outcome:
    """Every stage: the promotion decision for one source."""
    return run(source, GATE, options, policy=policy)


def run(
    source: Source | None,
    stages: Stages,
    options: GateOptions,
    *,
    policy: PreparedPolicy | None = None,
    checks: Sequence[Check] | None = None,
    after_open: Callable[[FileEntry], None] | None = None,
) -> Outcome:
    """Run the selected stages over one source (``None``: the running interpreter's environment,
    for ``sbom`` and ``audit``). ``checks`` replaces the registered checks (tests, plugins);
    ``after_open`` is a test hook called right after each file of the artifact was opened
    (``scanner.files.FileSet``)."""
    refuse_user_files_inside(source, stages, options)
    if stages.decide and policy is None:
        policy = prepare_policy(options)  # compile first: a broken policy fails before any work
    if policy is not None:
        policy_dir, policy_data, data_file = policy.policy_dir, policy.data, policy.data_file
    elif stages.checks is None or stages.checks & {"signature", "provenance"}:
        policy_dir, policy_data, data_file = _policy_inputs(options)  # identities, trusted builders
    else:
        policy_dir, policy_data, data_file = None, {}, None
    stage = options.stage if isinstance(options.stage, Stage) else Stage.parse(options.stage, policy_data)
    now = options.now or dt.datetime.now(dt.timezone.utc)
    options = replace(options, now=now)
    clock = _Clock()
    with _located(source, options, after_open) as (artifact, files, pulled):
        if pulled is not None and checks is None:
            from scanner.registry.evidence_checks import registry_checks

            checks = registry_checks(pulled)  # signatures attached to the digest count too
        if pulled is not None and stages.decide:
            from scanner.evidence.quality import attached_documents

            attached = attached_documents(pulled)  # attestations attached to the digest count too
            given = options.attestations
            options = replace(options, attestations=replace(given, documents=given.documents + attached))
        selected = [check for check in _select(checks, stages) if check.applies_to(artifact)]
        examined: dict[str, Any] = {}
        if files is not None:
            # identify: the one pass over the files' bytes (each opened once, hashed from the
            # descriptor the checks read), then the artifact digest from those file digests
            for check in selected:
                found = check.examine(files, options)
                if found is not None:
                    examined[check.name] = found
            if not artifact.digest:
                artifact = replace(artifact, digest=files.artifact_digest())
            else:
                files.hash_all()  # a pulled artifact keeps its manifest digest; its files are still read once
        ui.detail(f"identify: {artifact.name} ({artifact.kind.value}) {artifact.digest or '(environment)'}{clock()}")
        inventory = build(artifact, options.inventory, files) if stages.inventory else Inventory()
        if files is None:  # the running environment: identified by what is installed
            from scanner.inventory.environment import environment_digest

            artifact = replace(artifact, digest=environment_digest(inventory))
        if stages.inventory:
            ui.detail(f"inventory: {len(inventory.components)} component(s){clock()}")
        ctx = GateContext(
            artifact=artifact,
            inventory=inventory,
            stage=stage,
            options=options,
            policy_data=policy_data,
            files=files,
            examined=examined,
        )
        results = []
        for check in selected:
            results.append(check.run(ctx))
            state = "" if results[-1].complete else ", NOT complete"
            ui.detail(f"check {results[-1].check}: {len(results[-1].findings)} finding(s){state}{clock()}")
        outcome = Outcome(artifact, inventory, results, None, None, stage=stage, policy_dir=policy_dir)
        outcome.policy_data = policy_data
        outcome.files = files
        _decide_and_record(outcome, stages, options, policy, data_file, ctx.documents)
        if pulled is not None:
            from scanner.registry.source import describe_pulled

            describe_pulled(outcome, pulled)
        if outcome.decision is not None:
            verdict = "allowed" if outcome.decision.allow else "denied"
            ui.detail(f"decide: promotion to {stage} {verdict}{clock()}")
    return outcome


class _Clock:
    """Seconds since the last call, for ``-v`` lines."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()

    def __call__(self) -> str:
        now = self._now()
        spent, self._last = now - self._last, now
        return f" [{spent:.2f} s]"


def refuse_user_files_inside(source: Source | None, stages: Stages, options: GateOptions) -> None:
    """Stop (exit 2) when a per-user location found by default — the user-level config, the cache
    holding the vulnerability database and the compiled policies — lies inside the folder of a
    local artifact: a CI runner whose home directory is the checkout would otherwise let the
    checkout choose its own policy, waivers or database. Named locations (``--config``,
    ``SCANNER_CACHE_DIR``, ``--db``) are the user's choice and are not refused."""
    if source is None or not isinstance(source, (str, Path)) or str(source).startswith(OCI_SCHEME):
        return  # the running environment, or a registry artifact pulled into a fresh directory
    from scanner import stdin

    if stdin.is_stdin(source):
        return  # standard input is copied into a fresh private directory
    path = local_path(source)
    try:
        folder = path if path.is_dir() else path.parent
        trees = {Path(os.path.abspath(folder)), folder.resolve()}
    except (OSError, RuntimeError):
        return  # identify names the problem with the path itself
    found: list[tuple[str, Path]] = []
    if options.user_config is not None:
        found.append(("user-level config", options.user_config))
    if stages.decide or stages.checks is None or "vulns" in stages.checks:
        from scanner import userdirs

        if not userdirs.cache_dir_is_explicit():
            found.append(("cache directory (vulnerability database, compiled policies)", userdirs.cache_dir()))
    for what, location in found:
        places = {Path(os.path.abspath(location)), location.resolve()}
        if any(place.is_relative_to(tree) for place in places for tree in trees):
            raise ScanError(
                f"the {what} lies inside the scanned artifact's folder: the artifact would configure its own gate",
                location,
                hint="name a config with --config, or set XDG_CONFIG_HOME / SCANNER_CACHE_DIR outside the artifact",
            )


def _select(checks: Sequence[Check] | None, stages: Stages) -> list[Check]:
    from scanner.checklist import load_checks

    available = list(checks) if checks is not None else load_checks()
    if stages.checks is None:
        return available
    return [c for c in available if c.name in stages.checks]


def _decide_and_record(
    outcome: Outcome,
    stages: Stages,
    options: GateOptions,
    policy: PreparedPolicy | None,
    data_file: Path | None,
    documents: DocumentReader | None = None,
) -> None:
    """Decide (when the stages say so) and build the record. ``documents`` is the run's reader of
    signature files (``GateContext.documents``): attestation files are read through it too, so
    a file the checks read is evaluated from the same bytes."""
    from scanner.evidence.record import build_record
    from scanner.policy.input import build_input, match_waivers

    assert options.now is not None
    artifact, inventory, results, stage = outcome.artifact, outcome.inventory, outcome.results, outcome.stage
    assert stage is not None
    quality = _quality(outcome, options, documents) if stages.decide else None
    if quality is not None:
        results.append(quality.result)  # attestations that did not count are findings, waivable
    matched = match_waivers(results, options.waivers, options.now)
    evidence: dict[str, Any] = {}
    if stages.inventory and stages.command in ("gate", "sbom"):
        from scanner.inventory.cyclonedx import to_cyclonedx_dict

        evidence["sbom"] = to_cyclonedx_dict(inventory, artifact)
    extra: dict[str, Any] = {}
    if stages.decide:
        assert policy is not None and quality is not None
        extra["quality"] = quality.record(str(stage), outcome.policy_data)
        sections = quality.policy_sections()  # attestations, metrics, baseline
        outcome.policy_input = clean_text(
            build_input(
                artifact,
                stage,
                inventory,
                results,
                matched,
                now=options.now,
                evidence=sections,
                components=options.whole_policy_input or policy.engine.reads("components"),
            )
        )
        outcome.decision = policy.engine.evaluate(outcome.policy_input)
    waiver_docs = outcome.policy_input["waivers"] if outcome.policy_input else _waiver_docs(matched)
    outcome.record = clean_text(
        build_record(
            command=stages.command,
            artifact=artifact,
            inventory=inventory if stages.inventory else None,
            results=results,
            findings=matched.findings,
            waivers=waiver_docs,
            decision=outcome.decision,
            stage=stage if stages.decide else None,
            now=options.now,
            policy_dir=outcome.policy_dir if stages.decide else None,
            data_file=data_file if stages.decide else None,
            waiver_file=options.waiver_file,
            settings_sources=options.settings_sources,
            extra=extra,
            files=outcome.files,
            digests=policy.digests if policy is not None else None,
            **evidence,
        )
    )


def _quality(outcome: Outcome, options: GateOptions, documents: DocumentReader | None = None) -> Any:
    """Attestations, metrics and the baseline (``scanner.evidence.quality``) for the decision."""
    from scanner.evidence.quality import gather
    from scanner.verify.api import Options as VerifyApiOptions
    from scanner.verify.documents import DocumentReader

    verify = VerifyApiOptions.from_options(options.verify, outcome.policy_data)
    stage = str(outcome.stage)
    reader = documents if documents is not None else DocumentReader(outcome.files)
    return gather(outcome.artifact, outcome.inventory, stage, options.attestations, verify, outcome.files, reader)


def _waiver_docs(matched: Any) -> list[dict[str, Any]]:
    expired = {w.id for w in matched.expired}
    unused = {w.id for w in matched.unused}
    return [
        {**w.to_dict(), "expired": w.id in expired, "unused": w.id in unused, "matched": matched.used.get(w.id, [])}
        for w in matched.all_waivers
    ]


# -- identify --


@contextlib.contextmanager
def opened(source: str | Path | None, options: GateOptions) -> Iterator[Artifact]:
    """The Artifact of a source (its digest taken), valid inside the ``with``: a registry
    artifact is pulled into a temporary directory that is removed afterwards."""
    with _located(source, options, None) as (artifact, files, _pulled):
        if files is not None and not artifact.digest:
            artifact = replace(artifact, digest=files.artifact_digest())
        yield artifact


@contextlib.contextmanager
def _located(
    source: Source | None, options: GateOptions, after_open: Callable[[FileEntry], None] | None
) -> Iterator[tuple[Artifact, FileSet | None, PulledArtifact | None]]:
    """The Artifact (kind known; digest empty for a local path until the run's pass over the
    files fills it), its FileSet (``None`` for the running environment) and, for a registry
    source, the pulled artifact. ``source`` may be an artifact already pulled (``scanner promote``
    pulls once, gates, then copies the same bytes)."""
    if isinstance(source, str) and source.startswith(OCI_SCHEME):
        from scanner.registry.source import open_source

        with tempfile.TemporaryDirectory(prefix="scanner-oci-") as work:
            pulled = open_source(source, Path(work), options.registry)
            artifact, files = _pulled_files(pulled, options, after_open)
            with artifact.errors_shown():  # a file at fault is named inside the artifact
                yield artifact, files, pulled
        return
    if source is not None and not isinstance(source, (str, Path)):  # a PulledArtifact
        artifact, files = _pulled_files(source, options, after_open)
        with artifact.errors_shown():
            yield artifact, files, source
        return
    if source is None:
        yield identify(None), None, None
        return
    from scanner import stdin
    from scanner.artifact import detect

    if stdin.is_stdin(source):  # read once into a private file: sniffing must not eat the stream
        with stdin.as_file() as path:
            found = detect(path, options.kind, digest=False, named=False)
            # read from the private file, shown as "stdin" everywhere (Artifact.show)
            artifact = replace(found, name=stdin.SHOWN, source_ref="-", shown=(str(path.parent), "."))
            with artifact.errors_shown():
                yield artifact, _files(artifact, options, after_open), None
        return
    artifact = detect(local_path(source), options.kind, digest=False)
    yield artifact, _files(artifact, options, after_open), None


def _files(artifact: Artifact, options: GateOptions, after_open: Callable[[FileEntry], None] | None) -> FileSet:
    """The run's FileSet of a local or pulled artifact (``scanner.artifact.file_set``)."""
    from scanner.artifact import file_set

    return file_set(
        artifact.path, artifact.kind, input_type=options.inventory.input_type, after_open=after_open, show=artifact.show
    )


def identify(source: str | Path | None, kind: ArtifactKind | None = None) -> Artifact:
    """A local artifact: its normalised path, kind and digest. ``None`` is the running
    interpreter's environment (its digest is taken from its inventory)."""
    from scanner.artifact import detect

    if source is None:
        import sys

        prefix = Path(sys.prefix)
        return Artifact(prefix, ArtifactKind.ENVIRONMENT, prefix.name, "", source_ref=str(prefix))
    return detect(local_path(source), kind)


def _pulled_files(
    pulled: PulledArtifact, options: GateOptions, after_open: Callable[[FileEntry], None] | None
) -> tuple[Artifact, FileSet]:
    """The Artifact and FileSet of a pulled artifact. When the manifest names one of several files
    as the file it was pushed as (``registry.source.judged_root``), that file is judged only if
    its reader reads every other file with it (a requirements file and its includes, as
    ``scanner push`` uploads them); a file it does not read would not be judged, so the whole tree
    is, as any artifact of several files."""
    artifact = _pulled_artifact(pulled, pulled.root, options)
    with artifact.errors_shown():
        files = _files(artifact, options, after_open)
    several = pulled.root.is_file() and len(pulled.files) > 1
    if several and {e.rel for e in files.entries} != {f.rel for f in pulled.files}:
        artifact = _pulled_artifact(pulled, pulled.root.parent, options)
        with artifact.errors_shown():
            files = _files(artifact, options, after_open)
    return artifact, files


def _pulled_artifact(pulled: PulledArtifact, root: Path, options: GateOptions) -> Artifact:
    """A pulled artifact's identity: the manifest digest in its repository (the manifest commits
    to every file's digest, each verified while it streamed)."""
    from scanner.artifact import detect

    local = detect(root, options.kind, digest=False)
    name = pulled.repository.rsplit("/", 1)[-1] or local.name
    tree = pulled.root.parent if pulled.root.is_file() else pulled.root  # the private folder pulled into
    return replace(local, name=name, digest=pulled.digest, source_ref=pulled.ref, shown=(str(tree), pulled.ref))


# -- inventory --


def build(artifact: Artifact, options: InventoryOptions, files: FileSet | None = None) -> Inventory:
    """The one inventory of an artifact (``scanner.inventory.build`` picks the reader), with
    ``--merge`` BOMs merged in. File hashes come from the run's ``files``."""
    from scanner.inventory.build import build_inventory, inventory_running_environment

    if artifact.digest == "":
        inventory = inventory_running_environment(options)
    else:
        inventory = build_inventory(
            artifact, options.input_type, verify_files=options.verify_files, author=options.author, files=files
        )
    if options.merges:
        from scanner.inventory.ingest import inventory_sbom, merge

        for extra in options.merges:
            inventory = merge(inventory, inventory_sbom(extra))
    return inventory
