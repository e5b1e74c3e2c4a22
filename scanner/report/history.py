"""The audit report over time: every gate decision in a ledger window, as HTML, Markdown or JSON.

What was promoted, blocked or waived, by whom, on which evidence (artifact digest, policy digest,
vulnerability database snapshot, CI run, ledger hash). Rendered from the ledger rows' records
only, together with the chain verification of the whole ledger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from scanner.evidence.ledger import Entry, Verification
from scanner.report import view

FORMATS = ("html", "markdown", "json")


def summarize(entry: Entry) -> dict[str, Any]:
    record = view.normalize(entry.record)
    decision = record.get("decision") or {}
    ci = record.get("ci") or {}
    inputs = record.get("inputs") or {}
    waived = [f for f in record["findings"] if f.get("waived")]
    waiver_docs = {w.get("id"): w for w in record["waivers"]}
    used = sorted({str(f["waived"].get("id")) for f in waived})
    db = inputs.get("vulnerability_db") or {}
    return {
        "seq": entry.seq,
        "time": entry.recorded_at,
        "artifact": entry.artifact,
        "kind": (record.get("artifact") or {}).get("kind"),
        "digest": entry.artifact_digest,
        "stage": entry.stage,
        "outcome": _outcome(entry.allow, record),
        "deny": [{"rule": r.get("rule"), "message": r.get("message")} for r in decision.get("deny") or []],
        "warn": [{"rule": r.get("rule"), "message": r.get("message")} for r in decision.get("warn") or []],
        "counts": view.totals(record),
        "waived": len(waived),
        "waivers": [
            {
                "id": wid,
                "owner": (waiver_docs.get(wid) or {}).get("owner"),
                "approved_by": (waiver_docs.get(wid) or {}).get("approved_by"),
                "expires": (waiver_docs.get(wid) or {}).get("expires"),
                "reason": (waiver_docs.get(wid) or {}).get("reason"),
                "findings": sum(1 for f in waived if str(f["waived"].get("id")) == wid),
            }
            for wid in used
        ],
        "actor": entry.actor or ci.get("actor"),
        "ci": ci.get("system"),
        "run_url": ci.get("run_url"),
        "commit": ci.get("commit"),
        "ref": ci.get("ref"),
        "policy_digest": (inputs.get("policy") or {}).get("digest"),
        "db_snapshot": db.get("snapshot_date"),
        "db_age_days": db.get("age_days"),
        "tool_version": (record.get("tool") or {}).get("version"),
        "hash": entry.hash,
    }


def build(entries: Sequence[Entry], verification: Verification, window: Mapping[str, Any]) -> dict[str, Any]:
    import datetime as dt

    rows = []
    for e in entries:
        try:
            rows.append(summarize(e))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            verification.problems.append(f"#{e.seq}: record damaged ({type(exc).__name__}): left out of the report")
    return {
        "schema": "scanner-ledger-report/1",
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "window": {"since": None, "until": None, "artifact": None, **window},
        "ledger": verification.to_dict(),
        "totals": {
            "decisions": len(rows),
            "promoted": sum(1 for r in rows if r["outcome"] == "promoted"),
            "blocked": sum(1 for r in rows if r["outcome"] == "blocked"),
            "with_waivers": sum(1 for r in rows if r["waived"]),
            "artifacts": len({r["artifact"] for r in rows}),
        },
        "decisions": rows,
        "timeline": timeline(rows),
    }


def timeline(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per artifact and stage, its decisions in ledger order with the open findings of each, and
    the trend: how the last decision compares with the one before and with the first."""
    by_artifact: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in sorted(rows, key=lambda r: r["seq"]):
        by_artifact.setdefault(str(r["artifact"]), {}).setdefault(str(r["stage"]), []).append(r)
    out = []
    for artifact, stages in sorted(by_artifact.items()):
        lanes = []
        for stage, decisions in sorted(stages.items(), key=lambda kv: (_STAGE_ORDER.get(kv[0], 9), kv[0])):
            points = [
                {
                    "seq": d["seq"],
                    "time": d["time"],
                    "outcome": d["outcome"],
                    "open": _open(d["counts"]),
                    "severe": sum(d["counts"].get(s, 0) for s in ("critical", "high")),
                    "digest": d["digest"],
                    "rules": [x["rule"] for x in d["deny"]],
                }
                for d in decisions
            ]
            first, last = points[0], points[-1]
            previous = points[-2] if len(points) > 1 else None
            lanes.append(
                {
                    "stage": stage,
                    "points": points,
                    "promoted": sum(1 for p in points if p["outcome"] == "promoted"),
                    "blocked": sum(1 for p in points if p["outcome"] == "blocked"),
                    "last": last,
                    "trend": {
                        "open_change": last["open"] - previous["open"] if previous else 0,
                        "open_since_first": last["open"] - first["open"],
                        "outcome_changed": bool(previous and previous["outcome"] != last["outcome"]),
                        "digests": len({p["digest"] for p in points}),
                        "direction": _direction(previous["open"] if previous else last["open"], last["open"]),
                    },
                    "chart": _spark(points),
                }
            )
        out.append({"artifact": artifact, "lanes": lanes})
    return out


_STAGE_ORDER = {"dev": 0, "staging": 1, "prod": 2}
SPARK_W, SPARK_H, SPARK_PAD = 320, 44, 7


def _open(counts: Mapping[str, int]) -> int:
    return sum(counts.get(s, 0) for s in view.SEVERITIES)


def _direction(before: int, after: int) -> str:
    return "better" if after < before else ("worse" if after > before else "same")


def _spark(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Geometry of a small line chart of open findings per decision (numbers only; the template
    draws it as inline SVG): x by decision order, y by open findings, one dot per decision."""
    top = max([p["open"] for p in points] + [1])
    n = len(points)
    step = (SPARK_W - 2 * SPARK_PAD) / max(n - 1, 1)
    dots = []
    for i, p in enumerate(points):
        x = SPARK_PAD + (i * step if n > 1 else (SPARK_W - 2 * SPARK_PAD) / 2)
        y = SPARK_H - SPARK_PAD - (SPARK_H - 2 * SPARK_PAD) * p["open"] / top
        dots.append({"x": round(x, 1), "y": round(y, 1), **p})
    return {
        "width": SPARK_W,
        "height": SPARK_H,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "top": top,
    }


def render(fmt: str, report: dict[str, Any]) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    from scanner.report.templates import environment

    if fmt == "html":
        from scanner.report.html import page_assets, safe_url

        env = environment(autoescape=True)
        env.filters["safe_url"] = safe_url
        return env.get_template("history.html.j2").render(report=report, **page_assets())
    env = environment(autoescape=False)
    return env.get_template("history.md.j2").render(report=report).rstrip() + "\n"


def _outcome(allow: bool | None, record: Mapping[str, Any]) -> str:
    """promoted, blocked, recorded (no decision), or failed: allowed, but a registry promotion
    that did not complete (its tag was not moved), as the chained record says."""
    if allow is None:
        return "recorded"
    if not allow:
        return "blocked"
    registry = record.get("registry")
    if isinstance(registry, Mapping) and registry.get("promoted") is False:
        return "failed"
    return "promoted"
