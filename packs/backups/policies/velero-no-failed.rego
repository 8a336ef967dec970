# Seed 001 step 4: no Velero backup started in the period ended Failed, PartiallyFailed or
# FailedValidation. The evidence lists every backup the cluster still holds, whatever its
# date; only those started inside the period are judged here, so a failure is reported for
# the period it happened in. Accepting a finding (`vouch findings update ID --status
# accepted --note ...`) is how a failure is explained.
package vouch.backups.velero_no_failed

import rego.v1

failed_phases := {"Failed", "PartiallyFailed", "FailedValidation"}

started(b) := b.status.startTimestamp if is_string(b.status.startTimestamp)

started(b) := b.metadata.creationTimestamp if not is_string(b.status.startTimestamp)

deny contains item if {
	some b in input.rows
	b.status.phase in failed_phases
	t := time.parse_rfc3339_ns(started(b))
	time.parse_rfc3339_ns(input.period.start) <= t
	t < time.parse_rfc3339_ns(input.period.end)
	item := {
		"name": b.metadata.name,
		"phase": b.status.phase,
		"started": started(b),
		"schedule": object.get(object.get(b.metadata, "labels", {}), "velero.io/schedule-name", null),
		"errors": object.get(b.status, "errors", 0),
		"warnings": object.get(b.status, "warnings", 0),
		"failureReason": object.get(b.status, "failureReason", null),
	}
}

# The backups of the period judged: with none, the check is no_evidence, not a pass.
judged contains b.metadata.name if {
	some b in input.rows
	t := time.parse_rfc3339_ns(started(b))
	time.parse_rfc3339_ns(input.period.start) <= t
	t < time.parse_rfc3339_ns(input.period.end)
}
