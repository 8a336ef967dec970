# Seed 004 "Daily Backups": at least one backup rule runs every day, and no rule keeps its
# recovery points for less than the policy minimum.
# Input rows: backup plans, one per plan with `Rules` (ScheduleExpression,
# Lifecycle.DeleteAfterDays, TargetBackupVaultName), as bin/backup_plans.py prints them.
#
# EDIT `min_retention_days` to your backup policy's minimum (seed 004: 7 days). A rule
# without Lifecycle.DeleteAfterDays keeps its recovery points until deleted by hand, which
# meets any minimum.
package vouch.aws.backup_daily_rule

import rego.v1

min_retention_days := 7

# AWS Backup schedules are cron(minutes hours day-of-month month day-of-week year): daily
# when day of month, month and day of week are all unrestricted (`*` or `?`).
daily(expr) if {
	is_string(expr)
	startswith(expr, "cron(")
	fields := split(trim_space(trim_suffix(trim_prefix(expr, "cron("), ")")), " ")
	count(fields) == 6
	fields[2] in {"*", "?"}
	fields[3] in {"*", "?"}
	fields[4] in {"*", "?"}
}

is_daily(expr) := true if daily(expr)

is_daily(expr) := false if not daily(expr)

delete_after(rule) := rule.Lifecycle.DeleteAfterDays if is_number(rule.Lifecycle.DeleteAfterDays)

delete_after(rule) := null if not is_number(rule.Lifecycle.DeleteAfterDays)

rules contains r if {
	some p in input.rows
	some rule in p.Rules
	r := {
		"BackupPlanName": p.BackupPlanName,
		"RuleName": rule.RuleName,
		"ScheduleExpression": object.get(rule, "ScheduleExpression", null),
		"DeleteAfterDays": delete_after(rule),
		"daily": is_daily(object.get(rule, "ScheduleExpression", null)),
	}
}

daily_rules := {r | some r in rules; r.daily}

deny contains item if {
	count(daily_rules) == 0
	item := {
		"problem": "no backup rule runs every day",
		"rules": sort(rules),
	}
}

deny contains item if {
	some p in input.rows
	some rule in p.Rules
	days := delete_after(rule)
	days != null
	days < min_retention_days
	item := {
		"problem": sprintf("keeps recovery points %v days, less than the policy's %v", [days, min_retention_days]),
		"BackupPlanName": p.BackupPlanName,
		"RuleName": rule.RuleName,
		"ScheduleExpression": object.get(rule, "ScheduleExpression", null),
	}
}

# The plans judged (an empty inventory already fails: no daily rule).
judged contains p.BackupPlanName if some p in input.rows
