//! C2SP tlog-cosignature, Ed25519 `cosignature/v1` (signature type 0x04).
//!
//! Key id = first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)`. A cosignature
//! line is `— <name> base64(key id ‖ u64 BE timestamp ‖ Ed25519 signature)`; the signed
//! message is `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note
//! body (up to and including its last newline, without signature lines).

use crate::WitnessError;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use vouch_core::{b64, unb64};

/// The signature type byte of timestamped Ed25519 cosignatures (c2sp.org/signed-note).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The em dash and space that start a note signature line.
pub const DASH: &str = "\u{2014} ";

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_COSIGNATURE_V1]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The message a `cosignature/v1` signs.
pub fn signed_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's signing key.
#[derive(Clone)]
pub struct CosignerKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "CosignerKey({})", self.name)
    }
}

impl CosignerKey {
    /// A fresh random key named `name` (a schema-less URL: no spaces or `+`).
    pub fn generate(name: &str) -> Result<Self, WitnessError> {
        if !valid_name(name) {
            return Err(WitnessError::BadKey(format!(
                "invalid witness name `{name}` (no spaces or `+`)"
            )));
        }
        Ok(CosignerKey {
            name: name.to_string(),
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        })
    }

    /// Parse `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 ‖ seed)>`.
    pub fn from_skey(text: &str) -> Result<Self, WitnessError> {
        let bad = || {
            WitnessError::BadKey("expected PRIVATE+KEY+<name>+<id>+<base64 key> (type 0x04)".into())
        };
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let raw = unb64(parts[2]).ok_or_else(bad)?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(bad());
        }
        let seed: [u8; 32] = raw[1..].try_into().expect("32 bytes");
        let k = CosignerKey {
            name: parts[0].to_string(),
            key: SigningKey::from_bytes(&seed),
        };
        if hex::encode(k.key_id()) != parts[1] {
            return Err(WitnessError::BadKey("key id does not match the key".into()));
        }
        Ok(k)
    }

    /// The private key text (secret: write to a 0600 file only).
    pub fn to_skey(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            b64(&raw)
        )
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type 0x04).
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.key.verifying_key().as_bytes())
    }

    /// The public verifier key.
    pub fn verifier(&self) -> CosignerVerifier {
        CosignerVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line (with its final newline) over a checkpoint body at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let sig = self.key.sign(signed_message(body, timestamp).as_bytes());
        let mut blob = self.key_id().to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("{DASH}{} {}\n", self.name, b64(&blob))
    }
}

/// A witness's public key, as a vkey `<name>+<hex key id>+<base64(0x04 ‖ public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerVerifier {
    name: String,
    key: VerifyingKey,
}

/// A cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness name.
    pub witness: String,
    /// When the witness signed (POSIX seconds).
    pub timestamp: u64,
    /// The whole signature line, without its newline.
    pub line: String,
}

impl CosignerVerifier {
    /// Parse a vkey, checking the key id and the signature type (0x04).
    pub fn parse(text: &str) -> Result<Self, WitnessError> {
        let text = text.trim();
        let bad = |why: &str| WitnessError::BadKey(format!("witness key `{text}`: {why}"));
        let parts: Vec<&str> = text.splitn(3, '+').collect();
        if parts.len() != 3 {
            return Err(bad("expected <name>+<key id>+<base64 key>"));
        }
        let raw = unb64(parts[2]).ok_or_else(|| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(bad(
                "not an Ed25519 cosignature/v1 key (signature type 0x04)",
            ));
        }
        let pk: [u8; 32] = raw[1..].try_into().expect("32 bytes");
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad("invalid Ed25519 point"))?;
        let v = CosignerVerifier {
            name: parts[0].to_string(),
            key,
        };
        if hex::encode(v.key_id()) != parts[1] {
            return Err(bad("key id does not match the key"));
        }
        Ok(v)
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (type 0x04).
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.key.as_bytes())
    }

    /// The vkey text.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.key_id()), b64(&raw))
    }

    /// Whether a signature line (without newline) is by this key: same name and key id.
    fn matches(&self, line: &str) -> Option<Vec<u8>> {
        let rest = line.strip_prefix(DASH)?;
        let (name, sig64) = rest.split_once(' ')?;
        let blob = unb64(sig64)?;
        (name == self.name && blob.len() >= 4 && blob[..4] == self.key_id()).then_some(blob)
    }

    /// Verify this key's cosignature line over `body`. `Ok(None)`: the line is not by
    /// this key (ignored, as the spec requires); `Err`: it is, and does not verify.
    pub fn verify_line(&self, body: &str, line: &str) -> Result<Option<Cosignature>, WitnessError> {
        let Some(blob) = self.matches(line) else {
            return Ok(None);
        };
        let bad = || WitnessError::BadCosignature(self.name.clone());
        if blob.len() != 4 + 8 + 64 {
            return Err(bad());
        }
        let timestamp = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(bad());
        }
        let sig = ed25519_dalek::Signature::from_slice(&blob[12..]).map_err(|_| bad())?;
        self.key
            .verify(signed_message(body, timestamp).as_bytes(), &sig)
            .map_err(|_| bad())?;
        Ok(Some(Cosignature {
            witness: self.name.clone(),
            timestamp,
            line: line.to_string(),
        }))
    }
}

/// Split a note into its body (with final newline) and its signature lines.
pub fn split_note(note: &str) -> Result<(&str, Vec<&str>), WitnessError> {
    let split = note
        .find("\n\n")
        .ok_or_else(|| WitnessError::Malformed("no blank line before the signatures".into()))?;
    let body = &note[..split + 1];
    let sigs = &note[split + 2..];
    if !sigs.ends_with('\n') {
        return Err(WitnessError::Malformed(
            "signature block does not end in a newline".into(),
        ));
    }
    let lines: Vec<&str> = sigs.lines().collect();
    if let Some(l) = lines.iter().find(|l| !l.starts_with(DASH)) {
        return Err(WitnessError::Malformed(format!("bad signature line `{l}`")));
    }
    Ok((body, lines))
}

/// The cosignature lines of a note that verify against `witnesses`, at most one per
/// witness (the first that verifies). A line by a known key that fails to verify is an
/// error: the note is malformed (c2sp.org/signed-note).
pub fn cosignatures(
    note: &str,
    witnesses: &[CosignerVerifier],
) -> Result<Vec<Cosignature>, WitnessError> {
    let (body, lines) = split_note(note)?;
    let mut out: Vec<Cosignature> = Vec::new();
    for w in witnesses {
        for l in &lines {
            if let Some(c) = w.verify_line(body, l)? {
                if !out.iter().any(|o| o.witness == c.witness) {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// Read a witnesses file: one vkey per line; blank lines and `#` comments ignored.
pub fn read_witnesses_file(path: &std::path::Path) -> Result<Vec<CosignerVerifier>, WitnessError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| WitnessError::Invalid(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(
            CosignerVerifier::parse(l)
                .map_err(|e| WitnessError::Invalid(format!("{}:{}: {e}", path.display(), i + 1)))?,
        );
    }
    if out.is_empty() {
        return Err(WitnessError::Invalid(format!(
            "{}: no witness keys",
            path.display()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_verify_roundtrip_and_tamper() {
        let k = CosignerKey::generate("witness.example/w1").unwrap();
        let v = CosignerVerifier::parse(&k.verifier().to_vkey()).unwrap();
        assert_eq!(CosignerKey::from_skey(&k.to_skey()).unwrap().verifier(), v);
        let body = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = k.cosign(body, 1_679_315_147);
        let l = line.trim_end();
        let c = v.verify_line(body, l).unwrap().unwrap();
        assert_eq!(c.timestamp, 1_679_315_147);
        assert!(v.verify_line(&body.replace("\n5\n", "\n6\n"), l).is_err());
        // Another key of the same name is ignored, not an error.
        let other = CosignerKey::generate("witness.example/w1").unwrap();
        assert_eq!(other.verifier().verify_line(body, l).unwrap(), None);
        // A signed-note (0x01) verifier key is refused: wrong signature type.
        let log = vouch_core::note::NoteSigner::generate("x.example/w").unwrap();
        assert!(CosignerVerifier::parse(&log.verifier().to_vkey()).is_err());
    }

    #[test]
    fn line_layout_matches_the_spec_example() {
        // tlog-cosignature's example line: key id ‖ u64 BE timestamp ‖ 64-byte signature.
        let spec = unb64("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==").unwrap();
        assert_eq!(spec.len(), 76);
        assert_eq!(
            u64::from_be_bytes(spec[4..12].try_into().unwrap()),
            1_679_315_147
        );
        let k = CosignerKey::generate("witness.example.com/w1").unwrap();
        let line = k.cosign(
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            1_679_315_147,
        );
        let ours = unb64(line.trim_end().rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(
            (ours.len(), &ours[..4], &ours[4..12]),
            (76, &k.key_id()[..], &spec[4..12])
        );
    }

    #[test]
    fn message_layout_is_the_spec_example() {
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            signed_message(body, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }
}
