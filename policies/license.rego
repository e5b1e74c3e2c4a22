# License deny list over the SBOM's components. `licenses` hold SPDX expressions: an identifier
# anywhere in an expression counts, except that in an expression without parentheses an OR
# alternative free of denied identifiers makes the component acceptable (one may choose it).
package scanner.gate

import rego.v1

denied_licenses := {normalize_license(x) | some x in object.get(config, ["licenses", "deny"], [])}

normalize_license(id) := lower(trim_suffix(trim_space(id), "+"))

# identifiers of one expression (operators and parentheses dropped)
license_ids(expr) := {normalize_license(t) |
	some t in regex.split(`[\s()]+`, expr)
	t != ""
	not upper(t) in {"AND", "OR", "WITH"}
}

alternative_denied(alt) if {
	some id in license_ids(alt)
	id in denied_licenses
}

expression_denied(expr) if {
	contains(expr, "(")
	alternative_denied(expr)
}

expression_denied(expr) if {
	not contains(expr, "(")
	alternatives := regex.split(`\s+(?i:or)\s+`, trim_space(expr))
	every alt in alternatives {
		alternative_denied(alt)
	}
}

# distinct expressions → {count, names (the first few, as "name version")}
default license_index := {}

license_index := input.sbom.licenses

denied_expressions := [expr | some expr in object.keys(license_index); expression_denied(expr)]

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
