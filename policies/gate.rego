# The promotion decision. Every module of this package adds `violation` entries
# ({rule, message, remediation}); the stage's configuration in data.json decides for each rule
# whether its violations deny, only warn, or are ignored (enforce / warn / off).
# Policies read only `input` (README.md, input.schema.json) and `data.scanner.config`.
#
# regopy 1.5.2 traps these modules avoid (tests/policy/test_conformance.py pins them):
# - sprintf with several arguments quotes strings computed during evaluation: messages are
#   built with concat() and format_int() instead;
# - inside a comprehension in a function body, `x[arg]` with a function argument as key
#   iterates instead of looking up: such lookups are bound outside the comprehension;
# - `some k, v in x` inside a comprehension does not parse ("Invalid collection"): iterate
#   object.keys(x) instead;
# - `with input as {...}` crashes the interpreter (tests use `with input.key as ...`).
package scanner.gate

import rego.v1

default allow := false

allow if count(deny) == 0

deny contains v if {
	some v in violation
	mode(v.rule) == "enforce"
}

warn contains v if {
	some v in violation
	mode(v.rule) == "warn"
}

# --- configuration --------------------------------------------------------------------------

# (never read `data` as a whole: it contains this package, which would be a recursion)
default config := {}

config := data.scanner.config

stage := input.promotion.to

default stage_config := {}

stage_config := config.stages[stage]

# A rule the stage does not name is enforced (fail closed): the shipped data.json names every
# rule for every stage. A mode other than enforce / warn / off is enforced too.
modes := {"enforce", "warn", "off"}

mode(rule) := m if {
	m := stage_config.rules[rule]
	m in modes
} else := "enforce"

setting(name, fallback) := object.get(stage_config, name, fallback)

violation contains {
	"rule": "config",
	"message": concat("", ["stage ", text(stage), " is not configured in data.scanner.config.stages"]),
	"remediation": "add the stage to the policy data file (see policies/data.json)",
} if not config.stages[stage]

violation contains {
	"rule": "config",
	"message": concat("", ["stage ", stage, " sets rule ", rule, " to ", text(m), " (use enforce, warn or off)"]),
	"remediation": "fix the rule mode in the policy data file",
} if {
	count(invalid_modes) > 0 # one set operation first: listing them iterates every rule
	some rule, m in stage_config.rules
	not m in modes
}

invalid_modes := {m | some m in stage_config.rules} - modes

# --- shared helpers ---------------------------------------------------------------------------

severity_rank := {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

severities := ["critical", "high", "medium", "low", "info"]

# threshold → the severities at or above it, most severe first (written out: computing it from
# severity_rank costs a few hundred microseconds in every decision)
at_or_above := {
	"info": ["critical", "high", "medium", "low", "info"],
	"low": ["critical", "high", "medium", "low"],
	"medium": ["critical", "high", "medium"],
	"high": ["critical", "high"],
	"critical": ["critical"],
}

# Open (unwaived) findings, summarised by the engine: rule id → {check, count,
# severities: {severity: {count, examples}}}. Rules pass around group keys [rule, severity]
# rather than the groups: copying objects into new collections is what costs in regopy.
default open_rules := {}

open_rules := input.findings_index.open.rules

# their rule ids, sorted (rules list findings by severity, then by rule id)
open_rule_ids := sort(object.keys(open_rules))

# The group keys of one rule id, most severe first.
rule_keys(rule) := keys if {
	sev_groups := object.get(open_rules, [rule, "severities"], {})
	keys := [[rule, s] | some s in severities; sev_groups[s]]
}

total(keys) := sum([open_rules[k[0]].severities[k[1]].count | some k in keys])

max_examples := 5

# "ID subject (severity); …; and N more" for a list of group keys.
examples(keys) := out if {
	found := [f | some k in keys; some f in open_rules[k[0]].severities[k[1]].examples]
	shown := [describe(f) | some f in array.slice(found, 0, max_examples)]
	out := concat("", [concat("; ", shown), more_text(total(keys) - count(shown))])
}

more_text(n) := "" if n <= 0

more_text(n) := concat("", [" and ", format_int(n, 10), " more"]) if n > 0

describe(f) := concat("", [f.id, " ", f.subject, " (", f.severity, ")"])

n_text(keys) := format_int(total(keys), 10)

# Any JSON value as text (strings as they are).
text(x) := x if is_string(x)

text(x) := sprintf("%v", [x]) if not is_string(x)
