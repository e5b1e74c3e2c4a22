"""The gate with signed evidence: metric bounds, regression against the ledger baseline, required
evidence, stage order, and attestations that do not count (untrusted signer, another digest).
Every statement is signed here with keys made here; every decision comes from the real gate."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.attest.conftest import CDX, TEST_RESULT, data_file, make_model, metrics_bom, write_json

MIN_ACC = {"quality": {"min": {"accuracy": 0.9}}}


def attest(cli, path: Path, ptype: str, predicate: dict[str, Any], key: Path, out: Path) -> Path:
    pred = write_json(out.with_suffix(".predicate.json"), predicate)
    run = cli("attest", path, "--predicate-type", ptype, "--predicate", pred, "--sign-key", key, "-o", out)
    assert run.code == 0, run.err
    return out


def gate(cli, path: Path, stage: str, data: Path, *args: Any) -> tuple[int, dict[str, Any]]:
    """Run the gate; returns the exit code and the evidence record."""
    out = data.parent / f"record-{stage}.json"
    run = cli("gate", path, "--stage", stage, "--data", data, *args, "-f", f"json={out}", "-q")
    assert run.code in (0, 1), run.err
    return run.code, json.loads(out.read_text())


def denies(record: dict[str, Any]) -> dict[str, str]:
    return {d["rule"]: d["message"] for d in record["decision"]["deny"]}


def signed_eval(cli, model: Path, keys, tmp_path: Path, key: str = "eval", **metrics: float) -> list[str]:
    dsse = attest(cli, model, CDX, metrics_bom(**metrics), keys[key].private, tmp_path / f"eval-{key}.dsse.json")
    return ["--attestation", str(dsse), "--attestation-key", str(keys["eval"].public)]


# --- metric bounds -------------------------------------------------------------------------------


def test_signed_metric_allowed_at_the_bound_denied_just_past_it(cli, model: Path, keys, tmp_path: Path) -> None:
    data = data_file(tmp_path, staging={**MIN_ACC, "quality": {"min": {"accuracy": 0.9}, "max": {"loss": 0.5}}})
    code, record = gate(cli, model, "staging", data, *signed_eval(cli, model, keys, tmp_path, accuracy=0.9, loss=0.5))
    assert code == 0, denies(record)
    assert record["quality"]["metrics"]["accuracy"]["signed"] is True
    code, record = gate(
        cli, model, "staging", data, *signed_eval(cli, model, keys, tmp_path, accuracy=0.8999, loss=0.5001)
    )
    assert code == 1
    message = denies(record)["quality-metric"]
    assert "metric accuracy 0.8999 is below the minimum 0.9" in message or "metric loss 0.5001" in message
    reasons = [d["message"] for d in record["decision"]["deny"] if d["rule"] == "quality-metric"]
    assert any("metric accuracy 0.8999 is below the minimum 0.9 (signed attestation by key:" in r for r in reasons)
    assert any("metric loss 0.5001 is above the maximum 0.5" in r for r in reasons)


def test_metric_signed_by_an_untrusted_key_does_not_count(cli, model: Path, keys, tmp_path: Path) -> None:
    data = data_file(tmp_path, staging={"quality": {"min": {"f1": 0.8}}})
    code, record = gate(cli, model, "staging", data, *signed_eval(cli, model, keys, tmp_path, key="other", f1=0.99))
    assert code == 1
    assert denies(record)["quality-metric"] == "metric f1 is missing (stage staging requires min 0.8)"
    [finding] = [f for f in record["findings"] if f["check"] == "attestation"]
    assert finding["id"] == "ATTESTATION-UNTRUSTED"
    assert "verifies with none of the 1 trusted key(s)" in finding["message"]
    [entry] = record["quality"]["attestations"]
    assert entry["counted"] is False and entry["predicate_type"] == CDX


def test_metric_about_another_digest_does_not_count(cli, model: Path, keys, tmp_path: Path) -> None:
    other = make_model(tmp_path / "other", [9.0, 9.0])
    dsse = attest(cli, other, CDX, metrics_bom(f1=0.99), keys["eval"].private, tmp_path / "other.dsse.json")
    data = data_file(tmp_path, dev={"quality": {"min": {"f1": 0.8}}})
    code, record = gate(cli, model, "dev", data, "--attestation", dsse, "--attestation-key", keys["eval"].public)
    assert code == 1
    assert denies(record)["quality-metric"] == "metric f1 is missing (stage dev requires min 0.8)"
    [finding] = [f for f in record["findings"] if f["check"] == "attestation"]
    assert finding["id"] == "ATTESTATION-SUBJECT-MISMATCH" and "not about this artifact" in finding["message"]
    assert {w["rule"] for w in record["decision"]["warn"]} >= {"attestation-invalid"}


def test_unsigned_card_metrics_accepted_at_dev_refused_with_signed_only(cli, model: Path, tmp_path: Path) -> None:
    data = data_file(
        tmp_path,
        dev={"quality": {"min": {"accuracy": 0.9}}},
        staging={"quality": {"min": {"accuracy": 0.9}, "signed_only": True}},
    )
    code, record = gate(cli, model, "dev", data)
    assert code == 0, denies(record)
    assert record["quality"]["metrics"]["accuracy"] == {
        "value": 0.95,
        "text": "0.95",
        "source": "model-card",
        "signed": False,
        "signer": None,
        "where": "model card",
        "slice": "imdb",
    }
    code, record = gate(cli, model, "staging", data)
    assert code == 1
    assert denies(record)["quality-metric"] == (
        "metric accuracy 0.95 (unsigned, from the model-card) is not signed: stage staging accepts only metrics "
        "from a signed attestation (requires min 0.9)"
    )


def test_signed_metric_wins_over_the_card(cli, model: Path, keys, tmp_path: Path) -> None:
    """The uploader writes the card (0.95); the evaluation says 0.85: the signed value decides."""
    data = data_file(tmp_path, dev=MIN_ACC)
    code, record = gate(cli, model, "dev", data, *signed_eval(cli, model, keys, tmp_path, accuracy=0.85))
    assert code == 1
    assert "metric accuracy 0.85 is below the minimum 0.9" in denies(record)["quality-metric"]


# --- regression against the ledger baseline ---------------------------------------------------------


def test_regression_against_the_ledger_baseline(cli, keys, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    data = data_file(tmp_path, staging={"quality": {"no_regression": ["accuracy"]}})
    v1 = make_model(tmp_path / "v1" / "sentiment", [1.0, 2.0])
    v2 = make_model(tmp_path / "v2" / "sentiment", [1.0, 3.0])
    common = ("--ledger", ledger, "--model-name", "sentiment")
    code, first = gate(cli, v1, "staging", data, *common, *signed_eval(cli, v1, keys, tmp_path, accuracy=0.93))
    assert code == 0 and first["quality"]["baseline"]["found"] is False
    code, worse = gate(cli, v2, "staging", data, *common, *signed_eval(cli, v2, keys, tmp_path, accuracy=0.92))
    assert code == 1
    assert denies(worse)["quality-regression"] == (
        f"metric accuracy regressed: 0.92 is worse than 0.93 held by staging now ({first['artifact']['digest']}, "
        f"{ledger}#1)"
    )
    assert worse["quality"]["comparison"][0] == {
        "metric": "accuracy",
        "value": 0.92,
        "source": "attestation",
        "signed": True,
        "min": None,
        "max": None,
        "baseline": 0.93,
        "delta": -0.01,
        "lower_is_better": False,
        "status": "regressed",
    }
    # equal is no regression; the denied run did not move the baseline
    code, same = gate(cli, v2, "staging", data, *common, *signed_eval(cli, v2, keys, tmp_path, accuracy=0.93))
    assert code == 0 and same["quality"]["baseline"]["where"] == f"{ledger}#1"
    # another model identity has its own baseline
    code, _ = gate(
        cli, v2, "staging", data, "--ledger", ledger, "--model-name", "other", "--attestation-key", keys["eval"].public
    )
    assert code == 0


def test_tampered_ledger_is_no_baseline(cli, model: Path, keys, tmp_path: Path) -> None:
    import sqlite3

    ledger = tmp_path / "ledger.db"
    data = data_file(tmp_path, dev={"quality": {"no_regression": ["accuracy"]}})
    assert gate(cli, model, "dev", data, "--ledger", ledger)[0] == 0
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE decisions SET record = replace(record, '0.95', '0.10')")
    code, record = gate(cli, model, "dev", data, "--ledger", ledger)
    assert code == 1
    assert "fails verification" in denies(record)["quality-regression"]


# --- required evidence -------------------------------------------------------------------------------


@pytest.mark.parametrize(("result", "allowed"), [("PASSED", True), ("WARNED", True), ("FAILED", False)])
def test_required_test_result(cli, model: Path, keys, tmp_path: Path, result: str, allowed: bool) -> None:
    data = data_file(tmp_path, staging={"evidence_required": [TEST_RESULT]})
    predicate = {"result": result, "configuration": [], "passedTests": ["t1"], "failedTests": [], "warnedTests": []}
    dsse = attest(cli, model, "test-result", predicate, keys["eval"].private, tmp_path / "tests.dsse.json")
    code, record = gate(cli, model, "staging", data, "--attestation", dsse, "--attestation-key", keys["eval"].public)
    assert (code == 0) is allowed, denies(record)
    if not allowed:
        assert denies(record)["evidence-required"].startswith(f"required evidence {TEST_RESULT} failed: result FAILED")


def test_required_evidence_missing_or_untrusted(cli, model: Path, keys, tmp_path: Path) -> None:
    data = data_file(tmp_path, staging={"evidence_required": [TEST_RESULT]})
    code, record = gate(cli, model, "staging", data)
    assert code == 1 and denies(record)["evidence-required"].startswith(f"required evidence {TEST_RESULT} is missing")
    dsse = attest(cli, model, "test-result", {"result": "PASSED"}, keys["other"].private, tmp_path / "t.dsse.json")
    code, record = gate(cli, model, "staging", data, "--attestation", dsse, "--attestation-key", keys["eval"].public)
    assert code == 1
    assert "1 attestation(s) did not count: ATTESTATION-UNTRUSTED" in denies(record)["evidence-required"]


# --- stage order ----------------------------------------------------------------------------------------


def test_prod_needs_the_staging_vsa_for_the_same_digest(cli, model: Path, keys, tmp_path: Path) -> None:
    data = data_file(tmp_path)  # shipped: previous_stage_required at prod
    code, record = gate(cli, model, "prod", data)
    assert code == 1
    assert denies(record)["stage-skipped"].startswith(
        "promotion to prod skips staging: it needs a PASSED verification summary from staging for this digest"
    )
    vsa = tmp_path / "staging.vsa.json"
    code, _ = gate(cli, model, "staging", data, "--sign-key", keys["gate"].private, "--attestation-output", vsa)
    assert code == 0
    prod_vsa = tmp_path / "prod.vsa.json"
    code, record = gate(
        cli,
        model,
        "prod",
        data,
        "--attestation",
        vsa,
        "--attestation-key",
        keys["gate"].public,
        "--sign-key",
        keys["gate"].private,
        "--attestation-output",
        prod_vsa,
    )
    assert code == 0, denies(record)
    # the prod VSA names the staging VSA among the attestations it relied on
    statement = json.loads(base64.b64decode(json.loads(prod_vsa.read_text())["payload"]))
    assert {"uri": vsa.resolve().as_uri(), "digest": {"sha256": hashlib.sha256(vsa.read_bytes()).hexdigest()}} in (
        statement["predicate"]["inputAttestations"]
    )
    # the same VSA signed by a key the gate does not trust: skipped
    code, record = gate(cli, model, "prod", data, "--attestation", vsa, "--attestation-key", keys["eval"].public)
    assert code == 1 and "stage-skipped" in denies(record)
    # the gate trusts the key it signs with: its own earlier VSA counts without --attestation-key
    code, record = gate(cli, model, "prod", data, "--attestation", vsa, "--sign-key", keys["gate"].private)
    assert code == 0, denies(record)
    # a dev VSA does not let a model skip staging
    dev_vsa = tmp_path / "dev.vsa.json"
    gate(cli, model, "dev", data, "--sign-key", keys["gate"].private, "--attestation-output", dev_vsa)
    code, record = gate(cli, model, "prod", data, "--attestation", dev_vsa, "--attestation-key", keys["gate"].public)
    assert code == 1 and "(found: PASSED for dev)" in denies(record)["stage-skipped"]


def test_staging_vsa_of_another_digest_does_not_count(cli, model: Path, keys, tmp_path: Path) -> None:
    data = data_file(tmp_path)
    other = make_model(tmp_path / "other", [5.0, 5.0])
    vsa = tmp_path / "other.vsa.json"
    gate(cli, other, "staging", data, "--sign-key", keys["gate"].private, "--attestation-output", vsa)
    code, record = gate(cli, model, "prod", data, "--attestation", vsa, "--attestation-key", keys["gate"].public)
    assert code == 1
    assert "stage-skipped" in denies(record) and "attestation-invalid" in denies(record)
    assert [f["id"] for f in record["findings"] if f["check"] == "attestation"] == ["ATTESTATION-SUBJECT-MISMATCH"]


# --- what is given is checked, and fails closed ------------------------------------------------------


def test_unreadable_attestations(cli, model: Path, keys, tmp_path: Path) -> None:
    import os

    data = data_file(tmp_path)
    missing = cli("gate", model, "--data", data, "--attestation", tmp_path / "nope.json", "-q")
    assert missing.code == 2 and "nope.json" in missing.err
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    special = cli("gate", model, "--data", data, "--attestation", fifo, "-q")
    assert special.code == 2 and "not a regular file" in special.err
    garbage = write_json(tmp_path / "garbage.json", {"hello": "world"})
    _, record = gate(cli, model, "dev", data, "--attestation", garbage)
    [finding] = [f for f in record["findings"] if f["check"] == "attestation"]
    assert finding["id"] == "ATTESTATION-INVALID" and "not an attestation" in finding["message"]
    bad_key = cli("gate", model, "--data", data, "--attestation", garbage, "--attestation-key", garbage, "-q")
    assert bad_key.code == 2 and "garbage.json" in bad_key.err


def test_attest_refuses_a_predicate_of_the_wrong_shape(cli, model: Path, keys, tmp_path: Path) -> None:
    pred = write_json(tmp_path / "p.json", {"result": "MAYBE"})
    run = cli(
        "attest",
        model,
        "--predicate-type",
        "test-result",
        "--predicate",
        pred,
        "--sign-key",
        keys["eval"].private,
        "-o",
        tmp_path / "o.json",
    )
    assert run.code == 2 and "test-result predicate has result 'MAYBE'" in run.err
    bom = write_json(tmp_path / "b.json", {"not": "a bom"})
    run = cli(
        "attest",
        model,
        "--predicate-type",
        "cyclonedx",
        "--predicate",
        bom,
        "--sign-key",
        keys["eval"].private,
        "-o",
        tmp_path / "o.json",
    )
    assert run.code == 2 and "not a CycloneDX BOM" in run.err
    assert not (tmp_path / "o.json").exists()


def test_attestation_verifies_with_scanner_verify(cli, model: Path, keys, tmp_path: Path) -> None:
    """The statement `attest` writes is about the digest every command computes."""
    dsse = attest(cli, model, CDX, metrics_bom(accuracy=0.9), keys["eval"].private, tmp_path / "e.dsse.json")
    ok = cli("verify", model, "--bundle", dsse, "--key", keys["eval"].public)
    assert ok.code == 0, ok.out
    (model / "extra.txt").write_text("added after the evaluation\n")
    changed = cli("verify", model, "--bundle", dsse, "--key", keys["eval"].public)
    assert changed.code == 1


def test_reports_show_metrics_bounds_baseline_and_attestations(cli, keys, tmp_path: Path) -> None:
    from scanner.policy.schema import input_errors
    from scanner.report import render

    ledger = tmp_path / "ledger.db"
    data = data_file(tmp_path, staging={"quality": {"min": {"accuracy": 0.9}, "no_regression": ["accuracy"]}})
    v1 = make_model(tmp_path / "v1" / "sentiment", [1.0, 2.0])
    v2 = make_model(tmp_path / "v2" / "sentiment", [1.0, 3.0])
    assert (
        gate(cli, v1, "staging", data, "--ledger", ledger, *signed_eval(cli, v1, keys, tmp_path, accuracy=0.93))[0] == 0
    )
    stray = attest(cli, v1, CDX, metrics_bom(accuracy=0.99), keys["other"].private, tmp_path / "stray.dsse.json")
    saved = tmp_path / "input.json"
    code, record = gate(
        cli,
        v2,
        "staging",
        data,
        "--ledger",
        ledger,
        "--save-input",
        saved,
        "--attestation",
        stray,
        *signed_eval(cli, v2, keys, tmp_path, accuracy=0.92),
    )
    assert code == 1
    assert input_errors(json.loads(saved.read_text())) == []
    md = render("markdown", record).replace("\u200b", "")  # URLs are kept from autolinking by a zero-width space
    assert "| accuracy | 0.92 | signed | ≥ 0.9 | 0.93 | -0.01 | ❌ regressed |" in md
    assert "| https://cyclonedx.org/bom | key:sha256:" in md and "❌ no | — signature not trusted" in md
    table = render("table", record, width=400)
    assert "accuracy: 0.92 (signed), bounds ≥ 0.9, baseline 0.93, delta -0.01: regressed" in table
    assert "NOT counted (signature not trusted" in table
    html = render("html", record)
    assert '<section id="quality">' in html and "regressed</span>" in html and "<td>0.93</td>" not in html
    assert '<td class="num">-0.01</td>' in html


# --- every rule: the evidence that satisfies it, signed by an untrusted key or about another digest --


def _evidence_for(rule: str, cli, target: Path, keys, tmp_path: Path, key: str) -> list[Any]:
    """Attestations that satisfy ``rule`` when signed by ``eval`` about ``model``; made about
    ``target`` with ``key`` instead."""
    out = tmp_path / f"{rule}-{key}-{target.name}.json"
    if rule == "stage-skipped":
        (tmp_path / "vsa-data").mkdir(exist_ok=True)
        data = data_file(tmp_path / "vsa-data")  # the staging gate that writes the VSA
        run = cli("gate", target, "--stage", "staging", "--data", data, "--sign-key", keys[key].private,
                  "--attestation-output", out, "-q", "-f", f"json={tmp_path / 'vsa-record.json'}")  # fmt: skip
        assert run.code == 0, run.err
        return ["--attestation", out, "--attestation-key", keys["gate"].public]
    if rule == "evidence-required":
        attest(cli, target, TEST_RESULT, {"result": "PASSED"}, keys[key].private, out)
    else:
        attest(cli, target, CDX, metrics_bom(accuracy=0.95), keys[key].private, out)
    return ["--attestation", out, "--attestation-key", keys["eval"].public]


RULE_DATA = {
    "quality-metric": ("staging", {"quality": {"min": {"accuracy": 0.9}, "signed_only": True}}),
    "quality-regression": ("staging", {"quality": {"no_regression": ["accuracy"], "signed_only": True}}),
    "evidence-required": ("staging", {"evidence_required": [TEST_RESULT]}),
    "stage-skipped": ("prod", {}),
}


@pytest.mark.parametrize("rule", sorted(RULE_DATA))
def test_each_rule_refuses_evidence_from_an_untrusted_key_or_about_another_digest(
    cli, model: Path, keys, tmp_path: Path, rule: str
) -> None:
    stage, conf = RULE_DATA[rule]
    data = data_file(tmp_path, **{stage: conf})
    common: list[Any] = []
    if rule == "quality-regression":  # a baseline of 0.95 in the ledger
        ledger = tmp_path / "ledger.db"
        common = ["--ledger", ledger]
        good = _evidence_for(rule, cli, model, keys, tmp_path, "eval")
        assert gate(cli, model, stage, data, *common, *good)[0] == 0
    signer = "gate" if rule == "stage-skipped" else "eval"
    good = _evidence_for(rule, cli, model, keys, tmp_path, signer)
    code, record = gate(cli, model, stage, data, *common, *good)
    assert code == 0, denies(record)
    other = make_model(tmp_path / "other", [7.0, 7.0])
    for evidence in (
        _evidence_for(rule, cli, model, keys, tmp_path, "other"),  # untrusted signer
        _evidence_for(rule, cli, other, keys, tmp_path, signer),  # another digest
    ):
        code, record = gate(cli, model, stage, data, *common, *evidence)
        assert code == 1 and rule in denies(record), denies(record)
