"""The stage board: for each tag of a repository, the digest, and from the verification summaries
attached to it when it was promoted, with which decision, for which stage, by whom; and what else
is attached (signatures, attestations, SBOMs, records)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import Budget, fetch_bytes
from scanner.registry.client import Client
from scanner.registry.discover import kind_of
from scanner.registry.manifest import Descriptor
from scanner.registry.referrers import list_referrers
from scanner.registry.vsa_reader import VsaInfo, read_vsa

MAX_VSA = 4 << 20
_SCHEMA_TAG = re.compile(r"sha256-[a-f0-9]{64}(\.(sig|att|sbom))?")
STAGE_ORDER = {"dev": 0, "staging": 1, "prod": 2}


@dataclass(frozen=True)
class StageRow:
    tag: str
    digest: str
    stage: str | None = None
    decision: str | None = None
    promoted_at: str | None = None
    by: str | None = None
    signer: str | None = None
    signature_verified: bool | None = None
    source: str | None = None
    attached: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "stage": self.stage,
            "decision": self.decision,
            "promoted_at": self.promoted_at,
            "by": self.by,
            "signer": self.signer,
            "signature_verified": self.signature_verified,
            "source": self.source,
            "attached": dict(self.attached),
        }


def board(client: Client, repository: str, key: Any = None) -> list[StageRow]:
    """One row per tag (tag-schema and cosign ``.sig``/``.att`` tags left out), stages first.
    With ``key`` (a public key object) each summary's signature is verified; a summary that does
    not verify is shown as such and never chosen over one that does."""
    rows: list[StageRow] = []
    referrers: dict[str, list[Descriptor]] = {}
    budget = Budget(64 << 20)
    for tag in client.tags(repository):
        if _SCHEMA_TAG.fullmatch(tag):
            continue
        digest = client.resolve(repository, tag)
        if digest is None:
            continue
        if digest not in referrers:
            referrers[digest] = list_referrers(client, repository, digest)
        rows.append(_row(client, repository, tag, digest, referrers[digest], budget, key))
    rows.sort(key=lambda r: (STAGE_ORDER.get(r.stage or r.tag, 9), r.tag))
    return rows


def _row(
    client: Client, repository: str, tag: str, digest: str, refs: list[Descriptor], budget: Budget, key: Any
) -> StageRow:
    attached: dict[str, int] = {}
    summaries: list[tuple[Descriptor, VsaInfo]] = []
    for desc in refs:
        kind = kind_of(desc)
        attached[kind] = attached.get(kind, 0) + 1
        if kind == "vsa":
            info = _read(client, repository, desc, budget, key)
            if info is not None and info.subject_digest == digest:
                summaries.append((desc, info))
    # the summaries written for this tag; else ones that name no tag (another tool's), never
    # those written for another tag of the same digest
    mine = [s for s in summaries if s[0].annotations.get("dev.scanner.tag") == tag] or [
        s for s in summaries if "dev.scanner.tag" not in s[0].annotations
    ]
    if not mine:
        return StageRow(tag, digest, attached=attached)
    desc, info = max(mine, key=lambda s: (s[1].verified is not False, s[1].time or ""))
    ann = desc.annotations
    return StageRow(
        tag=tag,
        digest=digest,
        stage=ann.get(mt.ANN_STAGE) or (info.stages[-1] if info.stages else None),
        decision=info.result,
        promoted_at=info.time,
        by=ann.get(mt.ANN_ACTOR),
        signer=info.signer,
        signature_verified=info.verified,
        source=ann.get(mt.ANN_SOURCE_REF),
        attached=attached,
    )


def _read(client: Client, repository: str, desc: Descriptor, budget: Budget, key: Any) -> VsaInfo | None:
    manifest = client.get_manifest(repository, desc.digest)
    for layer in manifest.layers:
        if layer.size <= MAX_VSA:
            return read_vsa(fetch_bytes(client, repository, layer, budget, MAX_VSA), key)
    return None


def render_table(repository: str, rows: list[StageRow]) -> str:
    if not rows:
        return f"{repository}: no tags\n"
    head = ("TAG", "DIGEST", "STAGE", "DECISION", "PROMOTED", "BY", "SIGNER", "ATTACHED")
    table = [head]
    for r in rows:
        attached = ", ".join(f"{n} {k}" for k, n in sorted(r.attached.items())) or "-"
        table.append(
            (
                r.tag,
                r.digest[:19],
                r.stage or "-",
                r.decision or "-",
                r.promoted_at or "-",
                r.by or "-",
                _signer(r),
                attached,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = [f"{repository}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(lines) + "\n"


def _signer(row: StageRow) -> str:
    if not row.signer:
        return "-"
    mark = {True: " (verified)", False: " (NOT VERIFIED)", None: ""}[row.signature_verified]
    return row.signer + mark
