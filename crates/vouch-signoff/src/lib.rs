//! Sign-offs: the layer where a person puts their name to what vouch collected and
//! judged. Attestations (seed 002's quarterly operator attestation, seed 001's
//! collection sign-off and quarterly review) and access-review campaigns (seed 003).
//! Every step is a ledger event; signed documents are canonical JSON signed with vouch's
//! key (and optionally the signer's SSH or OpenPGP key).

pub mod attest;
pub mod review;
