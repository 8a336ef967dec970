# Seed 002 step 7: every grant of the compliance or admin role names a documented change
# window and falls inside it. Input rows: rbac.privileged-grant-changes, which carries each
# grant's change_window_id and that window's bounds (window_starts_at / window_ends_at,
# NULL when no change_windows row has that id). Windows are half-open: [starts_at, ends_at).
package vouch.rbac.grants_in_change_windows

import rego.v1

problem(r) := "no change window id" if r.change_window_id == null

problem(r) := sprintf("change window %v is not in change_windows", [r.change_window_id]) if {
	r.change_window_id != null
	r.window_starts_at == null
}

problem(r) := sprintf("granted outside change window %v (%v to %v)", [r.change_window_id, r.window_starts_at, r.window_ends_at]) if {
	r.change_window_id != null
	r.window_starts_at != null
	not inside(r)
}

inside(r) if {
	t := time.parse_rfc3339_ns(r.granted_at)
	time.parse_rfc3339_ns(r.window_starts_at) <= t
	t < time.parse_rfc3339_ns(r.window_ends_at)
}

deny contains item if {
	some r in input.rows
	p := problem(r)
	item := {
		"role": r.role,
		"email": r.email,
		"group_name": r.group_name,
		"granted_at": r.granted_at,
		"granted_by": r.granted_by,
		"change_window_id": r.change_window_id,
		"problem": p,
	}
}
