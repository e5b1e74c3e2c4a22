# Unit tests of quality.rego (metric bounds, regression, required evidence, stage order,
# attestations that did not count) with the shipped data.json; fixtures from gate_test.rego.
package scanner.gate_test

import rego.v1

import data.scanner.gate

quality_rules := {"quality-metric", "quality-regression", "evidence-required", "stage-skipped", "attestation-invalid"}

result_type := "https://in-toto.io/attestation/test-result/v0.1"

vsa_type := "https://slsa.dev/verification_summary/v1"

# the shipped stages with `conf` merged into one of them
stages_with(stage, conf) := object.union(data.scanner.config.stages, {stage: object.union(data.scanner.config.stages[stage], conf)})

signed(value) := {"value": value, "source": "attestation", "signed": true, "signer": "key:sha256:1234 (eval.pub)"}

unsigned(value) := {"value": value, "source": "model-card", "signed": false, "signer": null}

no_baseline := {"found": false, "metrics": {}}

baseline_of(values) := {"found": true, "metrics": values, "digest": "sha256:aaaa", "where": "ledger.db#3"}

vsa(result, from_stage) := {"source": "staging.vsa.json", "counted": true, "result": result, "stage": from_stage, "signer": "key:sha256:9999 (gate.pub)"}

staging_vsa := {vsa_type: [vsa("PASSED", "staging")]}

from_stage := {"dev": null, "staging": "dev", "prod": "staging"}

# {rule: [messages]} of the quality rules that deny / warn
outcome(stage, conf, metrics, baseline, attestations, index) := r if {
	custom := stages_with(stage, conf)
	r := {
		"deny": {d.rule: d.message | some d in gate.deny; d.rule in quality_rules},
		"warn": {w.rule: w.message | some w in gate.warn; w.rule in quality_rules},
	} with input.promotion as {"from": from_stage[stage], "to": stage}
		with input.artifact.kind as "model-dir"
		with input.findings_index as index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as fresh_db
		with input.waivers_index as no_waivers
		with input.metrics as metrics
		with input.baseline as baseline
		with input.attestations as attestations
		with data.scanner.config.stages as custom
}

# `q` merged into the stage's shipped quality settings
quality_denies(stage, q, metrics, baseline) := outcome(stage, {"quality": object.union(data.scanner.config.stages[stage].quality, q)}, metrics, baseline, staging_vsa, empty_index).deny

# --- quality-metric -------------------------------------------------------------------------------

min_acc := {"min": {"accuracy": 0.9}}

test_metric_at_minimum_is_allowed if {
	every stage in stages {
		quality_denies(stage, min_acc, {"accuracy": signed(0.9)}, no_baseline) == {}
	}
}

test_metric_just_below_minimum_is_denied_naming_value_and_bound if {
	d := quality_denies("staging", min_acc, {"accuracy": signed(0.8999)}, no_baseline)
	d == {"quality-metric": "metric accuracy 0.8999 is below the minimum 0.9 (signed attestation by key:sha256:1234 (eval.pub))"}
}

test_metric_at_maximum_is_allowed_just_above_denied if {
	q := {"max": {"latency_ms": 120}}
	quality_denies("prod", q, {"latency_ms": signed(120)}, no_baseline) == {}
	d := quality_denies("prod", q, {"latency_ms": signed(120.5)}, no_baseline)
	contains(d["quality-metric"], "metric latency_ms 120.5 is above the maximum 120")
}

test_missing_metric_is_denied_naming_the_bound if {
	d := quality_denies("dev", {"min": {"f1": 0.8}, "max": {"f1": 1}}, {"accuracy": signed(0.99)}, no_baseline)
	d == {"quality-metric": "metric f1 is missing (stage dev requires min 0.8 and max 1)"}
}

test_unsigned_card_metric_accepted_at_dev if {
	quality_denies("dev", min_acc, {"accuracy": unsigned(0.95)}, no_baseline) == {}
}

test_unsigned_card_metric_refused_where_signed_only if {
	# prod ships with signed_only: true
	d := quality_denies("prod", min_acc, {"accuracy": unsigned(0.95)}, no_baseline)
	contains(d["quality-metric"], "metric accuracy 0.95 (unsigned, from the model-card) is not signed")
	d2 := quality_denies("dev", object.union(min_acc, {"signed_only": true}), {"accuracy": unsigned(0.95)}, no_baseline)
	contains(d2["quality-metric"], "accepts only metrics from a signed attestation")
}

test_no_bounds_no_quality_denies if {
	every stage in stages {
		quality_denies(stage, {}, {}, no_baseline) == {}
	}
}

# --- quality-regression ---------------------------------------------------------------------------

regress_acc := {"no_regression": ["accuracy"]}

test_equal_to_baseline_is_allowed if {
	quality_denies("prod", regress_acc, {"accuracy": signed(0.93)}, baseline_of({"accuracy": 0.93})) == {}
}

test_regression_names_both_values if {
	d := quality_denies("prod", regress_acc, {"accuracy": signed(0.92)}, baseline_of({"accuracy": 0.93}))
	d == {"quality-regression": "metric accuracy regressed: 0.92 is worse than 0.93 held by prod now (sha256:aaaa, ledger.db#3)"}
}

test_regression_of_a_lower_is_better_metric if {
	q := {"max": {"loss": 1}, "no_regression": ["loss"]}
	quality_denies("staging", q, {"loss": signed(0.3)}, baseline_of({"loss": 0.3})) == {}
	d := quality_denies("staging", q, {"loss": signed(0.31)}, baseline_of({"loss": 0.3}))
	contains(d["quality-regression"], "metric loss regressed: 0.31 is worse than 0.3")
}

test_regression_tolerance if {
	q := {"no_regression": ["accuracy"], "regression_tolerance": {"accuracy": 0.01}}
	quality_denies("prod", q, {"accuracy": signed(0.925)}, baseline_of({"accuracy": 0.93})) == {}
	"quality-regression" in object.keys(quality_denies("prod", q, {"accuracy": signed(0.919)}, baseline_of({"accuracy": 0.93})))
}

test_first_promotion_has_no_baseline if {
	quality_denies("prod", regress_acc, {"accuracy": signed(0.5)}, no_baseline) == {}
}

test_missing_metric_with_a_baseline_is_denied if {
	d := quality_denies("prod", regress_acc, {}, baseline_of({"accuracy": 0.93}))
	contains(d["quality-regression"], "metric accuracy cannot be compared: it is missing, and the model prod holds has 0.93")
}

test_untrustworthy_baseline_is_denied if {
	b := {"found": false, "metrics": {}, "error": "the ledger l.db fails verification"}
	d := quality_denies("staging", regress_acc, {"accuracy": signed(0.99)}, b)
	contains(d["quality-regression"], "cannot compare with the model staging holds: the ledger l.db fails verification")
}

# --- evidence-required ----------------------------------------------------------------------------

tests_required := {"evidence_required": [result_type]}

evidence_with(result) := {result_type: [{"source": "tests.json", "counted": true, "result": result, "signer": "key:sha256:1234 (ci.pub)"}], vsa_type: [vsa("PASSED", "staging")]}

test_required_evidence_passed_is_allowed if {
	outcome("prod", tests_required, {}, no_baseline, evidence_with("PASSED"), empty_index).deny == {}
}

test_required_evidence_missing_is_denied if {
	every stage in stages {
		d := outcome(stage, tests_required, {}, no_baseline, staging_vsa, empty_index).deny
		startswith(d["evidence-required"], concat("", ["required evidence ", result_type, " is missing"]))
	}
}

test_required_evidence_failed_is_denied if {
	d := outcome("dev", tests_required, {}, no_baseline, evidence_with("FAILED"), empty_index).deny
	d["evidence-required"] == concat("", ["required evidence ", result_type, " failed: result FAILED in tests.json (signed by key:sha256:1234 (ci.pub))"])
}

untrusted_index := one_rule("ATTESTATION-UNTRUSTED", "attestation", "medium", "tests.json", {"reason": "signature not trusted: the DSSE signature verifies with none of the 1 trusted key(s)"})

test_missing_evidence_names_what_did_not_count if {
	d := outcome("staging", tests_required, {}, no_baseline, staging_vsa, untrusted_index).deny
	contains(d["evidence-required"], "1 attestation(s) did not count: ATTESTATION-UNTRUSTED tests.json (medium)")
}

# --- stage-skipped --------------------------------------------------------------------------------

test_prod_without_a_staging_vsa_is_denied if {
	d := outcome("prod", {}, {}, no_baseline, {}, empty_index).deny
	d == {"stage-skipped": "promotion to prod skips staging: it needs a PASSED verification summary from staging for this digest, signed by a trusted key (none was given)"}
}

test_prod_with_a_passed_staging_vsa_is_allowed if {
	outcome("prod", {}, {}, no_baseline, staging_vsa, empty_index).deny == {}
}

test_vsa_from_another_stage_or_failed_does_not_count if {
	d := outcome("prod", {}, {}, no_baseline, {vsa_type: [vsa("PASSED", "dev"), vsa("FAILED", "staging")]}, empty_index).deny
	contains(d["stage-skipped"], "(found: PASSED for dev, FAILED for staging)")
}

test_previous_stage_required_is_per_stage if {
	outcome("staging", {}, {}, no_baseline, {}, empty_index).deny == {}
	d := outcome("staging", {"previous_stage_required": true}, {}, no_baseline, {}, empty_index).deny
	contains(d["stage-skipped"], "promotion to staging skips dev")
	outcome("dev", {"previous_stage_required": true}, {}, no_baseline, {}, empty_index).deny == {}
}

# --- attestation-invalid --------------------------------------------------------------------------

test_uncounted_attestation_warns_dev_denies_prod if {
	w := outcome("dev", {}, {}, no_baseline, {}, untrusted_index).warn
	w["attestation-invalid"] == "1 attestation(s) did not count: tests.json: signature not trusted: the DSSE signature verifies with none of the 1 trusted key(s)"
	d := outcome("prod", {}, {}, no_baseline, staging_vsa, untrusted_index).deny
	"attestation-invalid" in object.keys(d)
}

# --- numbers in messages ------------------------------------------------------------------------

test_numbers_print_without_float_noise if {
	gate.num_text(0.81) == "0.81"
	gate.num_text(120) == "120"
	gate.num_text(-0.5) == "-0.5"
	gate.num_text(0.8999) == "0.8999"
	d := quality_denies("staging", {"min": {"accuracy": 0.81}}, {"accuracy": object.union(signed(0.8), {"text": "0.8"})}, no_baseline)
	d["quality-metric"] == "metric accuracy 0.8 is below the minimum 0.81 (signed attestation by key:sha256:1234 (eval.pub))"
}
