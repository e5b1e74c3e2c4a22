# SBOM completeness: the NTIA minimum elements (supplier, name, version, unique id, dependency
# relationship, author, timestamp), reported by the SBOM check as SBOM-NTIA-<ELEMENT> findings.
package scanner.gate

import rego.v1

# the evidence of each rule's first example (most severe first)
ntia_gaps := [gap |
	some rule in object.keys(open_rules)
	startswith(rule, "SBOM-NTIA-")
	groups := open_rules[rule].severities
	evidence := [f.evidence | some s in severities; some f in groups[s].examples][0]
	gap := concat("", [
		text(object.get(evidence, "element", trim_prefix(rule, "SBOM-NTIA-"))), " (",
		text(object.get(evidence, "count", open_rules[rule].count)), " component(s))",
	])
]

violation contains {
	"rule": "sbom-incomplete",
	"message": concat("", ["SBOM lacks NTIA minimum elements: ", concat(", ", sort(ntia_gaps))]),
	"remediation": "record supplier, version, purl, dependencies, author and timestamp for every component",
} if count(ntia_gaps) > 0
