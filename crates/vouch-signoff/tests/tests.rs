//! Integration tests of vouch-signoff.

mod attest;
mod quarterly;
mod review;
