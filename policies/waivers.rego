# Waivers: the engine has matched them to findings already (findings carry `waived`). An expired
# waiver is itself a violation naming it; unused and soon-expiring ones are reported; waived
# findings never deny but stay listed.
package scanner.gate

import rego.v1

violation contains {
	"rule": "waiver-expired",
	"message": concat("", [
		"waiver ", w.id, " expired on ", w.expires, " (owner ", w.owner, "): it waives nothing any more",
	]),
	"remediation": "fix the findings it covered, or renew the waiver with a new expiry and approval",
} if {
	some w in object.get(input, "waivers", [])
	w.expired == true
}

violation contains {
	"rule": "waiver-unused",
	"message": concat("", ["waiver ", w.id, " (owner ", w.owner, ") matches no finding"]),
	"remediation": "remove the waiver, or fix its selector",
} if {
	some w in object.get(input, "waivers", [])
	w.unused == true
}

expiry_notice_ns := (object.get(config, ["waivers", "warn_days_before_expiry"], 14) * 86400) * 1000000000

violation contains {
	"rule": "waiver-expiring",
	"message": concat("", ["waiver ", w.id, " (owner ", w.owner, ") expires on ", w.expires]),
	"remediation": "fix the findings it covers before it expires, or renew it",
} if {
	some w in object.get(input, "waivers", [])
	w.expired != true
	w.expires_ns - input.context.now_ns <= expiry_notice_ns
}

violation contains {
	"rule": "waived",
	"message": concat("", [
		format_int(count(w.matched), 10), " finding(s) accepted by waiver ", w.id,
		" (owner ", w.owner, ", until ", w.expires, "): ", w.reason,
	]),
	"remediation": null,
} if {
	some w in object.get(input, "waivers", [])
	count(object.get(w, "matched", [])) > 0
}
