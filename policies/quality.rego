# Evidence and quality: metric bounds, no regression against the model the stage holds now,
# required evidence types, no skipping stages, and attestations that did not count.
#
# Stage settings (data.scanner.config.stages.<stage>):
#   quality: {min: {metric: n}, max: {metric: n}, no_regression: [metric], signed_only: bool,
#             lower_is_better: [metric], regression_tolerance: {metric: n}}
#   evidence_required: [predicate type]      previous_stage_required: bool
# Input: metrics (name → {value, source, signed, signer}), baseline ({found, metrics, digest,
# where, error}), attestations (predicate type → counted entries {result, stage, signer, source}).
package scanner.gate

import rego.v1

vsa_type := "https://slsa.dev/verification_summary/v1"

default metrics := {}

metrics := input.metrics

default baseline := {"found": false, "metrics": {}}

baseline := input.baseline

default attestations := {}

attestations := input.attestations

quality := object.get(stage_config, "quality", {})

min_bounds := object.get(quality, "min", {})

max_bounds := object.get(quality, "max", {})

no_regression := object.get(quality, "no_regression", [])

signed_only if quality.signed_only == true

bounded_metrics := {name | some name in object.keys(min_bounds)} | {name | some name in object.keys(max_bounds)}

# a metric the stage accepts: any, or with signed_only only one from a counted attestation
usable(name) if {
	metrics[name]
	not signed_only
}

usable(name) if metrics[name].signed == true

metric_value(name) := metrics[name].value

# numbers as text: the engine's own formatting of floats is noisy (0.8100000000000001), so
# values come with their shortest text from the input builder; bounds are printed from 6 decimals
value_text(name) := object.get(metrics[name], "text", num_text(metrics[name].value))

baseline_text(name) := object.get(object.get(baseline, "text", {}), name, num_text(baseline.metrics[name]))

num_text(x) := format_int(x, 10) if {
	x == round(x)
} else := concat("", [sign_text(x), format_int(whole, 10), ".", frac]) if {
	n := round(abs(x) * 1000000)
	whole := floor(n / 1000000)
	digits := format_int(n - whole * 1000000, 10)
	frac := trim_right(concat("", [substring("000000", 0, 6 - count(digits)), digits]), "0")
	frac != ""
} else := text(x)

sign_text(x) := "-" if x < 0

else := ""

source_text(name) := concat("", [" (signed attestation by ", text(metrics[name].signer), ")"]) if {
	metrics[name].signed == true
} else := concat("", [" (unsigned, from the ", text(metrics[name].source), ")"])

bounds_text(name) := concat(" and ", [b | some b in [min_text(name), max_text(name)]; b != ""])

min_text(name) := concat("", ["min ", num_text(min_bounds[name])]) if {
	min_bounds[name] != null
} else := ""

max_text(name) := concat("", ["max ", num_text(max_bounds[name])]) if {
	max_bounds[name] != null
} else := ""

quality_remediation := "publish the evaluation as a signed attestation of this digest (scanner attest PATH --predicate-type https://cyclonedx.org/bom ...) and pass it with --attestation"

# --- quality-metric: every bounded metric present, usable and within its bounds ---------------

violation contains {
	"rule": "quality-metric",
	"message": concat("", ["metric ", name, " is missing (stage ", stage, " requires ", bounds_text(name), ")"]),
	"remediation": quality_remediation,
} if {
	some name in bounded_metrics
	not metrics[name]
}

violation contains {
	"rule": "quality-metric",
	"message": concat("", [
		"metric ", name, " ", value_text(name), source_text(name), " is not signed: stage ", stage,
		" accepts only metrics from a signed attestation (requires ", bounds_text(name), ")",
	]),
	"remediation": quality_remediation,
} if {
	some name in bounded_metrics
	metrics[name]
	not usable(name)
}

violation contains {
	"rule": "quality-metric",
	"message": concat("", [
		"metric ", name, " ", value_text(name), " is below the minimum ", num_text(bound), source_text(name),
	]),
	"remediation": "improve the model, or change quality.min in the policy data",
} if {
	some name, bound in min_bounds
	usable(name)
	metric_value(name) < bound
}

violation contains {
	"rule": "quality-metric",
	"message": concat("", [
		"metric ", name, " ", value_text(name), " is above the maximum ", num_text(bound), source_text(name),
	]),
	"remediation": "improve the model, or change quality.max in the policy data",
} if {
	some name, bound in max_bounds
	usable(name)
	metric_value(name) > bound
}

# --- quality-regression: no worse than the model the stage holds now --------------------------

lower_is_better(name) if {
	max_bounds[name] != null
	not min_bounds[name]
}

lower_is_better(name) if name in object.get(quality, "lower_is_better", [])

tolerance(name) := object.get(object.get(quality, "regression_tolerance", {}), name, 0)

baseline_value(name) := baseline.metrics[name]

regressed(name) if {
	not lower_is_better(name)
	metric_value(name) < baseline_value(name) - tolerance(name)
}

regressed(name) if {
	lower_is_better(name)
	metric_value(name) > baseline_value(name) + tolerance(name)
}

held_text := concat("", [
	" held by ", stage, " now (", text(object.get(baseline, "digest", "unknown digest")), ", ",
	text(object.get(baseline, "where", "unknown")), ")",
])

violation contains {
	"rule": "quality-regression",
	"message": concat("", ["cannot compare with the model ", stage, " holds: ", text(baseline.error)]),
	"remediation": "restore the ledger (or the stage's verification summary) the baseline is read from",
} if {
	count(no_regression) > 0
	is_string(baseline.error)
}

violation contains {
	"rule": "quality-regression",
	"message": concat("", [
		"metric ", name, " regressed: ", value_text(name), " is worse than ", baseline_text(name),
		held_text,
	]),
	"remediation": "promote a model at least as good as the one the stage holds, or change quality.no_regression",
} if {
	some name in no_regression
	baseline.found == true
	usable(name)
	regressed(name)
}

violation contains {
	"rule": "quality-regression",
	"message": concat("", [
		"metric ", name, " cannot be compared: it is missing", unusable_text(name), ", and the model ", stage,
		" holds has ", baseline_text(name), held_text,
	]),
	"remediation": quality_remediation,
} if {
	some name in no_regression
	baseline.found == true
	baseline_value(name) != null
	not usable(name)
}

unusable_text(name) := " (unsigned, and the stage accepts only signed metrics)" if {
	metrics[name]
} else := ""

# --- evidence-required: each required predicate type counted, none failed ---------------------

evidence_required := object.get(stage_config, "evidence_required", [])

uncounted := [[rule, s] |
	some rule in open_rule_ids
	startswith(rule, "ATTESTATION-")
	some s in severities
	open_rules[rule].severities[s]
]

uncounted_text := "" if {
	count(uncounted) == 0
} else := concat("", ["; ", n_text(uncounted), " attestation(s) did not count: ", examples(uncounted)])

violation contains {
	"rule": "evidence-required",
	"message": concat("", [
		"required evidence ", ptype, " is missing: no attestation of that type signed by a trusted signer about this artifact",
		uncounted_text,
	]),
	"remediation": "attach the evidence as a signed attestation of this digest (scanner attest) and pass it with --attestation",
} if {
	some ptype in evidence_required
	count(object.get(attestations, ptype, [])) == 0
}

violation contains {
	"rule": "evidence-required",
	"message": concat("", [
		"required evidence ", ptype, " failed: result FAILED in ", text(a.source), " (signed by ", text(a.signer), ")",
	]),
	"remediation": "fix what the evidence reports as failed, then produce and sign it again",
} if {
	some ptype in evidence_required
	some a in object.get(attestations, ptype, [])
	a.result == "FAILED"
}

# --- stage-skipped: a promotion needs the previous stage's PASSED verification summary -------

previous_stage := input.promotion.from

previous_vsa_passed if {
	some a in object.get(attestations, vsa_type, [])
	a.result == "PASSED"
	a.stage == previous_stage
}

found_vsas := [concat("", [text(a.result), " for ", text(a.stage)]) | some a in object.get(attestations, vsa_type, [])]

found_vsa_text := "none was given" if {
	count(found_vsas) == 0
} else := concat("", ["found: ", concat(", ", found_vsas)])

violation contains {
	"rule": "stage-skipped",
	"message": concat("", [
		"promotion to ", stage, " skips ", previous_stage, ": it needs a PASSED verification summary from ", previous_stage,
		" for this digest, signed by a trusted key (", found_vsa_text, ")", uncounted_text,
	]),
	"remediation": concat("", [
		"promote through ", previous_stage, " first (scanner gate --stage ", previous_stage,
		" --sign-key KEY --attestation-output VSA) and pass its VSA with --attestation",
	]),
} if {
	stage_config.previous_stage_required == true
	is_string(previous_stage)
	not previous_vsa_passed
}

# --- attestation-invalid: attestations that did not count --------------------------------------

violation contains {
	"rule": "attestation-invalid",
	"message": concat("", [n_text(uncounted), " attestation(s) did not count: ", attestation_examples]),
	"remediation": "sign attestations with a trusted key or identity, about this artifact's digest",
} if count(uncounted) > 0

attestation_examples := concat("; ", [concat("", [f.subject, ": ", text(object.get(f.evidence, "reason", f.id))]) |
	some k in uncounted
	some f in open_rules[k[0]].severities[k[1]].examples
])
