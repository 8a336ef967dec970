//! Attestations: windows, drafts pre-filled from check results, signing, lateness.
