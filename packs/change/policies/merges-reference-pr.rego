# Every merge commit on the default branch came from a pull request: its subject names one
# ("Merge pull request #42 from owner/branch", GitHub's merge-commit message; or "(#42)").
# A merge without one was made locally and pushed, bypassing review. Input rows:
# change.merge-commits. With squash or rebase merges there are no merge commits and
# nothing is judged; compare change.commits with change.merged-prs instead.
package vouch.change.merges_reference_pr

import rego.v1

pr_reference := `(?i)(pull request #[0-9]+|\(#[0-9]+\))`

deny contains item if {
	some c in input.rows
	not regex.match(pr_reference, c.subject)
	item := {
		"sha": c.sha,
		"subject": c.subject,
		"author": object.get(c, ["author", "email"], null),
		"committer": object.get(c, ["committer", "email"], null),
		"committed_at": object.get(c, ["committer", "date"], null),
	}
}

# The merge commits judged: a period without any is no_evidence, not a pass.
judged contains c.sha if some c in input.rows
