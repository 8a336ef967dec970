# Seed 004 "Audit Logging": every EKS cluster sends its control-plane `api` and `audit`
# logs to CloudWatch. Input rows: aws.eks-control-plane-logging (bin/eks_clusters.py),
# whose enabledLogTypes lists the log types turned on. Add types to `required` to demand
# more (authenticator, controllerManager, scheduler).
package vouch.aws.eks_logging

import rego.v1

required := {"api", "audit"}

deny contains item if {
	some c in input.rows
	enabled := {t | some t in c.enabledLogTypes}
	missing := required - enabled
	count(missing) > 0
	item := {"cluster": c.name, "missing": sort(missing), "enabled": sort(enabled)}
}

# The clusters judged: with none (a wrong AWS_REGION or account), the check is
# no_evidence, not a pass over nothing.
judged contains c.name if some c in input.rows
