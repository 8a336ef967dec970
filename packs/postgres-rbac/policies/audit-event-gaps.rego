# Seed 002 step 6: no gap longer than `max_gap_hours` between consecutive audit events
# over the evidence window, unless a documented maintenance window accounts for it.
# Input rows: rbac.audit-events-daily, one per UTC day with `events`, `first_event` and
# `last_event` (NULL on a day without events). The window runs from the first row's day
# (00:00 UTC) to the reference time (input.reference_time: min(period end, now), so a
# period still running is not judged on days to come); its edges count as events, so a
# silent start or end of the window is a gap too.
#
# max_gap_hours and maintenance_windows are the pack's parameters (input.params), set in
# vouch.toml: [packs.postgres-rbac] params = { maintenance_windows = [
#   { id = "MW-2026-05", start = "2026-05-11T22:00:00Z", end = "2026-05-14T02:00:00Z",
#     reason = "CHG-1302: database major-version upgrade, audit writes paused" } ] }
#
# Why Rego and not `kind = "max_gap"`: max_gap reads one timestamp per row and stops with
# an error on the NULL first_event of an empty day, and a day's first and last event both
# matter (the gap runs from one day's last event to the next day's first).
package vouch.rbac.audit_event_gaps

import rego.v1

params := object.get(input, "params", {})

max_gap_hours := object.get(params, "max_gap_hours", 24)

# Documented maintenance windows (RFC 3339). A gap is explained when a window covers all
# of it except at most max_gap_hours at either end.
maintenance := object.get(params, "maintenance_windows", [])

reference := time.parse_rfc3339_ns(object.get(input, "reference_time", input.period.end))

ns_per_hour := 3600000000000

max_gap_ns := max_gap_hours * ns_per_hour

events := [t |
	some r in input.rows
	r.first_event != null
	some f in ["first_event", "last_event"]
	t := time.parse_rfc3339_ns(r[f])
	t <= reference
]

first_day := min({r.day | some r in input.rows})

points := sort(array.concat(
	array.concat([time.parse_rfc3339_ns(sprintf("%vT00:00:00Z", [first_day]))], events),
	[reference],
))

explained(a, b) if {
	some m in maintenance
	time.parse_rfc3339_ns(m.start) <= a + max_gap_ns
	time.parse_rfc3339_ns(m.end) >= b - max_gap_ns
}

deny contains item if {
	some i in numbers.range(0, count(points) - 2)
	a := points[i]
	b := points[i + 1]
	b - a > max_gap_ns
	not explained(a, b)
	item := {
		"gap_from": time.format(a),
		"gap_to": time.format(b),
		"hours": round((b - a) / (ns_per_hour / 10)) / 10,
	}
}

deny contains "no daily rows: the evidence covers no day" if count(input.rows) == 0
