# Seed 002 step 7: every grant of the compliance or admin role names a documented change
# window and falls inside it. Input rows: rbac.privileged-grant-changes, with each grant's
# change_window_id. The documented windows are the pack's `change_windows` parameter
# (input.params.change_windows: {"id", "start", "end"} in RFC 3339), kept in vouch.toml
# from the change-management log. Windows are half-open: [start, end).
package vouch.rbac.grants_in_change_windows

import rego.v1

windows := {w.id: w | some w in object.get(object.get(input, "params", {}), "change_windows", [])}

problem(r) := "no change window id" if r.change_window_id == null

problem(r) := sprintf("change window %v is not a documented change window", [r.change_window_id]) if {
	r.change_window_id != null
	not windows[r.change_window_id]
}

problem(r) := sprintf("granted outside change window %v (%v to %v)", [r.change_window_id, w.start, w.end]) if {
	r.change_window_id != null
	w := windows[r.change_window_id]
	not inside(r, w)
}

inside(r, w) if {
	t := time.parse_rfc3339_ns(r.granted_at)
	time.parse_rfc3339_ns(w.start) <= t
	t < time.parse_rfc3339_ns(w.end)
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
