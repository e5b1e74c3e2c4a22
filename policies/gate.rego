# Default promotion gate. Reads only `input` (see README.md) and `data.scanner.config`.
package scanner.gate

import rego.v1

default allow := false

allow if count(deny) == 0

severity_rank := {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

block_at := data.scanner.config.stages[input.promotion.to].block_severity

deny contains {
	"rule": "finding-severity",
	"message": sprintf("%s (%s) %s: %s", [f.id, f.severity, f.subject, f.message]),
	"remediation": object.get(f, "fix", null),
} if {
	some f in input.findings
	severity_rank[f.severity] >= severity_rank[block_at]
}

deny contains {
	"rule": "check-incomplete",
	"message": sprintf("check %s could not examine everything", [name]),
	"remediation": "fix the input so the check can complete",
} if {
	some name, c in input.checks
	not c.complete
}
