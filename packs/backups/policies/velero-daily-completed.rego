# Seed 001 step 4: every UTC day of the period has at least one Velero backup that
# Completed, judged by when it started (status.startTimestamp, else
# metadata.creationTimestamp). A day whose only backups Failed or PartiallyFailed has no
# usable backup and is reported, with the backups it had.
#
# Velero deletes a backup when its TTL (spec.ttl, 720h by default) runs out, and the
# evidence is what still exists when collected: a day whose backups expired before the
# collection is reported as missing too. Collect before the backups of the period's first
# day expire: with the default 30-day TTL, use weekly periods; for monthly periods, a TTL
# of at least the month plus the delay before collecting (e.g. 40 days).
package vouch.backups.velero_daily_completed

import rego.v1

ns_per_day := 86400000000000

period_start := time.parse_rfc3339_ns(input.period.start)

# Judged up to the reference time: min(period end, now), which vouch passes as
# input.reference_time. A period not over yet has no backups for its future days.
period_end := time.parse_rfc3339_ns(object.get(input, "reference_time", input.period.end))

started(b) := b.status.startTimestamp if is_string(b.status.startTimestamp)

started(b) := b.metadata.creationTimestamp if not is_string(b.status.startTimestamp)

# The UTC date of a time, as "YYYY-MM-DD".
date(ns) := substring(time.format(ns), 0, 10)

# Every whole day of the period up to the reference time (today, still running, is not
# judged until it is over).
whole_days := floor((period_end - period_start) / ns_per_day)

days := [date(period_start + i * ns_per_day) |
	whole_days > 0
	some i in numbers.range(0, whole_days - 1)
]

backups_on(day) := [sprintf("%v (%v)", [b.metadata.name, b.status.phase]) |
	some b in input.rows
	date(time.parse_rfc3339_ns(started(b))) == day
]

completed_on contains day if {
	some b in input.rows
	b.status.phase == "Completed"
	day := date(time.parse_rfc3339_ns(started(b)))
}

deny contains item if {
	some day in days
	not day in completed_on
	item := {"day": day, "backups": backups_on(day)}
}

# The whole days judged: before the first whole day ends there is nothing to judge.
judged := count(days)
