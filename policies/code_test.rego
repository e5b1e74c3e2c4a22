# Unit tests of code.rego with the shipped data.json: `code-unsafe` at every stage, `remote-code`
# off / warn / enforce by stage, and the digest allow-list.
package scanner.code_test

import rego.v1

import data.scanner.gate
import data.scanner.gate_test

stages := ["dev", "staging", "prod"]

digest_a := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

digest_b := "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

carried := [
	{"path": "modeling_tiny.py", "role": "remote-code", "location": "carried", "sha256": digest_a},
	{"path": "code/helper.py", "role": "mlflow-code-path", "location": "carried", "sha256": digest_b},
]

present_index := gate_test.one_rule("CODE-PRESENT", "code", "info", "m/modeling_tiny.py", {})

process_index := gate_test.one_rule("CODE-PROCESS", "code", "critical", "m/modeling_tiny.py:3", {})

file_write_index := gate_test.one_rule("CODE-FILE-WRITE", "code", "medium", "m/modeling_tiny.py:9", {})

env_read_index := gate_test.one_rule("CODE-ENV-READ", "code", "low", "m/modeling_tiny.py:4", {})

decide(stage, index, code, allowed) := r if {
	r := {"deny": {d.rule | some d in gate.deny}, "warn": {w.rule | some w in gate.warn}} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as index
		with input.code as code
		with input.signatures as [gate_test.good_signature]
		with input.provenance as [gate_test.good_provenance]
		with input.context as gate_test.fresh_db
		with input.waivers_index as gate_test.no_waivers
		with data.scanner.config.remote_code.allowed_sha256 as allowed
}

test_remote_code_is_off_at_dev_warns_at_staging_denies_at_prod if {
	dev := decide("dev", present_index, carried, [])
	not "remote-code" in dev.deny
	not "remote-code" in dev.warn
	staging := decide("staging", present_index, carried, [])
	"remote-code" in staging.warn
	not "remote-code" in staging.deny
	prod := decide("prod", present_index, carried, [])
	prod.deny == {"remote-code"}
}

test_allow_listed_digests_pass_prod if {
	count(decide("prod", present_index, carried, [digest_a, digest_b]).deny) == 0
}

test_one_unreviewed_file_is_enough if {
	decide("prod", present_index, carried, [digest_a]).deny == {"remote-code"}
}

test_code_not_carried_can_never_be_allow_listed if {
	external := [{"path": "org/repo--modeling_x.X", "role": "remote-code", "location": "external", "sha256": null}]
	decide("prod", present_index, external, [digest_a, digest_b]).deny == {"remote-code"}
}

test_no_code_no_reason if {
	every stage in stages {
		count(decide(stage, gate_test.empty_index, [], []).deny) == 0
	}
}

test_malicious_code_is_denied_at_every_stage if {
	every stage in stages {
		"code-unsafe" in decide(stage, process_index, carried, [digest_a, digest_b]).deny
	}
}

test_medium_code_finding_follows_the_stage_threshold if {
	not "code-unsafe" in decide("dev", file_write_index, [], []).deny
	not "code-unsafe" in decide("staging", file_write_index, [], []).deny
	"code-unsafe" in decide("prod", file_write_index, [], []).deny
	not "finding-severity" in decide("prod", file_write_index, [], []).deny
}

test_low_code_finding_does_not_block if {
	every stage in stages {
		count(decide(stage, env_read_index, [], []).deny) == 0
	}
}

test_code_presence_alone_is_not_unsafe if {
	count({s | some s in stages; "code-unsafe" in decide(s, present_index, [], []).deny}) == 0
}
