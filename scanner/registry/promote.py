"""Promotion: gate SRC for a stage and, only when allowed, make DST resolve to the same manifest
digest with the evidence attached — and never a tag move without its ledger entry, nor an entry
claiming a promotion that did not happen.

Order of work, chosen so that a denial or a failure leaves DST's tag where it was:
0. the ledger is opened (created if need be): one that cannot be written stops here;
1. resolve SRC's tag once, pull by digest, gate (nothing is written anywhere before the decision);
2. denied → the ledger records it and DST is never contacted for writing;
3. allowed → every piece of evidence (signed VSA, SBOM, record) is built and signed first, so a
   missing key or signer fails before DST is touched;
4. blobs are mounted (same registry: no bytes move) or streamed across registries, the manifest's
   exact bytes are pushed by digest, SRC's referrers are copied along (another repository), the
   evidence is attached as referrers of the digest;
5. the ledger's write transaction begins (``BEGIN IMMEDIATE``, other writers wait) and the entry
   (``promoted: true``) is inserted, not yet committed: its seq and hash are known;
6. inside it, the manifest DST's tag holds now is read (to put it back if need be), and the
   command's report files, which name that entry, are written in full (not yet renamed into
   place): a report that cannot be written stops here;
7. inside it, last, the DST tag is moved (a PUT of the same bytes under the tag) — the only write
   a deploy sees. Tags are never deleted (in distribution that deletes the manifest and every
   tag on it);
8. the entry is committed; the reports are then put in place by the command.
A failure before the PUT rolls the entry back and records ``promoted: false`` naming the error
instead: the tag is untouched, and what was written is content addressed and referenced by no
stage tag. A commit that fails after the tag moved (a full disk, an I/O error) puts the tag back
on the manifest it held, as does a PUT that failed but took effect all the same (its answer
lost); when the tag did not exist before there is nothing to put back, and the error says so.
Either way exit 2, and ``promoted: false`` is recorded if the ledger still takes it. Ctrl-C and
SIGTERM are held back from the PUT until the commit is done (or the tag put back). What nothing can
cover is the process being killed outright (SIGKILL, power loss) between the PUT and the commit.

Re-running an allowed promotion is idempotent: when DST already resolves to the digest and holds a
PASSED VSA for this stage and tag, nothing is written to the registry (the decision still goes
to the ledger, its reports written inside the transaction as in 6).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import ScanError
from scanner.registry import mediatypes as mt
from scanner.registry.blobs import ensure_blob
from scanner.registry.client import Client, NotFound
from scanner.registry.discover import kind_of
from scanner.registry.gating import gate_pulled
from scanner.registry.options import RegistryOptions
from scanner.registry.reference import Reference
from scanner.registry.referrers import attach, build_referrer, list_referrers
from scanner.registry.source import PulledArtifact, pull_source
from scanner.registry.vsa_reader import read_vsa

if TYPE_CHECKING:
    from scanner.evidence.ledger import Ledger
    from scanner.options import GateOptions
    from scanner.pipeline import Outcome
    from scanner.registry.manifest import Manifest

Event = Callable[[str], None]


@dataclass
class PromotionResult:
    allowed: bool
    source: str
    target: str
    digest: str
    outcome: Outcome
    blobs: dict[str, int] = field(default_factory=dict)
    referrers_copied: int = 0
    attached: list[str] = field(default_factory=list)
    unchanged: bool = False
    bytes_moved: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "source": self.source,
            "target": self.target,
            "digest": self.digest,
            "blobs": self.blobs,
            "referrers_copied": self.referrers_copied,
            "attached": self.attached,
            "unchanged": self.unchanged,
            "bytes_moved": self.bytes_moved,
        }


def actor() -> str:
    """Who promotes: the CI actor when a CI says, else the local user."""
    from scanner.evidence.ci import ci_context

    who = ci_context(os.environ).get("actor")
    if who:
        return str(who)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def promote(
    source: Reference,
    target: Reference,
    gate: GateOptions,
    options: RegistryOptions,
    *,
    sign_key: Path | None = None,
    ledger: Path | None = None,
    record_ledger: bool = True,
    on_event: Event | None = None,
    before_tag_move: Callable[[PromotionResult], None] | None = None,
) -> PromotionResult:
    """Gate ``source`` for the stage of ``gate`` and promote it to ``target`` when allowed.
    ``before_tag_move`` is called inside the ledger's write transaction when everything but the
    tag move is done (or, when the target already holds the promotion, instead of it), with
    ``result.outcome.record["ledger"]`` naming the entry about to be committed: the command writes
    its reports there, so a report that cannot be written stops the promotion before the tag
    moves, and a report written names the entry that is committed."""
    gate = replace(gate, registry=options)
    event = on_event or (lambda _step: None)
    if not target.tag:
        raise ScanError(f"{target}: the target needs a tag (the stage tag to move)")
    src = Client(source.registry, options)
    dst = src if target.registry == source.registry else Client(target.registry, options)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="scanner-promote-") as work:
        book = None
        if record_ledger:  # opened first: a ledger that cannot be written stops before any tag moves
            from scanner.evidence.ledger import open_ledger

            book = stack.enter_context(open_ledger(ledger, str(source)))
        pulled = pull_source(src, source, Path(work), options)
        event("pulled")
        gate = _with_stage_baseline(gate, dst, target, Path(work), options)
        outcome = gate_pulled(pulled, gate)
        assert outcome.decision is not None and outcome.stage is not None
        stage = outcome.stage.name
        result = PromotionResult(outcome.decision.allow, pulled.ref, str(target), pulled.digest, outcome)
        outcome.record["registry"] = {
            "source": pulled.ref,
            "target": str(target),
            "digest": pulled.digest,
            "stage": stage,
            "promoted": False,
        }
        entry = _Entry(book, outcome.record, before_tag_move or (lambda _result: None))
        try:
            if result.allowed:
                _promote_allowed(src, dst, pulled, target, stage, sign_key, result, Path(work), event, entry)
            else:
                entry.commit()
        except BaseException as exc:
            entry.record_failure(exc)
            raise
    return result


@dataclass
class _Entry:
    """The promotion's ledger entry (none with ``--no-ledger``): committed around the tag move
    for an allowed promotion, at once for a denial, and as ``promoted: false`` after a failure."""

    book: Ledger | None
    record: dict[str, Any]
    before_tag_move: Callable[[PromotionResult], None]
    committed: bool = False

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """The write transaction with the entry inserted: ``record["ledger"]`` names it inside
        the block, committed when the block ends, rolled back on an exception."""
        if self.book is None:
            yield
            return
        from scanner.evidence.ledger import recording

        with recording(None, self.record, opened=self.book):
            yield
        self.committed = True

    def commit(self) -> None:
        with self.holding():
            pass

    def promoted(self, result: PromotionResult) -> None:
        """What the entry will say: set before the transaction begins (the record is hashed then)."""
        self.record["registry"].update(result.to_dict(), promoted=True)

    def record_failure(self, exc: BaseException) -> None:
        """``promoted: false`` naming the error — unless the entry was committed (an interrupt
        that arrived during the commit is delivered after it). When the ledger cannot take it
        either, the promotion's own error is the one reported (this is said as a warning)."""
        if self.book is None or self.committed:
            return
        registry = self.record["registry"]
        registry["promoted"] = False
        if isinstance(exc, ScanError):
            registry["error"] = str(exc)
        try:
            self.commit()
        except ScanError as again:
            from scanner import ui

            ui.warn(f"the failed promotion could not be recorded in the ledger either: {again}")


def _promote_allowed(
    src: Client,
    dst: Client,
    pulled: PulledArtifact,
    target: Reference,
    stage: str,
    sign_key: Path | None,
    result: PromotionResult,
    work: Path,
    event: Event,
    entry: _Entry,
) -> None:
    repo = target.repository
    manifest = pulled.manifest
    at_target = dst.resolve(repo, target.reference) == manifest.digest
    if at_target and _has_vsa(dst, repo, manifest.digest, stage, target.tag):
        result.unchanged = True
        event("unchanged")
        entry.promoted(result)
        with entry.holding():
            entry.before_tag_move(result)
        return
    evidence = _evidence(result.outcome, pulled, target, stage, sign_key, work)
    event("evidence-signed")
    _write_content(src, dst, pulled, repo, evidence, result, event)
    entry.promoted(result)
    _move_tag(dst, target, manifest, result, entry, event)


def _write_content(
    src: Client,
    dst: Client,
    pulled: PulledArtifact,
    repo: str,
    evidence: list[tuple[str, list[tuple[bytes, str]], dict[str, str], str]],
    result: PromotionResult,
    event: Event,
) -> None:
    """Everything DST gets before its tag moves, all of it content addressed: the blobs, the
    manifest by digest, SRC's referrers (another repository) and the evidence as referrers."""
    manifest = pulled.manifest
    moved_before = dst.bytes_out
    for desc in manifest.blobs():
        how = ensure_blob(src, pulled.reference.repository, dst, repo, desc)
        result.blobs[how] = result.blobs.get(how, 0) + 1
        event(f"blob-{how}")
    result.bytes_moved = dst.bytes_out - moved_before
    dst.put_manifest(repo, manifest.digest, manifest)
    event("manifest-pushed")
    if (src.registry, pulled.reference.repository) != (dst.registry, repo):
        result.referrers_copied = _copy_referrers(src, pulled.reference.repository, dst, repo, manifest.digest)
        event("referrers-copied")
    subject = manifest.descriptor()
    for artifact_type, layers, notes, label in evidence:
        referrer = build_referrer(dst, repo, subject, artifact_type, layers, notes)
        attach(dst, repo, referrer)
        result.attached.append(f"{label} {referrer.digest}")
        event(f"attached-{label}")


def _move_tag(
    dst: Client, target: Reference, manifest: Manifest, result: PromotionResult, entry: _Entry, event: Event
) -> None:
    """Inside the ledger's write transaction (the entry inserted, not committed): what the tag
    holds now, the reports, the tag PUT; the commit follows the block. An exception before the
    PUT rolls the entry back and leaves the tag. After the PUT was sent, the tag is put back
    where it was: when the commit failed, and when the PUT failed but took effect all the same
    (its answer lost)."""
    assert target.tag
    held: Manifest | None = None
    step = "before"
    resume = _no_signals_held
    try:
        with entry.holding():
            held = _held(dst, target.repository, target.tag)
            entry.before_tag_move(result)  # the reports are written in full before the tag moves
            resume = _hold_signals()  # from the PUT until the commit is done (or the tag put back)
            step = "sent"
            dst.put_manifest(target.repository, target.tag, manifest)
            step = "moved"
            event("tag-moved")
    except BaseException as exc:
        fate = None if step == "before" else _undo_move(dst, target, held, manifest, event, moved=step == "moved")
        if fate is None:
            raise
        if not isinstance(exc, ScanError):
            from scanner import ui

            ui.warn(f"interrupted, no ledger entry committed: {fate}")
            raise
        exc.message = f"{exc.message}; {fate}"  # the same error (type, file named), saying what became of the tag
        raise
    finally:
        resume()


def _no_signals_held() -> None:
    pass


def _hold_signals() -> Callable[[], None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM (a cancelled CI job) back until the returned function is
    called: one arriving between the tag PUT and the commit would end the process with the tag
    moved and no entry, and one arriving during the commit (delivered after SQLite returns) would
    have the tag put back under a committed entry. Only the main thread can set handlers; in
    another there is nothing to hold (signals go to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return _no_signals_held
    held: list[int] = []
    before = {
        sig: signal.signal(sig, lambda number, _frame: held.append(number)) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def resume() -> None:
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(held):
            signal.raise_signal(number)  # delivered now, as it would have been

    return resume


def _held(dst: Client, repo: str, tag: str) -> Manifest | None:
    """The manifest (exact bytes) the tag points at now; None when there is no such tag."""
    try:
        return dst.get_manifest(repo, tag)
    except NotFound:
        return None


def _undo_move(
    dst: Client, target: Reference, held: Manifest | None, manifest: Manifest, event: Event, *, moved: bool
) -> str | None:
    """Put the tag back on ``held``, the manifest it held before the move; says what became of
    it. Unless ``moved`` is known, looks first: None when the failed PUT did not move the tag."""
    assert target.tag
    if moved:
        what = f"no ledger entry was committed after {target} moved"
    else:
        try:
            now = dst.resolve(target.repository, target.tag)
        except ScanError:
            return f"whether {target} moved could not be checked (the registry did not answer)"
        if now != manifest.digest or (held is not None and held.digest == manifest.digest):
            return None
        what = f"the PUT of {target} took effect all the same"
    if held is None:
        return f"{what}: it did not exist before, nothing to put back; it stays on {manifest.digest}"
    try:
        dst.put_manifest(target.repository, target.tag, held)
    except ScanError as exc:
        return f"{what}: it could NOT be put back on {held.digest} ({exc}); it stays on {manifest.digest}"
    event("tag-restored")
    return f"{what}: put back on {held.digest}"


def _with_stage_baseline(
    gate: GateOptions, dst: Client, target: Reference, work: Path, options: RegistryOptions
) -> GateOptions:
    """The quality baseline of a promotion: the metrics recorded in the VSA attached to the digest
    the target tag points at now (``scanner.evidence.baseline.vsa_baseline``); none when the tag
    does not exist yet (a first promotion)."""
    from scanner.evidence.baseline import Baseline, vsa_baseline
    from scanner.pipeline import _policy_inputs
    from scanner.registry.blobs import Budget
    from scanner.registry.discover import discover
    from scanner.stage import Stage
    from scanner.verify.api import Options as VerifyApiOptions
    from scanner.verify.attestation import AttestationTrust

    _, policy_data, _ = _policy_inputs(gate)
    stage = gate.stage if isinstance(gate.stage, Stage) else Stage.parse(gate.stage, policy_data)
    held = dst.resolve(target.repository, target.reference)
    if held is None:
        baseline = Baseline(found=False, source="registry", stage=stage.name, model=gate.attestations.model_name)
    else:
        found = discover(dst, target.repository, held, Budget(options.max_bytes))
        documents = [d for a in found if a.kind == "vsa" for d in a.documents]  # as fetched, read once
        verify = VerifyApiOptions.from_options(gate.verify, policy_data)
        trust = AttestationTrust.of(gate.attestations.keys, verify, gate.attestations.signing_key)
        baseline = vsa_baseline(
            documents, stage=stage.name, stage_digest=held, trust=trust, model=gate.attestations.model_name
        )
    return replace(gate, attestations=replace(gate.attestations, baseline=baseline))


def _has_vsa(client: Client, repo: str, digest: str, stage: str, tag: str | None) -> bool:
    for desc in list_referrers(client, repo, digest):
        if kind_of(desc) != "vsa":
            continue
        ann = desc.annotations
        if ann.get(mt.ANN_STAGE) == stage and ann.get("dev.scanner.tag") == tag and ann.get(mt.ANN_RESULT) == "PASSED":
            return True
    return False


def _copy_referrers(src: Client, src_repo: str, dst: Client, dst_repo: str, digest: str) -> int:
    """Signatures, provenance and earlier evidence attached to the digest in SRC, copied to DST
    by their exact bytes and listed for the same digest there; also cosign's older
    ``sha256-<hex>.sig``/``.att``/``.sbom`` tags (copied when DST has none of that name)."""
    copied = 0
    prefix = digest.replace(":", "-", 1)
    for tag in src.tags(src_repo):
        if tag.startswith(prefix + ".") and tag.rsplit(".", 1)[1] in ("sig", "att", "sbom"):
            if dst.resolve(dst_repo, tag) is not None:
                continue
            legacy = src.get_manifest(src_repo, tag)
            if legacy.is_index:
                continue
            for blob in legacy.blobs():
                ensure_blob(src, src_repo, dst, dst_repo, blob)
            dst.put_manifest(dst_repo, tag, legacy)
            copied += 1
    for desc in list_referrers(src, src_repo, digest):
        referrer = src.get_manifest(src_repo, desc.digest)
        if referrer.subject is None or referrer.subject.digest != digest or referrer.is_index:
            continue
        for blob in referrer.blobs():
            ensure_blob(src, src_repo, dst, dst_repo, blob)
        attach(dst, dst_repo, referrer)
        copied += 1
    return copied


def _evidence(
    outcome: Outcome,
    pulled: PulledArtifact,
    target: Reference,
    stage: str,
    sign_key: Path | None,
    work: Path,
) -> list[tuple[str, list[tuple[bytes, str]], dict[str, str], str]]:
    """(artifactType, [(bytes, media type)], annotations, label) for the VSA, SBOM and record."""
    from scanner.evidence.vsa import PREDICATE_TYPE, write_vsa

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    pinned = str(target.at(pulled.digest))
    vsa_path = work / "vsa.json"
    vsa_outcome = replace(outcome, artifact=replace(outcome.artifact, name=target.name))
    write_vsa(
        vsa_outcome,
        vsa_path,
        policy_dir=outcome.policy_dir or Path("."),
        policy_data=outcome.policy_data,
        sign_key=sign_key,
        resource_uri=pinned,
    )
    vsa = vsa_path.read_bytes()
    parsed = read_vsa(vsa)
    is_bundle = parsed.container == "bundle"
    common = {mt.ANN_CREATED: now, mt.ANN_STAGE: stage, "dev.scanner.tag": target.tag or ""}
    vsa_annotations = {
        **common,
        mt.ANN_PREDICATE: PREDICATE_TYPE,
        mt.ANN_RESULT: parsed.result,
        mt.ANN_ACTOR: actor(),
        mt.ANN_SIGNER: parsed.signer,
        mt.ANN_SOURCE_REF: pulled.ref,
    }
    evidence: list[tuple[str, list[tuple[bytes, str]], dict[str, str], str]] = [
        (
            mt.SIGSTORE_BUNDLE if is_bundle else mt.IN_TOTO,
            [(vsa, mt.SIGSTORE_BUNDLE if is_bundle else mt.DSSE_ENVELOPE)],
            vsa_annotations,
            "vsa",
        )
    ]
    sbom = outcome.record.get("sbom")
    if sbom:
        data = json.dumps(sbom, sort_keys=True, separators=(",", ":")).encode()
        evidence.append((mt.CYCLONEDX, [(data, mt.CYCLONEDX)], dict(common), "sbom"))
    from scanner.evidence.ledger import canonical

    record = canonical(
        {**outcome.record, "registry": {"source": pulled.ref, "target": pinned, "digest": pulled.digest}}
    )
    evidence.append((mt.EVIDENCE_RECORD, [(record.encode(), mt.EVIDENCE_RECORD)], dict(common), "record"))
    return evidence


def summary_line(result: PromotionResult) -> str:
    if not result.allowed:
        return f"promotion of {result.source} to {result.target} DENIED: target untouched"
    if result.unchanged:
        return f"{result.target} already at {result.digest} with a PASSED summary for this stage: nothing to do"
    blobs = ", ".join(f"{n} {how}" for how, n in sorted(result.blobs.items()))
    return (
        f"promoted {result.source} to {result.target}@{result.digest} (blobs: {blobs}; attached {len(result.attached)})"
    )
