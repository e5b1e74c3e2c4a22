# Fail closed: a check that could not examine everything blocks, whatever it found.
package scanner.gate

import rego.v1

violation contains {
	"rule": "checks-incomplete",
	"message": concat("", ["check ", name, " could not examine everything"]),
	"remediation": "see the check's findings for what could not be read, fix it, and run the gate again",
} if {
	some name, c in object.get(input, "checks", {})
	c.complete == false
}

# Findings of checks without a dedicated rule above (for example unpinned requirements or a
# license check's findings): open findings at or above the stage's `finding_severity`.
dedicated_prefixes := ["MODEL-", "VULN-", "SBOM-NTIA-", "SIGNATURE-", "PROVENANCE-"]

other_findings := [i |
	some s in object.get(at_or_above, setting("finding_severity", "high"), severities)
	some rule in object.keys(object.get(open_index, "by_rule_severity", {}))
	not dedicated(rule)
	some i in object.get(open_index.by_rule_severity[rule], s, [])
]

dedicated(rule) if {
	some p in dedicated_prefixes
	startswith(rule, p)
}

violation contains {
	"rule": "finding-severity",
	"message": concat("", [
		n_text(other_findings), " finding(s) at or above ", text(setting("finding_severity", "high")), ": ",
		examples(other_findings),
	]),
	"remediation": "fix each finding (see its fix hint), or waive it with a reason and an expiry",
} if count(other_findings) > 0
