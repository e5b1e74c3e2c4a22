# Code a model carries (Hugging Face remote code, tokenizer/processor code, MLflow code paths,
# any Python file in a model directory), from the `code` check.
#
# - `code-unsafe`: what the code does (process or shell execution, dynamic or decoded code,
#   network, credential reads, file writes…) at high or critical severity, or at the stage's
#   `finding_severity` when that is lower; and code that could not be analysed or is not carried
#   (fetched from another repository at load time). Enforced at every stage by default.
# - `remote-code`: the model carries code at all. Needs a decision: the stage's mode (off at dev,
#   warn at staging, enforce at prod by default) unless the sha256 of every code file is in
#   `data.scanner.config.remote_code.allowed_sha256` (reviewed code).
package scanner.gate

import rego.v1

# the stage's finding threshold when it is below high, else high. (Written as a rule with `else`:
# an earlier version binding `s` in a rule body made regopy 1.5.2 change the iteration order of
# model.rego's unsafe_model; tests/policy/test_rules.py pins that order.)
code_threshold := t if {
	t := setting("finding_severity", "high")
	severity_rank[t] < severity_rank.high
} else := "high"

code_severities := object.get(at_or_above, code_threshold, ["critical", "high"])

code_rules := [rule | some rule in open_rule_ids; open_rules[rule].check == "code"; rule != "CODE-PRESENT"]

unsafe_code := [[rule, sev] |
	some sev in code_severities
	some rule in code_rules
	open_rules[rule].severities[sev]
]

violation contains {
	"rule": "code-unsafe",
	"message": concat("", [n_text(unsafe_code), " finding(s) in the code the model carries: ", examples(unsafe_code)]),
	"remediation": "remove the code from the model (or the calls the findings name); a loader imports it with trust_remote_code or MLflow's code paths",
} if count(unsafe_code) > 0

default code_files := []

code_files := input.code

allowed_code := {d | some d in object.get(config, ["remote_code", "allowed_sha256"], [])}

unreviewed_code := [f | some f in code_files; not f.sha256 in allowed_code]

violation contains {
	"rule": "remote-code",
	"message": concat("", [
		format_int(count(unreviewed_code), 10), " code file(s) the model carries are not allow-listed: ",
		concat("; ", [concat("", [f.path, " (", f.role, ")"]) | some f in array.slice(unreviewed_code, 0, max_examples)]),
		more_text(count(unreviewed_code) - max_examples),
	]),
	"remediation": "review the code and add each file's sha256 to remote_code.allowed_sha256 in the policy data, or ship the model without code",
} if count(unreviewed_code) > 0
