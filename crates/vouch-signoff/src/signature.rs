//! Signatures over signed documents (attestations, collection sign-offs, access-review
//! campaigns): vouch's own signature with its signing key (ECDSA P-256, DER, base64 — the
//! `.sig` form packets use, which `openssl dgst -sha256 -verify` checks) and, optionally,
//! the signer's own: an SSH signature (`ssh-keygen -Y sign -n vouch-attestation`, checked
//! with `ssh-keygen -Y verify` and an allowed-signers file) or an OpenPGP detached
//! signature (`gpg --armor --detach-sign`, checked with `gpg --verify`).
//!
//! The signed bytes are always the document's RFC 8785 canonical JSON
//! ([`canonical_bytes`]). The personal signatures are made by the real tools on the
//! signer's machine (the CLI); nothing here holds a private key beyond vouch's own.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Error;

/// The file beside an OpenPGP-signed document holding the fingerprint of the key that
/// signed it (as recorded when signing).
pub const GPG_FINGERPRINT_FILE: &str = "gpg_fingerprint";

/// The `ssh-keygen -Y` namespace of attestation signatures.
pub const SSH_NAMESPACE: &str = "vouch-attestation";

/// vouch's signature over a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VouchSignature {
    /// Id of the signing key (hex SHA-256 of its SPKI DER).
    pub key_id: String,
    /// The signing key's public key (SPKI PEM), so the document verifies offline.
    pub public_key_pem: String,
    /// Base64 of the DER ECDSA P-256 / SHA-256 signature.
    pub signature: String,
}

/// The signer's own signature over a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PersonalSignature {
    /// `ssh-keygen -Y sign -n vouch-attestation`.
    Ssh {
        /// The armored SSH signature (`-----BEGIN SSH SIGNATURE-----`).
        signature: String,
        /// The signer's public key (`ssh-ed25519 AAAA… comment`), for the allowed-signers
        /// line.
        public_key: String,
        /// The principal (identity) the allowed-signers line names: the signer's name.
        principal: String,
    },
    /// `gpg --armor --detach-sign`.
    Gpg {
        /// The armored detached signature.
        signature: String,
        /// The fingerprint of the primary key that signed (documents signed before this
        /// was recorded carry the name the signer gave).
        key_id: String,
    },
}

/// How the signer signs personally (what the CLI was given).
#[derive(Debug, Clone)]
pub enum PersonalKey {
    /// An SSH private key file (`--ssh-key FILE`); its `.pub` must sit next to it.
    Ssh(std::path::PathBuf),
    /// A key in the caller's GnuPG keyring (`--gpg-key ID`).
    Gpg(String),
}

/// The bytes every signature covers: the document's canonical JSON.
pub fn canonical_bytes(document: &Value) -> Vec<u8> {
    vouch_core::canonical::to_vec(document)
}

/// Sign `bytes` with vouch's signing key.
pub fn sign_vouch(keys: &vouch_ledger::Keys, bytes: &[u8]) -> VouchSignature {
    VouchSignature {
        key_id: keys.signing_key_id(),
        public_key_pem: keys.signing_public_pem(),
        signature: vouch_ledger::sign::sign_b64(&keys.signing, bytes),
    }
}

/// Check vouch's signature over `bytes` (with the public key it carries; compare
/// `key_id` with the key you trust).
pub fn verify_vouch(sig: &VouchSignature, bytes: &[u8]) -> Result<(), Error> {
    let id = vouch_ledger::sign::key_id_of_pem(&sig.public_key_pem).map_err(Error::Signature)?;
    if id != sig.key_id {
        return Err(Error::Signature(format!(
            "the public key's id is {id}, not the recorded {}",
            sig.key_id
        )));
    }
    vouch_ledger::sign::verify_b64(&sig.public_key_pem, bytes, &sig.signature)
        .map_err(|e| Error::Signature(format!("vouch signature: {e}")))
}

/// Sign `bytes` with the signer's own key, as `principal` (their name).
pub fn sign_personal(
    key: &PersonalKey,
    principal: &str,
    bytes: &[u8],
) -> Result<PersonalSignature, Error> {
    match key {
        PersonalKey::Ssh(file) => ssh_sign(file, principal, bytes),
        PersonalKey::Gpg(id) => gpg_sign(id, bytes),
    }
}

/// Check a personal signature over `bytes` with the real tool (`ssh-keygen -Y verify`
/// with an allowed-signers file made from the recorded key — which proves only that the
/// recorded key signed, so compare that key with the signer's key you hold — or
/// `gpg --verify` against the caller's keyring, requiring the recorded key to have
/// signed).
pub fn verify_personal(sig: &PersonalSignature, bytes: &[u8]) -> Result<(), Error> {
    match sig {
        PersonalSignature::Ssh {
            signature,
            public_key,
            principal,
        } => {
            let dir = tempdir()?;
            let allowed = dir.path().join("allowed_signers");
            std::fs::write(&allowed, allowed_signers_line(principal, public_key))
                .map_err(|e| Error::Signature(format!("writing allowed signers: {e}")))?;
            ssh_verify(&allowed, principal, signature, bytes)
        }
        PersonalSignature::Gpg { signature, key_id } => {
            gpg_verify(signature, key_id, bytes).map(|_| ())
        }
    }
}

/// The allowed-signers line (`principal namespaces="vouch-attestation" key`) for a signer.
pub fn allowed_signers_line(principal: &str, public_key: &str) -> String {
    format!(
        "{} namespaces=\"{SSH_NAMESPACE}\" {}\n",
        principal_of(principal),
        public_key.trim()
    )
}

/// The SSH principal of a signer's name: only `[A-Za-z0-9._@-]`, anything else `_`.
/// In an allowed-signers file the principal is a comma-separated list of patterns
/// (`*`, `?`, `!`), so a name with `,` or `*` would otherwise name other principals.
pub fn principal_of(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `ssh-keygen -l` fingerprint (`SHA256:…`, unpadded base64 of the SHA-256 of the key
/// blob) of an SSH public key line; `None` when it holds no key.
pub fn ssh_fingerprint(line: &str) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let key = ssh_public_key_of(line)?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(key.split_whitespace().nth(1)?)
        .ok()?;
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
    ))
}

impl PersonalSignature {
    /// The fingerprint of the key that made it: `SHA256:…` for SSH, the OpenPGP primary
    /// key's fingerprint for gpg.
    pub fn key_fingerprint(&self) -> String {
        match self {
            PersonalSignature::Ssh { public_key, .. } => {
                ssh_fingerprint(public_key).unwrap_or_else(|| public_key.clone())
            }
            PersonalSignature::Gpg { key_id, .. } => key_id.trim().to_uppercase(),
        }
    }

    /// Is it made by the key `pinned` names (an SSH public key line, or an OpenPGP
    /// fingerprint / long key id)?
    pub fn is_by(&self, pinned: &str) -> bool {
        match self {
            PersonalSignature::Ssh { public_key, .. } => {
                ssh_public_key_of(pinned).is_some()
                    && ssh_public_key_of(pinned) == ssh_public_key_of(public_key)
            }
            PersonalSignature::Gpg { key_id, .. } => {
                ssh_public_key_of(pinned).is_none()
                    && key_id_matches(pinned, &key_id.trim().to_uppercase())
            }
        }
    }
}

/// The fingerprint of a pinned key as configured or recorded (`SHA256:…` for an SSH key,
/// the OpenPGP fingerprint as given otherwise).
pub fn pinned_fingerprint(pinned: &str) -> String {
    ssh_fingerprint(pinned).unwrap_or_else(|| pinned.trim().to_uppercase())
}

fn tempdir() -> Result<tempfile::TempDir, Error> {
    tempfile::tempdir().map_err(|e| Error::Signature(format!("temporary directory: {e}")))
}

/// Run a tool with `input` on stdin; its stdout, or an error with its first stderr line.
fn run(mut cmd: Command, what: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Signature(format!("{what}: cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| Error::Signature(format!("{what}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Signature(format!("{what}: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("failed");
        return Err(Error::Signature(format!("{what}: {line}")));
    }
    Ok(out.stdout)
}

/// `ssh-keygen -Y sign -f KEY -n vouch-attestation` over `bytes`.
pub fn ssh_sign(
    key_file: &Path,
    principal: &str,
    bytes: &[u8],
) -> Result<PersonalSignature, Error> {
    let pub_file = {
        let mut p = key_file.as_os_str().to_owned();
        p.push(".pub");
        std::path::PathBuf::from(p)
    };
    let public_key = std::fs::read_to_string(&pub_file).map_err(|e| {
        Error::Signature(format!(
            "--ssh-key: the public key {} is needed next to the private key: {e}",
            pub_file.display()
        ))
    })?;
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-Y", "sign", "-n", SSH_NAMESPACE, "-f"])
        .arg(key_file);
    let sig = run(cmd, "ssh-keygen -Y sign", bytes)?;
    Ok(PersonalSignature::Ssh {
        signature: String::from_utf8_lossy(&sig).into_owned(),
        public_key: public_key.trim().to_string(),
        principal: principal_of(principal),
    })
}

/// `ssh-keygen -Y verify -f ALLOWED -I PRINCIPAL -n vouch-attestation -s SIG` over `bytes`.
pub fn ssh_verify(
    allowed_signers: &Path,
    principal: &str,
    signature: &str,
    bytes: &[u8],
) -> Result<(), Error> {
    let dir = tempdir()?;
    let sig = dir.path().join("document.sig");
    std::fs::write(&sig, signature).map_err(|e| Error::Signature(e.to_string()))?;
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-n", SSH_NAMESPACE, "-I", principal, "-f"])
        .arg(allowed_signers)
        .arg("-s")
        .arg(&sig);
    run(cmd, "ssh-keygen -Y verify", bytes).map(|_| ())
}

/// `gpg --batch --armor --local-user ID --detach-sign` over `bytes` (the caller's
/// keyring, `GNUPGHOME` as set). The recorded `key_id` is the fingerprint of the
/// primary key that made the signature (read back from gpg's `VALIDSIG` status), not
/// the name the signer gave (`alice@example` names no key on another keyring).
pub fn gpg_sign(key_id: &str, bytes: &[u8]) -> Result<PersonalSignature, Error> {
    let mut cmd = Command::new("gpg");
    cmd.args([
        "--batch",
        "--yes",
        "--armor",
        "--local-user",
        key_id,
        "--detach-sign",
    ]);
    let sig = run(cmd, "gpg --detach-sign", bytes)?;
    let signature = String::from_utf8_lossy(&sig).into_owned();
    let (_, primary) = gpg_valid_signer(&signature, bytes)?;
    Ok(PersonalSignature::Gpg {
        signature,
        key_id: primary,
    })
}

/// Run `gpg --batch --status-fd 1 --verify SIG -` over `bytes` (the caller's keyring
/// must hold the key); the `VALIDSIG` line's signing-key and primary-key fingerprints.
/// No `VALIDSIG` line (a bad, expired-key or unknown-key signature) is an error.
pub fn gpg_valid_signer(signature: &str, bytes: &[u8]) -> Result<(String, String), Error> {
    gpg_valid_signer_in(None, signature, bytes)
}

/// [`gpg_valid_signer`] with the keyring of `home` (`--homedir`) instead of the caller's.
fn gpg_valid_signer_in(
    home: Option<&Path>,
    signature: &str,
    bytes: &[u8],
) -> Result<(String, String), Error> {
    let dir = tempdir()?;
    let sig = dir.path().join("document.asc");
    std::fs::write(&sig, signature).map_err(|e| Error::Signature(e.to_string()))?;
    let mut cmd = Command::new("gpg");
    cmd.arg("--batch");
    if let Some(h) = home {
        cmd.arg("--homedir").arg(h);
    }
    cmd.args(["--status-fd", "1", "--verify"])
        .arg(&sig)
        .arg("-");
    let out = run(cmd, "gpg --verify", bytes)?;
    let status = String::from_utf8_lossy(&out);
    // [GNUPG:] VALIDSIG <fpr> <date> <ts> <expire> <ver> <rsv> <pk-algo> <hash-algo>
    //          <class> <primary-fpr>
    let fields: Vec<&str> = status
        .lines()
        .find_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .ok_or_else(|| Error::Signature("gpg --verify: no valid signature reported".into()))?
        .split_whitespace()
        .collect();
    let fpr = fields
        .first()
        .ok_or_else(|| Error::Signature("gpg --verify: VALIDSIG without a fingerprint".into()))?
        .to_uppercase();
    let primary = fields
        .get(9)
        .map(|f| f.to_uppercase())
        .unwrap_or_else(|| fpr.clone());
    Ok((fpr, primary))
}

/// Check an OpenPGP detached signature made elsewhere (sent to the API) against the
/// signer's armored public key only: the key is imported into a throwaway keyring (never
/// the server's), `gpg --verify` must report `VALIDSIG`; the primary key's fingerprint.
/// A private key block is refused unread.
pub fn gpg_verify_with_key(
    signature: &str,
    public_key: &str,
    bytes: &[u8],
) -> Result<String, Error> {
    if public_key.contains("PRIVATE KEY BLOCK") {
        return Err(Error::Signature(
            "public_key: that is a private key block; send the public key (gpg --armor --export)"
                .into(),
        ));
    }
    if !public_key.contains("BEGIN PGP PUBLIC KEY BLOCK") {
        return Err(Error::Signature(
            "public_key: not an armored OpenPGP public key (gpg --armor --export ID)".into(),
        ));
    }
    let dir = tempdir()?;
    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).map_err(|e| Error::Signature(format!("gpg home: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700));
    }
    let result = (|| {
        let mut cmd = Command::new("gpg");
        cmd.arg("--batch")
            .arg("--homedir")
            .arg(&home)
            .arg("--import");
        run(cmd, "gpg --import (public_key)", public_key.as_bytes())?;
        gpg_valid_signer_in(Some(&home), signature, bytes).map(|(_, primary)| primary)
    })();
    // gpg starts an agent for a new home; stop it before the directory goes.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    result
}

/// The key part (`ssh-ed25519 AAAA…`) of an SSH public key line or of an allowed-signers
/// line (`alice namespaces="…" ssh-ed25519 AAAA…`); `None` when there is none.
pub fn ssh_public_key_of(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| {
        w.starts_with("ssh-") || w.starts_with("ecdsa-sha2-") || w.starts_with("sk-")
    })?;
    let key = words.get(i + 1)?;
    Some(format!("{} {key}", words[i]))
}

/// Does a recorded key id (a fingerprint or a long key id of 16+ hex digits, optionally
/// `0x`-prefixed, spaces ignored) name the key with fingerprint `fpr`?
pub(crate) fn key_id_matches(key_id: &str, fpr: &str) -> bool {
    let id: String = key_id
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && fpr.ends_with(&id)
}

/// `gpg --verify` over `bytes`, and the signature must be by `key_id` (its fingerprint
/// or long key id, of the signing subkey or its primary key): a good signature by
/// another key in the keyring is refused. An empty `key_id` means no key was recorded
/// (the packet files carry none): any key the caller's keyring holds is accepted, and
/// the caller must check whose it is. Returns the primary key's fingerprint.
pub fn gpg_verify(signature: &str, key_id: &str, bytes: &[u8]) -> Result<String, Error> {
    let (fpr, primary) = gpg_valid_signer(signature, bytes)?;
    if key_id.trim().is_empty() || key_id_matches(key_id, &fpr) || key_id_matches(key_id, &primary)
    {
        return Ok(primary);
    }
    Err(Error::Signature(format!(
        "gpg --verify: the signature is by key {primary}, not the recorded key `{key_id}`"
    )))
}

/// A signed document as stored and written: the document, its canonical bytes' SHA-256,
/// vouch's signature and the signer's own, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedDocument {
    /// The document (its canonical JSON is what is signed).
    pub document: Value,
    /// Hex SHA-256 of the canonical JSON.
    pub sha256: String,
    /// vouch's signature.
    pub vouch: VouchSignature,
    /// The signer's own signature, if they gave a key.
    pub personal: Option<PersonalSignature>,
    /// The RFC 3161 timestamp of the canonical JSON (when `[timestamp] url` is set): the
    /// token, written beside the document as `NAME.json.tsr`, or why none was obtained.
    /// Not part of the signed bytes (it is made after them, over them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DocumentTimestamp>,
}

/// An RFC 3161 timestamp of a signed document's canonical JSON, or the failure to get
/// one (the document is signed either way; `vouch timestamp --pending` asks again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTimestamp {
    /// The authority asked (its URL, any credentials removed).
    pub tsa: String,
    /// When vouch asked (RFC 3339).
    pub requested_at: String,
    /// Base64 of the DER TimeStampResp (the `.tsr` file); absent when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Hex SHA-256 of the DER token (what the ledger records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// The time the authority certified (as `openssl ts -reply -text` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Why no token was obtained (the authority down, a refused or wrong reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DocumentTimestamp {
    /// Ask the authority at `url` to timestamp `bytes`; a failure is recorded, not
    /// returned (a signature must never be lost to a timestamp authority being down).
    pub fn request(bytes: &[u8], url: &str, now: chrono::DateTime<chrono::Utc>) -> Self {
        use base64::Engine;
        let tsa = vouch_store::redact_url(url);
        let requested_at = vouch_core::event::format_timestamp(&now);
        match vouch_witness::tsa::timestamp_bytes(bytes, url) {
            Ok((token, time)) => DocumentTimestamp {
                tsa,
                requested_at,
                token_sha256: Some(vouch_store::blobs::sha256_hex(&token)),
                token: Some(base64::engine::general_purpose::STANDARD.encode(token)),
                time: Some(time),
                error: None,
            },
            Err(e) => {
                // The authority's URL may carry credentials; the message names it.
                let msg = e.to_string().replace(url, &tsa);
                tracing::warn!("timestamp of a signed document: {msg}");
                DocumentTimestamp {
                    tsa,
                    requested_at,
                    token: None,
                    token_sha256: None,
                    time: None,
                    error: Some(msg),
                }
            }
        }
    }

    /// The DER token, when there is one.
    pub fn token_der(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        self.token
            .as_deref()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
    }

    /// What the ledger records: `{tsa, token_sha256, time}` or `{tsa, error}`.
    pub fn summary(&self) -> Value {
        match &self.error {
            Some(e) => serde_json::json!({"tsa": self.tsa, "error": e}),
            None => {
                serde_json::json!({"tsa": self.tsa, "token_sha256": self.token_sha256, "time": self.time})
            }
        }
    }
}

impl SignedDocument {
    /// Sign a document with vouch's key and, when given, the signer's own key.
    pub fn sign(
        keys: &vouch_ledger::Keys,
        document: Value,
        personal: Option<(&PersonalKey, &str)>,
    ) -> Result<SignedDocument, Error> {
        let bytes = canonical_bytes(&document);
        let personal = match personal {
            Some((k, principal)) => Some(sign_personal(k, principal, &bytes)?),
            None => None,
        };
        Ok(SignedDocument {
            sha256: vouch_store::blobs::sha256_hex(&bytes),
            vouch: sign_vouch(keys, &bytes),
            personal,
            document,
            timestamp: None,
        })
    }

    /// Timestamp the signed bytes (the canonical JSON) at the RFC 3161 authority `url`
    /// and keep the token (or the failure) with the document: the common step of every
    /// signed document (attestations, sign-offs, access-review campaigns) when
    /// `[timestamp] url` is set. Never fails: a failure is recorded in `timestamp.error`.
    pub fn timestamp(&mut self, url: &str, now: chrono::DateTime<chrono::Utc>) {
        let bytes = canonical_bytes(&self.document);
        self.timestamp = Some(DocumentTimestamp::request(&bytes, url, now));
    }

    /// Whether the document has a timestamp token (not merely a failed attempt).
    pub fn is_timestamped(&self) -> bool {
        self.timestamp.as_ref().is_some_and(|t| t.token.is_some())
    }

    /// Check the hash, vouch's signature and the personal one (with the real tool).
    pub fn verify(&self) -> Result<(), Error> {
        let bytes = canonical_bytes(&self.document);
        let h = vouch_store::blobs::sha256_hex(&bytes);
        if h != self.sha256 {
            return Err(Error::Signature(format!(
                "the document's SHA-256 is {h}, not the recorded {}",
                self.sha256
            )));
        }
        verify_vouch(&self.vouch, &bytes)?;
        if let Some(p) = &self.personal {
            verify_personal(p, &bytes)?;
        }
        Ok(())
    }

    /// Write the document and its signatures into `dir` as `NAME.json` (canonical),
    /// `NAME.json.sig` (base64 DER, for `openssl dgst -sha256 -verify`),
    /// `public_key.pem`, `NAME.json.ssh.sig` + `allowed_signers` or `NAME.json.asc`
    /// + `gpg_fingerprint`, and `NAME.json.tsr` when it has a timestamp token.
    pub fn write_files(&self, dir: &Path, name: &str) -> Result<Vec<std::path::PathBuf>, Error> {
        let io = |e: std::io::Error| Error::Signature(format!("writing {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut files = vec![
            (format!("{name}.json"), canonical_bytes(&self.document)),
            (
                format!("{name}.json.sig"),
                self.vouch.signature.clone().into_bytes(),
            ),
            (
                "public_key.pem".to_string(),
                self.vouch.public_key_pem.clone().into_bytes(),
            ),
        ];
        match &self.personal {
            Some(PersonalSignature::Ssh {
                signature,
                public_key,
                principal,
            }) => {
                files.push((
                    format!("{name}.json.ssh.sig"),
                    signature.clone().into_bytes(),
                ));
                files.push((
                    "allowed_signers".to_string(),
                    allowed_signers_line(principal, public_key).into_bytes(),
                ));
            }
            Some(PersonalSignature::Gpg { signature, key_id }) => {
                files.push((format!("{name}.json.asc"), signature.clone().into_bytes()));
                // The fingerprint recorded when signing, so `vouch verify DIR` refuses a
                // good signature by any other key of the verifier's keyring.
                files.push((
                    GPG_FINGERPRINT_FILE.to_string(),
                    format!("{key_id}\n").into_bytes(),
                ));
            }
            None => {}
        }
        // The RFC 3161 token over NAME.json: `openssl ts -verify -data NAME.json -in
        // NAME.json.tsr -CAfile CA`.
        if let Some(token) = self
            .timestamp
            .as_ref()
            .and_then(DocumentTimestamp::token_der)
        {
            files.push((format!("{name}.json.tsr"), token));
        }
        let mut out = Vec::new();
        for (f, bytes) in files {
            let p = dir.join(f);
            std::fs::write(&p, bytes).map_err(io)?;
            out.push(p);
        }
        Ok(out)
    }
}
