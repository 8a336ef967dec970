//! C2SP signed-note (Ed25519) and tlog-checkpoint.
//!
//! Key id = first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`; a signature
//! line is `— <name> base64(key id ‖ signature)`; the signed message is the note text
//! up to and including its last newline before the blank line.

use crate::{b64, unb64, Hash};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// Why a signed note or key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// The note's text does not have the signed-note shape.
    Malformed(String),
    /// A key or verifier string is invalid or its key id does not match.
    BadKey(String),
    /// The note carries no signature by the named key.
    NoSignature(String),
    /// The named key's signature does not verify.
    BadSignature(String),
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::Malformed(m) => write!(f, "malformed note: {m}"),
            NoteError::BadKey(m) => write!(f, "bad key: {m}"),
            NoteError::NoSignature(m) => write!(f, "no signature by {m}"),
            NoteError::BadSignature(m) => write!(f, "signature by {m} does not verify"),
        }
    }
}

impl std::error::Error for NoteError {}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An Ed25519 note signer.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl NoteSigner {
    /// A fresh random key named `name` (no spaces or `+`).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(format!(
                "invalid key name `{name}` (no spaces or `+`)"
            )));
        }
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(NoteSigner {
            name: name.to_string(),
            key,
        })
    }

    /// Parse `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`.
    pub fn from_skey(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::BadKey("expected PRIVATE+KEY+<name>+<id>+<key>".into()))?;
        // Names cannot contain `+`; base64 can, so split from the left.
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        if parts.len() != 3 {
            return Err(NoteError::BadKey(
                "expected PRIVATE+KEY+<name>+<id>+<key>".into(),
            ));
        }
        let (name, idhex, keyb64) = (parts[0], parts[1], parts[2]);
        let raw = unb64(keyb64).ok_or_else(|| NoteError::BadKey("key is not base64".into()))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadKey("not an Ed25519 signed-note key".into()));
        }
        let seed: [u8; 32] = raw[1..].try_into().expect("32 bytes");
        let key = SigningKey::from_bytes(&seed);
        let signer = NoteSigner {
            name: name.to_string(),
            key,
        };
        if hex::encode(signer.key_id()) != idhex {
            return Err(NoteError::BadKey("key id does not match the key".into()));
        }
        Ok(signer)
    }

    /// The private key in signed-note form (secret: write to a 0600 file only).
    pub fn to_skey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            b64(&raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id: the first 4 bytes of SHA-256(name ‖ `
    /// ` ‖ 0x01 ‖ public key).
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.key.verifying_key().as_bytes())
    }

    /// The verifier for this key's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Sign a note body (which must end in a newline) and return the whole note.
    pub fn sign(&self, body: &str) -> String {
        debug_assert!(body.ends_with('\n'));
        let sig = self.key.sign(body.as_bytes());
        let mut blob = self.key_id().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n{DASH}{} {}\n", self.name, b64(&blob))
    }
}

/// An Ed25519 note verifier, `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parse a verifier key string, checking that its key id matches the key.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let parts: Vec<&str> = text.trim().splitn(3, '+').collect();
        if parts.len() != 3 {
            return Err(NoteError::BadKey(
                "expected <name>+<key id>+<base64 key>".into(),
            ));
        }
        let (name, idhex, keyb64) = (parts[0], parts[1], parts[2]);
        let raw = unb64(keyb64).ok_or_else(|| NoteError::BadKey("key is not base64".into()))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadKey("not an Ed25519 verifier key".into()));
        }
        let pk: [u8; 32] = raw[1..].try_into().expect("32 bytes");
        let key = VerifyingKey::from_bytes(&pk)
            .map_err(|_| NoteError::BadKey("invalid Ed25519 point".into()))?;
        let v = NoteVerifier {
            name: name.to_string(),
            key,
        };
        if hex::encode(v.key_id()) != idhex {
            return Err(NoteError::BadKey("key id does not match the key".into()));
        }
        Ok(v)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id: the first 4 bytes of SHA-256(name ‖ `
    /// ` ‖ 0x01 ‖ public key).
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.key.as_bytes())
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        *self.key.as_bytes()
    }

    /// The verifier key string any C2SP implementation accepts.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.key_id()), b64(&raw))
    }

    /// Verify a note; returns its body when a signature line by this key verifies.
    /// Signature lines by other keys are ignored (they may be witnesses' cosignatures).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note
            .find("\n\n")
            .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
        let body = &note[..split + 1];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block does not end in a newline".into(),
            ));
        }
        let my_id = self.key_id();
        let mut found = false;
        for line in sigs.lines() {
            let rest = line
                .strip_prefix(DASH)
                .ok_or_else(|| NoteError::Malformed(format!("bad signature line `{line}`")))?;
            let (name, sig64) = rest
                .split_once(' ')
                .ok_or_else(|| NoteError::Malformed(format!("bad signature line `{line}`")))?;
            let blob = unb64(sig64)
                .ok_or_else(|| NoteError::Malformed("signature is not base64".into()))?;
            if name != self.name || blob.len() < 4 || blob[..4] != my_id {
                continue;
            }
            found = true;
            let sig = ed25519_dalek::Signature::from_slice(&blob[4..])
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            self.key
                .verify(body.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        }
        if !found {
            return Err(NoteError::NoSignature(format!(
                "{} ({})",
                self.name,
                hex::encode(my_id)
            )));
        }
        Ok(body)
    }
}

/// A tlog-checkpoint body: origin, tree size, root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (its name).
    pub origin: String,
    /// Number of leaves the checkpoint commits to.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: origin, size and base64 root, one per line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, b64(&self.root))
    }

    /// Parse a checkpoint body (extension lines are allowed and ignored).
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| NoteError::Malformed("missing origin line".into()))?;
        let size = lines
            .next()
            .and_then(|l| (!l.starts_with('+') && !l.starts_with('0') || l == "0").then_some(l))
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| NoteError::Malformed("bad tree size line".into()))?;
        let root = lines
            .next()
            .and_then(crate::unb64_hash)
            .ok_or_else(|| NoteError::Malformed("bad root hash line".into()))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Verify a signed checkpoint note and parse it.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let body = verifier.open(note)?;
        Checkpoint::parse_body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_roundtrip_and_tamper() {
        let s = NoteSigner::generate("example.com/vouch/audit").unwrap();
        let v = NoteVerifier::parse(&s.verifier().to_vkey()).unwrap();
        let cp = Checkpoint {
            origin: "example.com/vouch/audit".into(),
            size: 42,
            root: [7u8; 32],
        };
        let note = s.sign(&cp.body());
        assert!(note.contains("\n\n\u{2014} example.com/vouch/audit "));
        assert_eq!(Checkpoint::open(&note, &v).unwrap(), cp);
        let forged = note.replace("\n42\n", "\n43\n");
        assert!(matches!(
            Checkpoint::open(&forged, &v),
            Err(NoteError::BadSignature(_))
        ));
        let other = NoteSigner::generate("example.com/vouch/audit").unwrap();
        assert!(matches!(
            Checkpoint::open(&other.sign(&cp.body()), &v),
            Err(NoteError::NoSignature(_))
        ));
        let s2 = NoteSigner::from_skey(&s.to_skey()).unwrap();
        assert_eq!(s2.verifier(), s.verifier());
    }

    #[test]
    fn go_sumdb_known_key_id() {
        // Verifier key published by golang.org/x/mod/sumdb/note's examples.
        let v = NoteVerifier::parse(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(hex::encode(v.key_id()), "c74f20a3");
        let note = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        assert!(v.open(note).is_ok());
    }
}
