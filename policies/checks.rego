# Fail closed: a check that could not examine everything blocks, whatever it found; and the
# findings of checks without a dedicated rule (unpinned requirements, license check results…)
# block at or above the stage's `finding_severity`.
package scanner.gate

import rego.v1

default checks := {}

checks := input.checks

violation contains {
	"rule": "checks-incomplete",
	"message": concat("", ["check ", name, " could not examine everything"]),
	"remediation": "see what the check reported as unreadable, fix it, and run the gate again",
} if {
	some name in object.keys(checks)
	checks[name].complete == false
}

dedicated_prefixes := ["MODEL-", "VULN-", "SBOM-NTIA-", "SIGNATURE-", "PROVENANCE-", "ATTESTATION-", "CODE-"]

dedicated(rule) if strings.any_prefix_match(rule, dedicated_prefixes)

finding_threshold := setting("finding_severity", "high")

other_rules := [rule | some rule in open_rule_ids; not dedicated(rule)]

other_findings := [[rule, s] |
	some s in object.get(at_or_above, finding_threshold, severities)
	some rule in other_rules
	open_rules[rule].severities[s]
]

violation contains {
	"rule": "finding-severity",
	"message": concat("", [
		n_text(other_findings), " finding(s) at or above ", text(finding_threshold), ": ",
		examples(other_findings),
	]),
	"remediation": "fix each finding (see its fix hint), or waive it with a reason and an expiry",
} if count(other_findings) > 0
