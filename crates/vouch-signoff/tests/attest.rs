//! Attestation tests.
