# Known vulnerabilities (by severity, with or without a fix), unaudited dependencies, and the
# vulnerability database's age.
package scanner.gate

import rego.v1

vuln_threshold := setting("vulnerability_severity", "high")

vuln_severities := object.get(at_or_above, vuln_threshold, severities)

default open_vulns := {}

open_vulns := input.findings_index.open.vulns

# vulnerability group keys: [fixable|unfixable, severity]
fixable_vulns := [["fixable", s] | some s in vuln_severities; open_vulns.fixable[s]]

unfixable_vulns := [["unfixable", s] | some s in vuln_severities; open_vulns.unfixable[s]]

vuln_total(keys) := sum([open_vulns[k[0]][k[1]].count | some k in keys])

violation contains {
	"rule": "vuln-fixable",
	"message": concat("", [
		format_int(vuln_total(fixable_vulns), 10), " known vulnerabilit(y/ies) at or above ", text(vuln_threshold),
		" with a fix available: ", vuln_examples(fixable_vulns),
	]),
	"remediation": "upgrade each package to its fixed version (evidence.fixed_in), or waive it with a reason and an expiry",
} if count(fixable_vulns) > 0

violation contains {
	"rule": "vuln-no-fix",
	"message": concat("", [
		format_int(vuln_total(unfixable_vulns), 10), " known vulnerabilit(y/ies) at or above ", text(vuln_threshold),
		" without a fix: ", vuln_examples(unfixable_vulns),
	]),
	"remediation": "assess whether it is reachable; remove or replace the package, or waive it with a reason and an expiry",
} if count(unfixable_vulns) > 0

vuln_examples(keys) := out if {
	found := [f | some k in keys; some f in open_vulns[k[0]][k[1]].examples]
	shown := [vuln_describe(f) | some f in array.slice(found, 0, max_examples)]
	out := concat("", [concat("; ", shown), more_text(vuln_total(keys) - count(shown))])
}

vuln_describe(f) := concat("", [
	text(object.get(f.evidence, "vuln_id", f.id)), " in ",
	text(object.get(f.evidence, "package", f.subject)), " ",
	text(object.get(f.evidence, "version", "?")), " (", f.severity,
	fixed_text(object.get(f.evidence, "fixed_in", null)), ")",
])

fixed_text(v) := "" if v == null

fixed_text(v) := concat("", [", fixed in ", text(v)]) if v != null

unaudited := rule_keys("VULN-UNAUDITED")

violation contains {
	"rule": "vuln-unaudited",
	"message": concat("", [n_text(unaudited), " dependenc(y/ies) could not be audited: ", unaudited_examples]),
	"remediation": "pin every dependency to an exact version and make sure the vulnerability database covers it",
} if count(unaudited) > 0

unaudited_examples := out if {
	found := [f | some k in unaudited; some f in open_rules[k[0]].severities[k[1]].examples]
	shown := [concat("", [text(object.get(f.evidence, "package", f.subject)), " (", text(object.get(f.evidence, "reason", "?")), ")"]) |
		some f in array.slice(found, 0, max_examples)
	]
	out := concat("", [concat("; ", shown), more_text(total(unaudited) - count(shown))])
}

# Artifact kinds that have dependencies: without a vulnerability database in the context, their
# dependencies were not audited at all.
dependency_kinds := object.get(config, ["vulnerabilities", "dependency_kinds"], [
	"app-dir", "requirements", "pyproject", "lockfile", "environment", "sbom",
])

violation contains {
	"rule": "vuln-unaudited",
	"message": concat("", ["no vulnerability audit ran for this ", input.artifact.kind, " artifact (context.vulnerability_db is missing)"]),
	"remediation": "run the gate with the vulnerability check and a local vulnerability database",
} if {
	has_dependencies
	not input.context.vulnerability_db
}

# The kind is guessed from markers the artifact controls (a model config.json beside a
# requirements.txt makes it a "model-dir"): packages (libraries) in the inventory count too.
has_dependencies if input.artifact.kind in dependency_kinds

has_dependencies if object.get(input.sbom, ["summary", "by_type", "library"], 0) > 0

max_db_age := setting("max_vulnerability_db_age_days", 7)

violation contains {
	"rule": "vuln-db-stale",
	"message": concat("", [
		"vulnerability database is ", text(db.age_days), " days old (snapshot ",
		text(object.get(db, "snapshot_date", "?")), "); this stage allows at most ", text(max_db_age),
	]),
	"remediation": "update the vulnerability database and run the gate again",
} if {
	db := input.context.vulnerability_db
	is_number(db.age_days)
	db.age_days > max_db_age
}

violation contains {
	"rule": "vuln-db-stale",
	"message": "vulnerability database age is unknown (context.vulnerability_db.age_days is not a number)",
	"remediation": "use a database whose snapshot date is recorded",
} if {
	db := input.context.vulnerability_db
	not is_number(object.get(db, "age_days", null))
}
