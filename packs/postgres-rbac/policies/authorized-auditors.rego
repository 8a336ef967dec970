# Seed 002 step 2: the compliance auditors group holds only the people the current
# authorization memo names (docs/ops/attestation-log/ in the seed), or no one.
#
# The list is the pack's `authorized_auditors` parameter (input.params), set in vouch.toml:
#   [packs.postgres-rbac]
#   params = { authorized_auditors = ["erin.walsh@auditors.example"] }
# An empty list (the default) means the group must be empty: seed 002's "provisioned
# empty until an external auditor is engaged". The list is part of the check's definition
# hash, so each result names the list it was judged against.
package vouch.rbac.authorized_auditors

import rego.v1

authorized := {lower(e) | some e in object.get(object.get(input, "params", {}), "authorized_auditors", [])}

deny contains item if {
	some r in input.rows
	not lower(r.email) in authorized
	item := {
		"email": r.email,
		"granted_at": r.granted_at,
		"granted_by": r.granted_by,
		"problem": "not named in the authorization memo",
	}
}
