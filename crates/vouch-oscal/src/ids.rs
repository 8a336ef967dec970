//! Deterministic identifiers: RFC 9562 name-based UUIDs (version 5, SHA-1) under a fixed
//! vouch namespace, so exporting the same data twice gives the same documents.

use sha1::{Digest, Sha1};
use uuid::{Builder, Uuid};

/// The namespace of every vouch OSCAL identifier: UUIDv5 of [`crate::NS`] in the URL
/// namespace of RFC 9562.
pub fn namespace() -> Uuid {
    v5(&Uuid::NAMESPACE_URL, crate::NS)
}

/// The UUIDv5 of `name` in `namespace` (RFC 9562 section 5.5).
pub fn v5(namespace: &Uuid, name: &str) -> Uuid {
    let mut h = Sha1::new();
    h.update(namespace.as_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The identifier of a thing named by `parts` (joined with `|`) in the vouch namespace.
pub fn id(parts: &[&str]) -> String {
    v5(&namespace(), &parts.join("|")).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_9562_example() {
        // RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
        assert_eq!(
            v5(&Uuid::NAMESPACE_DNS, "www.example.com").to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }

    #[test]
    fn names_differ_and_repeat() {
        assert_eq!(id(&["a", "b"]), id(&["a", "b"]));
        assert_ne!(id(&["a", "b"]), id(&["a", "c"]));
        assert_eq!(Uuid::parse_str(&id(&["x"])).unwrap().get_version_num(), 5);
    }
}
