# Seed 002 step 2: the compliance auditors group holds only the people the current
# authorization memo names (docs/ops/attestation-log/ in the seed), or no one.
#
# EDIT `authorized` to match your memo: lower-case e-mail addresses. An empty set,
# `authorized := set()`, means the group must be empty (seed 002's "provisioned empty until
# an external auditor is engaged"). The address below is the sample data's engaged auditor.
# Changing the list changes the check's definition hash, so each result names the list it
# was judged against.
package vouch.rbac.authorized_auditors

import rego.v1

authorized := {"erin.walsh@auditors.example"}

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
