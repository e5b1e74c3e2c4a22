# Waivers: the engine has matched them to findings already (findings carry `waived`) and
# summarised them in `waivers_index`. Expired waivers are a violation naming each of them;
# unused and soon-expiring ones are reported; the waived findings never deny but are counted
# here (and listed, marked waived, in every report). One violation per rule lists every waiver
# concerned.
package scanner.gate

import rego.v1

default waivers_index := {}

waivers_index := input.waivers_index

expired_waivers := [concat("", [w.id, " (expired ", w.expires, ", owner ", w.owner, ")"]) |
	some w in object.get(waivers_index, "expired", [])
]

violation contains {
	"rule": "waiver-expired",
	"message": concat("", [
		format_int(count(expired_waivers), 10), " expired waiver(s) waive nothing any more: ",
		concat("; ", expired_waivers),
	]),
	"remediation": "fix what they covered, or renew them with a new expiry and approval",
} if count(expired_waivers) > 0

unused_waivers := [concat("", [w.id, " (owner ", w.owner, ")"]) |
	some w in object.get(waivers_index, "unused", [])
]

violation contains {
	"rule": "waiver-unused",
	"message": concat("", [
		format_int(count(unused_waivers), 10), " waiver(s) match no finding: ",
		concat("; ", unused_waivers),
	]),
	"remediation": "remove them, or fix their selectors",
} if count(unused_waivers) > 0

expiry_notice_ns := (object.get(config, "waiver_notice_days", 14) * 86400) * 1000000000

expiring_waivers := [concat("", [w.id, " (", w.expires, ", owner ", w.owner, ")"]) |
	some w in object.get(waivers_index, "soonest", [])
	w.expires_ns - input.context.now_ns <= expiry_notice_ns
]

violation contains {
	"rule": "waiver-expiring",
	"message": concat("", [
		format_int(count(expiring_waivers), 10), " waiver(s) expire soon: ",
		concat("; ", expiring_waivers),
	]),
	"remediation": "fix what they cover before they expire, or renew them",
} if count(expiring_waivers) > 0

applied := object.get(waivers_index, "applied", {"finding_count": 0, "waiver_count": 0, "examples": []})

violation contains {
	"rule": "waivers-applied",
	"message": concat("", [
		format_int(applied.finding_count, 10), " finding(s) accepted by ", format_int(applied.waiver_count, 10), " waiver(s): ",
		concat("; ", [concat("", [w.id, " x", format_int(w.matched_count, 10), " (", w.owner, ", until ", w.expires, ")"]) |
			some w in applied.examples
		]),
		more_text(applied.waiver_count - count(applied.examples)),
	]),
	"remediation": null,
} if applied.finding_count > 0
