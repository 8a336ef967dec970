# Seed 004 "Key Rotation": every enabled customer-managed KMS key rotates automatically.
# Input rows: aws.kms-keys (bin/kms_keys.py). AWS-managed keys (KeyManager AWS) rotate on
# AWS's schedule and disabled keys encrypt nothing, so neither is judged. Keys for which
# automatic rotation does not exist (asymmetric, HMAC, imported or custom-key-store key
# material: RotationStatusError "not applicable: ...") are left out too: rotate those by
# hand and keep that evidence separately.
package vouch.aws.kms_rotation

import rego.v1

not_applicable(k) if {
	is_string(k.RotationStatusError)
	startswith(k.RotationStatusError, "not applicable")
}

deny contains item if {
	some k in input.rows
	k.KeyManager == "CUSTOMER"
	k.KeyState == "Enabled"
	k.KeyRotationEnabled != true
	not not_applicable(k)
	item := {
		"KeyId": k.KeyId,
		"Arn": k.Arn,
		"Aliases": k.Aliases,
		"KeyRotationEnabled": k.KeyRotationEnabled,
		"RotationStatusError": k.RotationStatusError,
	}
}

# The keys judged: with none (a wrong AWS_REGION or account, or no customer key), the check
# is no_evidence, not a pass over nothing.
judged contains k.KeyId if {
	some k in input.rows
	k.KeyManager == "CUSTOMER"
	k.KeyState == "Enabled"
	not not_applicable(k)
}
