# SBOM completeness: the NTIA minimum elements (supplier, name, version, unique id, dependency
# relationship, author, timestamp), reported by the SBOM check as SBOM-NTIA-<ELEMENT> findings.
package scanner.gate

import rego.v1

ntia_gaps := [concat("", [text(object.get(f.evidence, "element", rule)), " (", text(object.get(f.evidence, "count", count(positions))), ")"]) |
	some rule in object.keys(object.get(open_index, "by_rule", {}))
	startswith(rule, "SBOM-NTIA-")
	positions := open_index.by_rule[rule]
	f := input.findings[positions[0]]
]

violation contains {
	"rule": "sbom-incomplete",
	"message": concat("", ["SBOM lacks NTIA minimum elements: ", concat(", ", sort(ntia_gaps))]),
	"remediation": "record supplier, version, purl, dependencies, author and timestamp for every component",
} if count(ntia_gaps) > 0
