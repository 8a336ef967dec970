//! Access-review tests.
