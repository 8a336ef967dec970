"""NDJSON: one line per AWS Backup plan of the region, with its rules.

Seed 004 "Daily Backups": `aws backup get-backup-plan --backup-plan-id ...` for every plan
that list-backup-plans returns. Each line has the plan's ids and dates, BackupPlanName,
Rules (RuleName, TargetBackupVaultName, ScheduleExpression, Lifecycle, ...) and
AdvancedBackupSettings, as the API returns them.
"""

import sys

sys.dont_write_bytecode = True  # keep the pack directory free of __pycache__
from awsjson import aws, main  # noqa: E402


def collect():
    rows = []
    for item in aws("backup", "list-backup-plans").get("BackupPlansList", []):
        got = aws("backup", "get-backup-plan", "--backup-plan-id", item["BackupPlanId"])
        plan = got.get("BackupPlan", {})
        row = {k: v for k, v in item.items() if k != "AdvancedBackupSettings"}
        row.update({k: v for k, v in got.items() if k not in ("BackupPlan", "ResponseMetadata")})
        row["BackupPlanName"] = plan.get("BackupPlanName", item.get("BackupPlanName"))
        row["Rules"] = plan.get("Rules", [])
        row["AdvancedBackupSettings"] = plan.get("AdvancedBackupSettings", [])
        rows.append(row)
    return rows


if __name__ == "__main__":
    main(collect)
