# Unit tests of the shipped policies with the shipped data.json: each rule at each stage.
# Run: scanner policy test   (regopy: no `with input as {...}`; inputs are replaced key by key)
package scanner.gate_test

import rego.v1

import data.scanner.gate

stages := ["dev", "staging", "prod"]

# --- fixtures: summaries as scanner/policy/input.py builds them ------------------------------

example(id, check, severity, subject, evidence) := {
	"id": id, "check": check, "severity": severity, "subject": subject, "evidence": evidence, "position": 0,
}

one_rule(id, check, severity, subject, evidence) := {"open": {
	"rules": {id: {"check": check, "count": 1, "severities": {severity: {"count": 1, "examples": [example(id, check, severity, subject, evidence)]}}}},
	"vulns": {"fixable": {}, "unfixable": {}},
}}

pickle_index := one_rule("MODEL-PICKLE-GLOBAL", "model", "critical", "m.pkl", {"global": "os.system"})

unscannable_index := one_rule("MODEL-UNSCANNABLE", "model", "high", "m.bin", {"format": "unknown"})

vuln_evidence(fix) := {"vuln_id": "PYSEC-2023-74", "package": "requests", "version": "2.28.1", "fix_available": fix, "fixed_in": "2.31.0"}

vuln_index(severity, fix) := {"open": {
	"rules": {"VULN-KNOWN": {"check": "vulns", "count": 1, "severities": {severity: {"count": 1, "examples": [v]}}}},
	"vulns": {kind: {severity: {"count": 1, "examples": [v]}}, other: {}},
}} if {
	v := example("VULN-KNOWN", "vulns", severity, "pkg:pypi/requests@2.28.1", vuln_evidence(fix))
	kind := {true: "fixable", false: "unfixable"}[fix]
	other := {true: "unfixable", false: "fixable"}[fix]
}

unaudited_index := one_rule("VULN-UNAUDITED", "vulns", "medium", "flask", {"package": "flask", "reason": "not pinned"})

ntia_index := one_rule("SBOM-NTIA-SUPPLIER", "sbom", "medium", "sbom", {"element": "supplier", "count": 3})

unpinned_index := one_rule("SBOM-UNPINNED-REQUIREMENT", "sbom", "medium", "requirements.txt:1", {})

fresh_db := {"vulnerability_db": {"age_days": 1, "snapshot_date": "2026-11-22"}, "now_ns": 0}

good_signature := {
	"type": "sigstore-bundle", "subject": "app", "verified": true,
	"identity": "https://github.com/example-org/app/.github/workflows/release.yml@refs/tags/v1.2.0",
	"issuer": "https://token.actions.githubusercontent.com",
}

good_provenance := {"verified": true, "trusted_builder": true, "subject_matches": true, "source": {"repository": "https://github.com/example-org/app"}}

no_waivers := {"expired": [], "unused": [], "soonest": [], "applied": {"finding_count": 0, "waiver_count": 0, "examples": []}}

empty_index := {"open": {"rules": {}, "vulns": {"fixable": {}, "unfixable": {}}}}

# deny / warn rule names for a stage with a findings index; everything else clean
denies(stage, index) := r if {
	r := {d.rule | some d in gate.deny} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as fresh_db
		with input.waivers_index as no_waivers
}

warns(stage, index) := r if {
	r := {w.rule | some w in gate.warn} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as fresh_db
		with input.waivers_index as no_waivers
}

# --- a clean artifact passes everywhere ---------------------------------------------------------

test_clean_artifact_is_allowed_at_every_stage if {
	every stage in stages {
		count(denies(stage, empty_index)) == 0
	}
}

# --- model serialization: every stage ----------------------------------------------------------

test_unsafe_model_denied_at_every_stage if {
	every stage in stages {
		denies(stage, pickle_index) == {"model-unsafe"}
	}
}

test_unscannable_model_denied_at_every_stage if {
	every stage in stages {
		denies(stage, unscannable_index) == {"model-unscannable"}
	}
}

test_medium_model_finding_is_not_unsafe if {
	not "model-unsafe" in denies("prod", one_rule("MODEL-PICKLE-IMPORT", "model", "medium", "m.pkl", {}))
}

# --- vulnerabilities ----------------------------------------------------------------------------

test_fixable_high_vuln_warns_dev_denies_staging_and_prod if {
	idx := vuln_index("high", true)
	not "vuln-fixable" in denies("dev", idx)
	denies("staging", idx) == {"vuln-fixable"}
	denies("prod", idx) == {"vuln-fixable"}
}

test_fixable_critical_vuln_warns_at_dev if {
	"vuln-fixable" in warns("dev", vuln_index("critical", true))
}

test_vuln_without_fix_only_warns if {
	idx := vuln_index("critical", false)
	every stage in stages {
		count(denies(stage, idx)) == 0
		"vuln-no-fix" in warns(stage, idx)
	}
}

test_medium_vuln_below_threshold_is_ignored if {
	# (regopy: `not` inside `every` fails, so this counts instead)
	idx := vuln_index("medium", true)
	count({s | some s in stages; "vuln-fixable" in denies(s, idx)}) == 0
	count({s | some s in stages; "vuln-fixable" in warns(s, idx)}) == 0
}

test_unaudited_dependency_blocks_prod_only if {
	denies("prod", unaudited_index) == {"vuln-unaudited"}
	count(denies("staging", unaudited_index)) == 0
	"vuln-unaudited" in warns("staging", unaudited_index)
	count(denies("dev", unaudited_index)) == 0
}

test_missing_vulnerability_db_is_unaudited_for_dependency_kinds if {
	rules := {d.rule | some d in gate.deny} with input.promotion.to as "prod"
		with input.artifact.kind as "requirements"
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as {"now_ns": 0}
	rules == {"vuln-unaudited"}
}

test_missing_vulnerability_db_is_fine_for_a_model if {
	rules := {d.rule | some d in gate.deny} with input.promotion.to as "prod"
		with input.artifact.kind as "model-file"
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as {"now_ns": 0}
	count(rules) == 0
}

test_missing_vulnerability_db_is_unaudited_for_a_model_dir_with_packages if {
	# a model config.json beside a requirements.txt makes the kind "model-dir"; its packages still count
	rules := {d.rule | some d in gate.deny} with input.promotion.to as "prod"
		with input.artifact.kind as "model-dir"
		with input.sbom.summary as {"components": 1, "by_type": {"library": 1}}
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as {"now_ns": 0}
	rules == {"vuln-unaudited"}
}

stale_denies(stage, age) := r if {
	r := {d.rule | some d in gate.deny} with input.promotion.to as stage
		with input.artifact.kind as "requirements"
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as {"vulnerability_db": {"age_days": age, "snapshot_date": "x"}, "now_ns": 0}
}

test_stale_database_blocks_prod if {
	stale_denies("prod", 8) == {"vuln-db-stale"}
	count(stale_denies("prod", 7)) == 0
	count(stale_denies("staging", 30)) == 0
	count(stale_denies("dev", 60)) == 0
	stale_denies("prod", null) == {"vuln-db-stale"}
}

# --- signatures and provenance: prod ------------------------------------------------------------

sig_denies(stage, sigs, provs) := r if {
	r := {d.rule | some d in gate.deny} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as empty_index
		with input.signatures as sigs
		with input.provenance as provs
		with input.context as fresh_db
}

test_prod_requires_a_signature_from_an_allowed_identity if {
	sig_denies("prod", [], [good_provenance]) == {"signature-required"}
	sig_denies("prod", [object.union(good_signature, {"verified": false, "error": "bad digest"})], [good_provenance]) == {"signature-required"}
	sig_denies("prod", [object.union(good_signature, {"identity": "mallory@example.com"})], [good_provenance]) == {"signature-required"}
	sig_denies("prod", [object.union(good_signature, {"issuer": "https://accounts.google.com"})], [good_provenance]) == {"signature-required"}
	count(sig_denies("prod", [good_signature], [good_provenance])) == 0
	count(sig_denies("staging", [], [])) == 0
	count(sig_denies("dev", [], [])) == 0
}

test_prod_requires_trusted_provenance_for_this_artifact if {
	sig_denies("prod", [good_signature], []) == {"provenance-required"}
	sig_denies("prod", [good_signature], [object.union(good_provenance, {"trusted_builder": false})]) == {"provenance-required"}
	sig_denies("prod", [good_signature], [object.union(good_provenance, {"subject_matches": false})]) == {"provenance-required"}
	sig_denies("prod", [good_signature], [object.union(good_provenance, {"verified": false})]) == {"provenance-required"}
}

test_invalid_signature_finding_blocks_staging_and_prod if {
	idx := one_rule("SIGNATURE-INVALID", "signature", "high", "app", {})
	denies("prod", idx) == {"signature-invalid"}
	denies("staging", idx) == {"signature-invalid"}
	"signature-invalid" in warns("dev", idx)
}

# --- licenses -----------------------------------------------------------------------------------

# the alternatives scanner/policy/input.py:license_alternatives gives for these expressions
parsed := {
	"AGPL-3.0-only": [["AGPL-3.0-only"]],
	"agpl-3.0-or-later": [["agpl-3.0-or-later"]],
	"MIT AND AGPL-3.0-only": [["AGPL-3.0-only", "MIT"]],
	"(MIT OR AGPL-3.0+)": [["MIT"], ["AGPL-3.0+"]],
	"AGPL-3.0-only WITH Classpath-exception-2.0": [["AGPL-3.0-only"]],
	"MIT": [["MIT"]],
	"Apache-2.0 OR MIT": [["Apache-2.0"], ["MIT"]],
	"MIT OR AGPL-3.0-only": [["MIT"], ["AGPL-3.0-only"]],
	"GPL-3.0-only": [["GPL-3.0-only"]],
	"LGPL-3.0-or-later": [["LGPL-3.0-or-later"]],
}

license_denies(stage, expr) := r if {
	alts := data.scanner.gate_test.parsed[expr]
	r := {d.rule | some d in gate.deny} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as fresh_db
		with input.sbom.licenses as {expr: {"count": 1, "names": ["lib 1.0"], "alternatives": alts}}
}

test_agpl_denied_at_staging_and_prod_inside_expressions if {
	every expr in ["AGPL-3.0-only", "agpl-3.0-or-later", "MIT AND AGPL-3.0-only", "AGPL-3.0-only WITH Classpath-exception-2.0"] {
		license_denies("prod", expr) == {"license-denied"}
		license_denies("staging", expr) == {"license-denied"}
		count(license_denies("dev", expr)) == 0
	}
}

test_allowed_alternative_and_other_licenses_pass if {
	every expr in ["MIT", "Apache-2.0 OR MIT", "MIT OR AGPL-3.0-only", "(MIT OR AGPL-3.0+)", "GPL-3.0-only", "LGPL-3.0-or-later"] {
		count(license_denies("prod", expr)) == 0
	}
}

# --- SBOM completeness, incomplete checks, other findings -------------------------------------

test_ntia_gaps_block_prod_only if {
	denies("prod", ntia_index) == {"sbom-incomplete"}
	count(denies("staging", ntia_index)) == 0
	"sbom-incomplete" in warns("staging", ntia_index)
	count(denies("dev", ntia_index)) == 0
}

test_incomplete_check_blocks_every_stage if {
	every stage in stages {
		rules := denies(stage, empty_index) with input.checks as {"model": {"complete": false}, "sbom": {"complete": true}}
		rules == {"checks-incomplete"}
	}
}

test_other_medium_finding_blocks_prod_only if {
	denies("prod", unpinned_index) == {"finding-severity"}
	count(denies("staging", unpinned_index)) == 0
	count(denies("dev", unpinned_index)) == 0
}

# --- waivers ------------------------------------------------------------------------------------

waiver_decision(stage, index) := r if {
	r := {"deny": {d.rule | some d in gate.deny}, "warn": {w.rule | some w in gate.warn}} with input.promotion.to as stage
		with input.artifact.kind as "model-dir"
		with input.findings_index as empty_index
		with input.signatures as [good_signature]
		with input.provenance as [good_provenance]
		with input.context as {"now_ns": 1000000000000000000}
		with input.waivers_index as index
}

expired_waiver := {"id": "W-1", "owner": "team", "expires": "2001-01-01", "expires_ns": 978393600000000000}

later_waiver := {"id": "W-2", "owner": "team", "expires": "2099-01-01", "expires_ns": 4070908800000000000}

test_expired_waiver_denies_at_every_stage_naming_it if {
	idx := object.union(no_waivers, {"expired": [expired_waiver]})
	every stage in stages {
		waiver_decision(stage, idx).deny == {"waiver-expired"}
	}
	msgs := [d.message | some d in gate.deny; d.rule == "waiver-expired"] with input.promotion.to as "dev"
		with input.waivers_index as idx
	contains(msgs[0], "W-1 (expired 2001-01-01, owner team)")
}

test_unused_waiver_warns if {
	idx := object.union(no_waivers, {"unused": [later_waiver]})
	every stage in stages {
		count(waiver_decision(stage, idx).deny) == 0
		"waiver-unused" in waiver_decision(stage, idx).warn
	}
}

test_soon_expiring_waiver_warns if {
	soon := object.union(later_waiver, {"expires_ns": 1000000000000000000 + 86400000000000})
	"waiver-expiring" in waiver_decision("prod", object.union(no_waivers, {"soonest": [soon]})).warn
	not "waiver-expiring" in waiver_decision("prod", object.union(no_waivers, {"soonest": [later_waiver]})).warn
}

test_applied_waivers_are_reported_not_denied if {
	idx := object.union(no_waivers, {"applied": {"finding_count": 3, "waiver_count": 1, "examples": [object.union(later_waiver, {"matched_count": 3})]}})
	"waivers-applied" in waiver_decision("prod", idx).warn
	count(waiver_decision("prod", idx).deny) == 0
}

# --- configuration --------------------------------------------------------------------------

test_rule_switched_to_warn_only_warns if {
	rules := denies("prod", pickle_index) with data.scanner.config.stages.prod.rules["model-unsafe"] as "warn"
	count(rules) == 0
	"model-unsafe" in warns("prod", pickle_index) with data.scanner.config.stages.prod.rules["model-unsafe"] as "warn"
}

test_rule_switched_off_is_silent if {
	idx := pickle_index
	count(denies("dev", idx)) == 0 with data.scanner.config.stages.dev.rules["model-unsafe"] as "off"
	count(warns("dev", idx)) == 0 with data.scanner.config.stages.dev.rules["model-unsafe"] as "off"
}

test_unknown_mode_is_enforced_and_reported if {
	rules := denies("dev", vuln_index("critical", true)) with data.scanner.config.stages.dev.rules["vuln-fixable"] as "warning"
	rules == {"vuln-fixable", "config"}
}

test_unconfigured_stage_is_denied if {
	rules := {d.rule | some d in gate.deny} with input.promotion.to as "qa"
	"config" in rules
	not gate.allow with input.promotion.to as "qa"
}

# --- identity regexps are anchored, as in the verifier ---------------------------------------

test_identity_regexp_matches_the_whole_identity if {
	allowed := {"identity_regexp": `alice@example\.com`, "issuer": "https://issuer"}
	gate.identity_allowed({"identity": "alice@example.com", "issuer": "https://issuer"}, allowed)
	not gate.identity_allowed({"identity": "evil-alice@example.com.evil.net", "issuer": "https://issuer"}, allowed)
	not gate.identity_allowed({"identity": "xalice@example.com", "issuer": "https://issuer"}, allowed)
}

# at_or_above is written out (cheaper than computing it in every decision): it must stay what
# severity_rank says, and dedicated() must keep the prefixes' meaning
test_at_or_above_follows_severity_rank if {
	computed := {t: [s | some s in gate.severities; gate.severity_rank[s] >= n] | some t, n in gate.severity_rank}
	gate.at_or_above == computed
}

test_dedicated_rules_by_prefix if {
	gate.dedicated("MODEL-PICKLE-GLOBAL")
	gate.dedicated("SBOM-NTIA-AUTHOR")
	not gate.dedicated("SBOM-UNPINNED-REQUIREMENT")
	not gate.dedicated("XMODEL-")
	not gate.dedicated("")
}
