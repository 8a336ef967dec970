//! Integration tests of vouch-signoff.

mod attest;
mod review;
mod quarterly;
