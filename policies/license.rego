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

denied_components := [c |
	some c in object.get(input, ["sbom", "components"], [])
	some expr in object.get(c, "licenses", [])
	expression_denied(expr)
]

violation contains {
	"rule": "license-denied",
	"message": concat("", [
		n_text(denied_components), " component(s) under a denied license: ",
		concat("; ", [concat("", [c.name, " ", text(c.version), " (", concat(" | ", c.licenses), ")"]) |
			some c in array.slice(denied_components, 0, max_examples)
		]),
		more_text(count(denied_components) - max_examples),
	]),
	"remediation": "replace the component, obtain another license, or waive with legal approval",
} if count(denied_components) > 0
