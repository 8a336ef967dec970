# Seed 002 step 3: every monthly audit-chain verification run of the window is clean.
# Input rows: rbac.integrity-monthly-runs. One failing item per run that is not, naming
# everything wrong with it.
package vouch.rbac.integrity_runs

import rego.v1

issues(r) := (((({m | r.result != "pass"; m := sprintf("result is %v, not pass", [r.result])} |
	{m | to_number(r.errors) != 0; m := sprintf("%v error(s)", [r.errors])}) |
	{m | r.chain_error != null; m := sprintf("chain_error: %v", [r.chain_error])}) |
	{m | r.kms_error != null; m := sprintf("kms_error: %v", [r.kms_error])}) |
	{m | r.completed_at == null; m := "never completed"})

deny contains item if {
	some r in input.rows
	found := issues(r)
	count(found) > 0
	item := {"run_id": r.run_id, "started_at": r.started_at, "issues": sort(found)}
}
