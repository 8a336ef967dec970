//! Integration tests of vouch-incidents.
