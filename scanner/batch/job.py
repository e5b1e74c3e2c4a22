"""What a worker does: prepare once, then identify and judge one artifact per task.

``prepare`` runs once per worker (the local pool's initializer, or on first use in a Dask worker
thread): it writes the shipped policy snapshot to a private directory, compiles the policies
(``pipeline.prepare_policy``), loads the policy data and waivers, opens the vulnerability database
and works out the worker's context (what decides its verdicts). ``judge`` is the one function
that calls the pipeline (``pipeline.gate``, as ``scanner gate`` does); every executor goes
through ``run_task``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.batch.budget import BudgetExceeded, time_budget
from scanner.batch.model import ArtifactResult, BatchOptions, Known, Outcome, PolicySnapshot, Task
from scanner.core import Artifact, ScanError

if TYPE_CHECKING:
    from scanner.check import InputFile


@dataclass
class Prepared:
    options: BatchOptions
    gate_options: Any  # scanner.options.GateOptions
    policy: Any  # scanner.pipeline.PreparedPolicy
    context: dict[str, str]
    database: Any = None
    mismatch: str | None = None


def snapshot_digest(policy: PolicySnapshot) -> str:
    """Same formula as ``files.directory_digest`` over the policy directory's files."""
    import hashlib

    h = hashlib.sha256()
    for rel, content in policy.policy_files:
        h.update(f"{rel}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return "sha256:" + h.hexdigest()


def context_of(options: BatchOptions, db_snapshot: str, stage: str) -> dict[str, str]:
    """Everything besides the artifact that decides a verdict (the cache key's first part)."""
    import hashlib

    from scanner import __version__
    from scanner.batch.toolid import tool_digest

    def sha(data: bytes | None) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest() if data is not None else "none"

    return {
        "scanner": __version__,
        "code": tool_digest(),  # the version does not change with every fix: the code does
        "stage": stage,
        "policy": snapshot_digest(options.policy),
        "data": sha(options.policy.data),
        "waivers": sha(options.policy.waivers),
        "db": db_snapshot,
        "max_db_age": "none" if options.max_db_age is None else str(options.max_db_age),
    }


def db_snapshot(info: Any) -> str:
    """What the database holds, not when it was imported: every machine of a cluster imports the
    bundled snapshot at its own time, and must still count as the same database. The sha256 of
    the imported dump identifies the content when the database records it."""
    meta = info.meta
    content = meta.get("source_sha256") or f"imported {info.imported_at}"
    return f"{info.source} | snapshot {info.snapshot_date} | {info.records} records | {content}"


_LOCK = threading.Lock()  # guards _MATERIALISED and _STATES (Dask worker threads)
_MATERIALISED: dict[PolicySnapshot, tuple[Path, Path | None, Path | None]] = {}


def materialise(policy: PolicySnapshot) -> tuple[Path, Path | None, Path | None]:
    """The snapshot written into a private temporary directory (removed at exit), once per
    process, for the policy engine to compile from (the driver's context parses the data from
    the snapshot's bytes: a run answered from the cache writes nothing)."""
    with _LOCK:
        known = _MATERIALISED.get(policy)
        if known is None or not known[0].is_dir():
            known = _MATERIALISED[policy] = _write_snapshot(policy)
        return known


def _write_snapshot(policy: PolicySnapshot) -> tuple[Path, Path | None, Path | None]:
    import atexit
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="scanner-batch-"))
    atexit.register(shutil.rmtree, root, True)
    policy_dir = root / "policy"
    for rel, content in policy.policy_files:
        target = policy_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    policy_dir.mkdir(exist_ok=True)
    data_file = waivers_file = None
    if policy.data is not None:
        data_file = root / "data.json"
        data_file.write_bytes(policy.data)
    if policy.waivers is not None:
        waivers_file = root / "waivers.yaml"
        waivers_file.write_bytes(policy.waivers)
    return policy_dir, data_file, waivers_file


def prepare(options: BatchOptions) -> Prepared:
    """Compile the policies and open the database: once per worker. The driver prepares too (it
    judges nothing) so that a policy that does not compile, or an unknown stage, fails before any
    worker starts, and to learn the run's context."""
    from scanner import pipeline
    from scanner.jsonfile import load_policy_data
    from scanner.options import GateOptions, RegistryOptions, VulnOptions
    from scanner.stage import Stage
    from scanner.vulns.db import Database
    from scanner.vulns.snapshot import resolve_db
    from scanner.waivers import load_waivers

    policy_dir, data_file, waivers_file = materialise(options.policy)
    data = load_policy_data(data_file, required=True) if data_file else {}
    db_path = resolve_db(Path(options.db) if options.db else None)
    stage = Stage.parse(options.stage, data)
    database = Database(db_path)  # one connection for every artifact this worker judges
    gate_options = GateOptions(
        stage=stage,
        policy_dir=policy_dir,
        policy_data=data,
        data_file=data_file,
        waivers=tuple(load_waivers(waivers_file)) if waivers_file else (),
        waiver_file=waivers_file,
        vulns=VulnOptions(db=db_path, max_db_age=options.max_db_age, opened=database),
        registry=RegistryOptions(plain_http=options.plain_http),
        settings_sources=dict(options.settings),
        user_config=Path(options.user_config) if options.user_config else None,
    )
    try:
        policy = pipeline.prepare_policy(gate_options)
    except ScanError as exc:  # name the user's policy directory, not this private copy of it
        database.close()
        if exc.path and exc.path.startswith(str(policy_dir)):
            exc.path = options.policy.policy_path + exc.path[len(str(policy_dir)) :]
        raise
    context = context_of(options, db_snapshot(database.info), stage.name)
    mismatch = None
    if options.context and dict(options.context) != context:
        differs = sorted(k for k, v in dict(options.context).items() if context.get(k) != v)
        mismatch = f"this worker's {', '.join(differs)} differ from the driver's: it would not give the same verdicts"
    return Prepared(options, gate_options, policy, context, database, mismatch)


def driver_context(options: BatchOptions) -> tuple[str, dict[str, str]]:
    """The run's stage (its name on the policy's ladder) and context, as the driver sees them,
    without compiling anything: a run answered from the cache needs no more. (The driver
    ``prepare``s before it sends any artifact to a worker.) Builds the default database if it
    is missing, so that workers starting later find it. A database older than ``--max-db-age``
    stops the run here, as in ``scanner gate``: a run answered from the cache starts no worker
    that would."""
    from scanner.jsonfile import policy_data
    from scanner.stage import Stage
    from scanner.vulns.db import open_info
    from scanner.vulns.snapshot import resolve_db

    snapshot = options.policy
    data = policy_data(snapshot.data, snapshot.data_path or "policy data") if snapshot.data is not None else {}
    stage = Stage.parse(options.stage, data)
    info = open_info(resolve_db(Path(options.db) if options.db else None))
    if options.max_db_age is not None:  # (only then can it fail; the audit module is slow to import)
        from scanner.vulns.audit import check_age

        check_age(info, options.max_db_age)
    return stage.name, context_of(options, db_snapshot(info), stage.name)


_STATES: dict[tuple[str, int], Prepared] = {}


def install(options: BatchOptions) -> Prepared:
    """Prepare for this thread: a local pool worker's initializer calls it before any task; a
    Dask worker thread on its first artifact that must be judged (answering a cache hit needs
    only the digest and the run's context)."""
    from scanner import ui

    ui.configure(quiet=True, no_color=True, debug=False)
    prepared = prepare(options)
    with _LOCK:
        _STATES[(options.run_id, threading.get_ident())] = prepared
    return prepared


def adopt(prepared: Prepared) -> Prepared:
    """In a worker forked from the driver after it prepared (the local pool): take over its
    prepared state — the compiled policy and every module judging needs are inherited, not
    made again — with the database opened anew (an SQLite connection must not be used on both
    sides of a fork; the driver closed its own before forking). A database that changed since
    the driver prepared makes this worker judge nothing, as a worker that prepared itself
    would."""
    from scanner import ui
    from scanner.vulns.db import Database

    ui.configure(quiet=True, no_color=True, debug=False)
    vulns = prepared.gate_options.vulns
    database = Database(vulns.db)
    mine = db_snapshot(database.info)
    mismatch = prepared.mismatch
    if mismatch is None and prepared.context.get("db") != mine:
        mismatch = "this worker's db differs from the driver's: it would not give the same verdicts"
    adopted = replace(
        prepared,
        gate_options=replace(prepared.gate_options, vulns=replace(vulns, opened=database)),
        context={**prepared.context, "db": mine},
        database=database,
        mismatch=mismatch,
    )
    with _LOCK:
        _STATES[(prepared.options.run_id, threading.get_ident())] = adopted
    return adopted


def state_for(options: BatchOptions) -> Prepared:
    """This thread's prepared state for the run, made on first use (Dask worker threads)."""
    with _LOCK:
        prepared = _STATES.get((options.run_id, threading.get_ident()))
    return prepared if prepared is not None else install(options)


def forget(run_id: str) -> None:
    """Drop a run's prepared state (its database handle is closed by its own thread or by
    garbage collection: SQLite handles belong to the thread that opened them)."""
    with _LOCK:
        for key in [k for k in _STATES if k[0] == run_id]:
            prepared = _STATES.pop(key)
            if key[1] == threading.get_ident():
                prepared.database.close()


def identify(source: str) -> Artifact:
    """A local artifact and its digest (``oci://`` sources are identified by the pipeline when
    it pulls them)."""
    from scanner.artifact import detect, local_path

    return detect(local_path(source))  # (``pipeline.identify``, without importing the pipeline)


def cache_identity(artifact: Artifact) -> str:
    """The artifact part of the cache key before judging: its digest, plus the files beside it
    that the gate reads as its signatures and provenance (``X.sigstore.json``, ``X.intoto.jsonl``,
    ``DIR.sig`` ...), hashed now: they decide verdicts but are not part of the artifact's digest.
    A judged artifact is filed under ``judged_identity`` instead, built from the bytes the gate
    verified, in the same format: unchanged files give the same key."""
    from scanner.files import sha256_file
    from scanner.verify.beside import discover, discover_provenance

    found = [*discover(artifact.path), *discover_provenance(artifact.path)]
    if not found:  # most artifacts have none
        return artifact.digest
    return _with_beside(artifact, {p: sha256_file(p) for p in _beside(artifact, found)})


def judged_identity(artifact: Artifact, inputs: Sequence[InputFile]) -> str | None:
    """The artifact part of the cache key of an artifact as the gate judged it: its digest, plus
    the sha256 of exactly the signature and provenance bytes its checks verified
    (``CheckResult.inputs``) — never of the files as they are now: one swapped after it was
    verified must not have the verdict filed under its own bytes. None (the verdict is not
    cached) when a file was not read whole."""
    read = {item.path: item.sha256 for item in inputs}
    if not read:
        return artifact.digest
    beside = _beside(artifact, list(read))
    if any(read[p] is None for p in beside):
        return None
    return _with_beside(artifact, {p: str(read[p]) for p in beside})


def _beside(artifact: Artifact, found: Sequence[Path]) -> list[Path]:
    """The files of ``found`` outside the artifact (one inside a directory, such as its
    ``model.sig``, is part of the artifact's digest already)."""
    root = artifact.path.resolve()
    return [p for p in dict.fromkeys(found) if not p.resolve().is_relative_to(root)]


def _with_beside(artifact: Artifact, digests: dict[Path, str]) -> str:
    import hashlib

    if not digests:
        return artifact.digest
    h = hashlib.sha256()
    for p in sorted(digests):
        h.update(f"{p.name}\0{digests[p]}\n".encode())
    return f"{artifact.digest}+beside:sha256:{h.hexdigest()}"


def source_identity(source: str, options: BatchOptions) -> tuple[str, str]:
    """(name, the cache key's artifact part) of a source, without judging it. A local path is
    hashed (``cache_identity``). An ``oci://`` reference costs a registry round trip and no
    pull: the manifest digest the reference resolves to now, plus the digest of the referrers
    listed for it (``registry.identity``: signatures and attestations can be attached while the
    manifest digest stays). Raises ``ScanError`` when the source cannot be identified."""
    from scanner.batch.sources import is_oci

    if is_oci(source):
        from scanner.options import RegistryOptions
        from scanner.registry.identity import resolve

        remote = resolve(source, RegistryOptions(plain_http=options.plain_http))
        return source.rsplit("/", 1)[-1], str(remote)
    artifact = identify(source)
    return artifact.name, artifact_key(artifact)


def judge(source: str, prepared: Prepared) -> ArtifactResult:
    """The verdict on one source through the same pipeline as ``scanner gate``. ``identity``
    (the cache key's artifact part) is taken from the artifact as judged: for an ``oci://``
    source, from the manifest pulled and the referrers its evidence was read from."""
    from scanner import pipeline
    from scanner.batch.sources import is_oci

    identity = None
    if is_oci(source):
        import tempfile

        from scanner.registry.identity import of_pulled
        from scanner.registry.source import open_source

        with tempfile.TemporaryDirectory(prefix="scanner-oci-") as work:
            pulled = open_source(source, Path(work), prepared.gate_options.registry)
            outcome = pipeline.gate(pulled, prepared.gate_options, policy=prepared.policy)
        identity = str(of_pulled(pulled))
    else:
        outcome = pipeline.gate(source, prepared.gate_options, policy=prepared.policy)
    decision = outcome.decision
    assert decision is not None
    artifact = outcome.artifact
    if identity is None:  # a local artifact: keyed by the signature bytes its checks verified
        judged = judged_identity(artifact, [item for r in outcome.results for item in r.inputs])
        identity = _with_kind(judged, artifact) if judged is not None else None
    return ArtifactResult(
        source=source,
        name=artifact.name,
        digest=artifact.digest,
        allow=decision.allow,
        deny=decision.deny,
        warn=decision.warn,
        record=outcome.record,
        identity=identity,
    )


def run_task(task: Task, options: BatchOptions, known: frozenset[str] = frozenset()) -> Outcome:
    """Identify, answer from the cache when its key is known, else judge; never raises for an
    artifact's fault (the error is the result)."""
    from scanner.batch.cache import key_id

    start = time.perf_counter()
    result: Outcome
    try:
        with time_budget(options.budget):
            if task.use_cache and known:
                name, identity = source_identity(task.source, options)
                if key_id(dict(options.context), task.source, identity) in known:
                    return Known(task.source, identity, name, time.perf_counter() - start)
            prepared = state_for(options)
            if prepared.mismatch:
                raise ScanError(prepared.mismatch)
            result = judge(task.source, prepared)
    except BudgetExceeded:
        forget(options.run_id)  # the interrupted thread may have left state half-updated
        result = ArtifactResult(task.source, error=f"time budget of {options.budget:g} s exceeded", tainted=True)
    except ScanError as exc:
        result = ArtifactResult(task.source, error=str(exc))
    except MemoryError:
        result = ArtifactResult(task.source, error="out of memory while scanning", tainted=True)
    except RecursionError:
        result = ArtifactResult(task.source, error="input nested too deeply to scan")
    except Exception as exc:
        result = ArtifactResult(task.source, error=f"internal error: {type(exc).__name__}: {exc}")
    return replace(result, seconds=time.perf_counter() - start, attempts=task.attempt)


def artifact_key(artifact: Artifact) -> str:
    """The artifact part of the cache key of a local artifact: ``cache_identity`` (its digest and
    the signature and provenance files beside it) and its kind, which picks the inventory reader
    and is guessed from names the digest does not all cover (an empty ``*.dist-info`` directory
    makes a model directory an environment)."""
    return _with_kind(cache_identity(artifact), artifact)


def _with_kind(identity: str, artifact: Artifact) -> str:
    return f"{identity}+kind:{artifact.kind.value}"


def database_age(options: BatchOptions) -> int:
    """The database's age in days today, as the policy input will hold it (a cached verdict is
    reused only while it is the same, see ``cache.ResultCache``)."""
    from scanner.vulns.db import open_info
    from scanner.vulns.snapshot import resolve_db

    return open_info(resolve_db(Path(options.db) if options.db else None)).age_days()
