# Signatures and provenance: a verified signature from an allowed identity, and verified
# provenance from a trusted builder for this artifact. Required for prod by default.
package scanner.gate

import rego.v1

allowed_identities := object.get(config, ["signatures", "allowed_identities"], [])

identity_allowed(sig, allowed) if {
	sig.identity == allowed.identity
	issuer_allowed(sig, allowed)
}

identity_allowed(sig, allowed) if {
	is_string(allowed.identity_regexp)
	is_string(sig.identity)
	# anchored, as in the verifier: the regexp must match the whole identity, not a part of it
	regex.match(concat("", ["^(?:", allowed.identity_regexp, ")$"]), sig.identity)
	issuer_allowed(sig, allowed)
}

issuer_allowed(_, allowed) if not allowed.issuer

issuer_allowed(sig, allowed) if sig.issuer == allowed.issuer

default signatures := []

signatures := input.signatures

default provenance := []

provenance := input.provenance

verified_signatures := [s | some s in signatures; s.verified == true]

signed_by_allowed_identity if {
	some s in verified_signatures
	some allowed in allowed_identities
	identity_allowed(s, allowed)
}

violation contains {
	"rule": "signature-required",
	"message": signature_problem,
	"remediation": "sign the artifact in CI (sigstore / model-signing) with an identity listed in data.scanner.config.signatures.allowed_identities",
} if not signed_by_allowed_identity

signature_problem := "no signature found for the artifact" if {
	count(signatures) == 0
} else := concat("", [
	"no signature verified (", concat("; ", [text(object.get(s, "error", "unknown error")) | some s in signatures]), ")",
]) if {
	count(verified_signatures) == 0
} else := concat("", [
	"verified signature(s) by ",
	concat(", ", [concat("", [text(s.identity), " (issuer ", text(object.get(s, "issuer", null)), ")"]) | some s in verified_signatures]),
	" but none from an allowed identity",
])

invalid_signatures := rule_keys("SIGNATURE-INVALID")

violation contains {
	"rule": "signature-invalid",
	"message": concat("", [n_text(invalid_signatures), " signature(s) failed verification: ", examples(invalid_signatures)]),
	"remediation": "the artifact or its signature changed after signing: rebuild and re-sign, and find out why",
} if count(invalid_signatures) > 0

source_repositories := object.get(config, ["provenance", "source_repositories"], [])

source_allowed(_) if count(source_repositories) == 0

source_allowed(p) if {
	some pattern in source_repositories
	glob.match(pattern, ["/"], p.source.repository)
}

trusted_provenance if {
	some p in provenance
	p.verified == true
	p.trusted_builder == true
	p.subject_matches == true
	source_allowed(p)
}

violation contains {
	"rule": "provenance-required",
	"message": provenance_problem,
	"remediation": "publish SLSA provenance from a builder listed in data.scanner.config.provenance.trusted_builders for this exact artifact",
} if not trusted_provenance

provenance_problem := "no provenance found for the artifact" if {
	count(provenance) == 0
} else := concat("; ", [provenance_describe(p) | some p in provenance])

provenance_describe(p) := concat("", ["provenance not verified: ", text(object.get(p, "error", "unknown error"))]) if {
	p.verified != true
} else := concat("", ["builder ", text(object.get(p, "builder_id", null)), " is not trusted"]) if {
	p.trusted_builder != true
} else := "provenance subject does not match the artifact" if {
	p.subject_matches != true
} else := concat("", ["source repository ", text(object.get(p.source, "repository", null)), " is not allowed"])

invalid_provenance := rule_keys("PROVENANCE-INVALID")

violation contains {
	"rule": "provenance-invalid",
	"message": concat("", [n_text(invalid_provenance), " provenance statement(s) failed verification: ", examples(invalid_provenance)]),
	"remediation": "regenerate the provenance with the build that produced this artifact",
} if count(invalid_provenance) > 0
