# License deny list over the SBOM's components. Components' `licenses` hold SPDX expressions;
# the engine indexes each distinct one in `sbom.licenses` with its identifiers grouped by
# top-level OR alternative: a denied identifier anywhere in an alternative denies it, and a
# component is denied when no alternative is free of denied identifiers.
package scanner.gate

import rego.v1

denied_licenses := {normalize_license(x) | some x in object.get(config, ["licenses", "deny"], [])}

normalize_license(id) := lower(trim_suffix(trim_space(id), "+"))

alternative_denied(ids) if {
	some id in ids
	normalize_license(id) in denied_licenses
}

# denied when every alternative holds a denied identifier (the engine parsed the expression)
expression_denied(entry) if {
	count(entry.alternatives) > 0
	every alt in entry.alternatives {
		alternative_denied(alt)
	}
}

# distinct expressions → {count, names (the first few, as "name version")}
default license_index := {}

license_index := input.sbom.licenses

denied_expressions := [expr | some expr in object.keys(license_index); expression_denied(license_index[expr])]

denied_total := sum([license_index[expr].count | some expr in denied_expressions])

violation contains {
	"rule": "license-denied",
	"message": concat("", [
		format_int(denied_total, 10), " component license(s) on the deny list: ",
		concat("; ", [concat("", [expr, " (", concat(", ", license_index[expr].names), more_text(license_index[expr].count - count(license_index[expr].names)), ")"]) |
			some expr in sort(denied_expressions)
		]),
	]),
	"remediation": "replace the component, obtain another license, or waive it with legal approval",
} if count(denied_expressions) > 0
