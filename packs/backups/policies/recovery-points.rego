# Seed 004 "Check First Backup": the recovery points created in the period finished and
# are encrypted. Input rows: backups.aws-recovery-points (bin/recovery_points.py). Points
# still CREATING, or EXPIRED / DELETING by their lifecycle, are not failures.
package vouch.backups.recovery_points

import rego.v1

bad_status := {"PARTIAL", "STOPPED"}

problems(p) := {m | p.Status in bad_status; m := sprintf("status %v", [p.Status])} | {m | p.IsEncrypted != true; m := "not encrypted"}

deny contains item if {
	some p in input.rows
	found := problems(p)
	count(found) > 0
	item := {
		"RecoveryPointArn": p.RecoveryPointArn,
		"ResourceArn": object.get(p, "ResourceArn", null),
		"BackupVaultName": object.get(p, "BackupVaultName", null),
		"CreationDate": object.get(p, "CreationDate", null),
		"problems": sort(found),
	}
}

# The recovery points judged: with none, the check is no_evidence, not a pass.
judged contains p.RecoveryPointArn if some p in input.rows
