//! Detached artifact signatures: ECDSA P-256 over SHA-256, DER, base64 — the form seed
//! 000's `base64 -d sig > sig.bin; openssl dgst -sha256 -verify pub.pem -signature sig.bin
//! file` checks. Nonces are RFC 6979 (deterministic), so signing is reproducible.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

/// Base64 of the DER signature over `bytes`.
pub fn sign_b64(key: &SigningKey, bytes: &[u8]) -> String {
    let sig: Signature = key.sign(bytes);
    vouch_core::b64(sig.to_der().as_bytes())
}

/// Check a base64 DER signature with an SPKI PEM public key.
pub fn verify_b64(public_pem: &str, bytes: &[u8], sig_b64: &str) -> Result<(), String> {
    let key = VerifyingKey::from_public_key_pem(public_pem.trim())
        .map_err(|_| "not an ECDSA P-256 public key (SPKI PEM)".to_string())?;
    let der = vouch_core::unb64(sig_b64).ok_or("the signature is not base64")?;
    let sig = Signature::from_der(&der)
        .map_err(|_| "the signature is not a DER ECDSA signature".to_string())?;
    key.verify(bytes, &sig)
        .map_err(|_| "signature does not verify".to_string())
}

/// Key id: hex SHA-256 of the SPKI DER of a public key in PEM.
pub fn key_id_of_pem(public_pem: &str) -> Result<String, String> {
    let key = VerifyingKey::from_public_key_pem(public_pem.trim())
        .map_err(|_| "not an ECDSA P-256 public key (SPKI PEM)".to_string())?;
    let der = key.to_public_key_der().map_err(|e| e.to_string())?;
    Ok(hex::encode(Sha256::digest(der.as_bytes())))
}
