-- Attestations and collection sign-offs (issue 15): windows, drafts, signed documents.
-- (filled in by the attestation work)
SELECT 1;
