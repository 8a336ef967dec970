//! Key material: the Ed25519 log key (checkpoints), the ECDSA P-256 signing key
//! (artifacts) and the HMAC key (the ledger's chain). Private key files are created
//! 0600 and never overwritten; vouch refuses to use one that group or others can read.

use crate::LedgerError;
use base64::Engine;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use vouch_config::Config;
use vouch_core::note::{NoteSigner, NoteVerifier};

/// Errors of key loading, creation and rotation; messages name the file, never a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file is missing, malformed, too open, or does not match the configuration.
    #[error("{0}")]
    Invalid(String),
    /// A key file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Recording a rotation in the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl KeyError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> KeyError {
        KeyError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// vouch's keys, loaded: the log key signs checkpoints, the signing key signs
/// artifacts, the HMAC key chains the ledger.
pub struct Keys {
    /// The log key: signs checkpoints (C2SP signed notes, Ed25519).
    pub log: NoteSigner,
    /// The signing key: signs artifacts such as packets (ECDSA P-256).
    pub signing: p256::ecdsa::SigningKey,
    /// The HMAC key of the ledger's chain.
    pub hmac: Vec<u8>,
}

impl Keys {
    /// Load every key the configuration names, checking file modes first.
    pub fn load(config: &Config) -> Result<Keys, KeyError> {
        let files = &config.settings.keys;
        let log_path = config.path(&files.log_key);
        let log = NoteSigner::from_skey(&read_private(&log_path)?)
            .map_err(|e| KeyError::Invalid(format!("{}: {e}", log_path.display())))?;
        if log.name() != config.settings.ledger.origin {
            return Err(KeyError::Invalid(format!(
                "{}: the log key is named `{}` but ledger.origin is `{}`; the origin is fixed when the key is made",
                log_path.display(),
                log.name(),
                config.settings.ledger.origin
            )));
        }
        let signing = match signing_key_from_env()? {
            Some(k) => k,
            None => {
                let path = config.path(&files.signing_key);
                let pem = read_private(&path)?;
                p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
                    KeyError::Invalid(format!(
                        "{}: not a PKCS#8 PEM ECDSA P-256 private key",
                        path.display()
                    ))
                })?
            }
        };
        let hmac_path = config.path(&files.hmac_key);
        let hmac = base64::engine::general_purpose::STANDARD
            .decode(read_private(&hmac_path)?.trim())
            .map_err(|_| KeyError::Invalid(format!("{}: not base64", hmac_path.display())))?;
        if hmac.len() < 32 {
            return Err(KeyError::Invalid(format!(
                "{}: the HMAC key must be at least 32 bytes",
                hmac_path.display()
            )));
        }
        Ok(Keys { log, signing, hmac })
    }

    /// Fresh keys held in memory only, for a ledger nobody will verify or extend after
    /// the process ends (`vouch-bench`'s scratch ledgers); never written anywhere.
    pub fn ephemeral(origin: &str) -> Result<Keys, KeyError> {
        let log = NoteSigner::generate(origin).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let mut hmac = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut hmac);
        Ok(Keys { log, signing, hmac })
    }

    /// The log's public key as a C2SP verifier key string.
    pub fn log_verifier(&self) -> NoteVerifier {
        self.log.verifier()
    }

    /// The signing public key as SPKI PEM.
    pub fn signing_public_pem(&self) -> String {
        self.signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Key id: hex SHA-256 of the SPKI DER.
    pub fn signing_key_id(&self) -> String {
        let der = self
            .signing
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        hex::encode(Sha256::digest(der))
    }
}

/// `VOUCH_SIGNING_KEY` (or seed 000's `SIGNING_PRIVATE_KEY`): a PEM in the environment.
fn signing_key_from_env() -> Result<Option<p256::ecdsa::SigningKey>, KeyError> {
    for var in ["VOUCH_SIGNING_KEY", "SIGNING_PRIVATE_KEY"] {
        if let Ok(pem) = std::env::var(var) {
            if pem.trim().is_empty() {
                continue;
            }
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem.trim()).map_err(|_| {
                KeyError::Invalid(format!(
                    "{var} is set but is not a PKCS#8 PEM ECDSA P-256 private key"
                ))
            })?;
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Read a private key file after checking that only its owner can read it.
pub fn read_private(path: &Path) -> Result<String, KeyError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            KeyError::Invalid(format!(
                "key file {} is missing (run `vouch init`)",
                path.display()
            ))
        } else {
            KeyError::io(path, e)
        }
    })?;
    check_mode(path, &meta)?;
    std::fs::read_to_string(path).map_err(|e| KeyError::io(path, e))
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Invalid(format!(
            "key file {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path, _: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

/// Write a new file with `mode`; refuses to replace an existing one.
pub fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), KeyError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| KeyError::io(dir, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path).map_err(|e| KeyError::io(path, e))?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| KeyError::io(path, e))
}

/// What `generate_missing` did for each key.
#[derive(Debug, Default)]
pub struct Generated {
    /// Paths of the key files created.
    pub created: Vec<String>,
    /// Paths of the key files that existed and were left alone.
    pub kept: Vec<String>,
}

/// Generate every key that does not exist yet; existing keys are never touched.
pub fn generate_missing(config: &Config) -> Result<Generated, KeyError> {
    let files = &config.settings.keys;
    let mut out = Generated::default();
    let keys_dir = config.path(&files.log_key).parent().map(Path::to_path_buf);
    if let Some(dir) = keys_dir {
        std::fs::create_dir_all(&dir).map_err(|e| KeyError::io(&dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let mut note = |path: &Path, created: bool| {
        let s = path.display().to_string();
        if created {
            out.created.push(s)
        } else {
            out.kept.push(s)
        }
    };

    let log_path = config.path(&files.log_key);
    if log_path.exists() {
        note(&log_path, false);
    } else {
        let signer = NoteSigner::generate(&config.settings.ledger.origin)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        write_new(&log_path, &format!("{}\n", signer.to_skey()), 0o600)?;
        let pub_path = log_path.with_extension("pub");
        if !pub_path.exists() {
            write_new(
                &pub_path,
                &format!("{}\n", signer.verifier().to_vkey()),
                0o644,
            )?;
        }
        note(&log_path, true);
    }

    let sign_path = config.path(&files.signing_key);
    if sign_path.exists() {
        note(&sign_path, false);
    } else {
        let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Invalid(format!("cannot encode signing key: {e}")))?;
        write_new(&sign_path, &pem, 0o600)?;
        let pub_pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let pub_path = sign_path.with_file_name("signing.pub.pem");
        if !pub_path.exists() {
            write_new(&pub_path, &pub_pem, 0o644)?;
        }
        note(&sign_path, true);
    }

    let hmac_path = config.path(&files.hmac_key);
    if hmac_path.exists() {
        note(&hmac_path, false);
    } else {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        write_new(
            &hmac_path,
            &format!("{}\n", base64::engine::general_purpose::STANDARD.encode(k)),
            0o600,
        )?;
        note(&hmac_path, true);
    }
    Ok(out)
}

/// Directory of retired signing public keys (kept so old packets keep verifying).
pub fn retired_dir(config: &Config) -> std::path::PathBuf {
    config
        .path(&config.settings.keys.signing_key)
        .parent()
        .map(|d| d.join("retired"))
        .unwrap_or_else(|| config.path("keys/retired"))
}

/// Every signing public key vouch knows: the current one first, then retired ones.
pub fn known_signing_keys(config: &Config, keys: Option<&Keys>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(k) = keys {
        out.push(k.signing_public_pem());
    }
    if let Ok(rd) = std::fs::read_dir(retired_dir(config)) {
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect();
        files.sort();
        out.extend(files.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    }
    out
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rotated {
    /// Key id of the signing key replaced.
    pub old_key_id: String,
    /// Key id of the new signing key.
    pub new_key_id: String,
    /// Path of the file keeping the old public key.
    pub retired_public_key: String,
}

/// Replace the signing key with a new one. The old public key is kept under
/// `keys/retired/`, and the rotation is recorded in the ledger.
pub fn rotate(config: &Config, ledger: &crate::Ledger) -> Result<Rotated, KeyError> {
    if signing_key_from_env()?.is_some() {
        return Err(KeyError::Invalid("the signing key comes from VOUCH_SIGNING_KEY / SIGNING_PRIVATE_KEY; rotate it where it is managed".into()));
    }
    let keys = Keys::load(config)?;
    let old_id = keys.signing_key_id();
    let old_pub = keys.signing_public_pem();
    let retired = retired_dir(config);
    std::fs::create_dir_all(&retired).map_err(|e| KeyError::io(&retired, e))?;
    let retired_file = retired.join(format!("signing-{old_id}.pub.pem"));
    if !retired_file.exists() {
        write_new(&retired_file, &old_pub, 0o644)?;
    }
    let new = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let pem = new
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Invalid(format!("cannot encode signing key: {e}")))?;
    let path = config.path(&config.settings.keys.signing_key);
    let tmp = path.with_extension("pem.new");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, &pem, 0o600)?;
    std::fs::rename(&tmp, &path).map_err(|e| KeyError::io(&path, e))?;
    let new_pub = new
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Invalid(e.to_string()))?;
    let pub_path = path.with_file_name("signing.pub.pem");
    let _ = std::fs::remove_file(&pub_path);
    write_new(&pub_path, &new_pub, 0o644)?;
    let new_id = Keys::load(config)?.signing_key_id();
    crate::audit::record(
        ledger,
        serde_json::json!({
            "action": "signing_key.rotate", "category": "security", "result": "success",
            "resource": {"type": "signing_key", "id": new_id},
            "details": {"description": "Rotated the artifact signing key", "before_state": {"key_id": old_id}, "after_state": {"key_id": new_id}},
        }),
    )?;
    Ok(Rotated {
        old_key_id: old_id,
        new_key_id: new_id,
        retired_public_key: retired_file.display().to_string(),
    })
}
