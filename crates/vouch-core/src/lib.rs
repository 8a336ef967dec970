//! Pure types and logic for vouch. Nothing in this crate does I/O: it is the part of
//! the system an independent verifier could re-implement from the specification, and
//! every format here is tested against published vectors or a second implementation.

/// vouch's version (the workspace's), stamped into everything it produces.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod canonical;
pub mod chain;
pub mod checks;
pub mod event;
pub mod merkle;
pub mod note;
pub mod period;
pub mod tsc;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Standard base64 (RFC 4648 §4), the encoding every C2SP format uses.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode standard base64.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// Decode a base64 SHA-256 hash.
pub fn unb64_hash(text: &str) -> Option<Hash> {
    unb64(text).and_then(|v| v.try_into().ok())
}
