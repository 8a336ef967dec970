//! Key material: the Ed25519 log key (checkpoints), the ECDSA P-256 signing key
//! (artifacts) and the HMAC key (the ledger's chain). Private key files are created
//! 0600 and never overwritten; vouch refuses to use one that group or others can read.

use crate::{Config, Error};
use base64::Engine;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use vouch_core::note::{NoteSigner, NoteVerifier};

pub struct Keys {
    pub log: NoteSigner,
    pub signing: p256::ecdsa::SigningKey,
    pub hmac: Vec<u8>,
}

impl Keys {
    /// Load every key the configuration names, checking file modes first.
    pub fn load(config: &Config) -> Result<Keys, Error> {
        let files = &config.settings.keys;
        let log_path = config.path(&files.log_key);
        let log = NoteSigner::from_skey(&read_private(&log_path)?).map_err(|e| Error::Keys(format!("{}: {e}", log_path.display())))?;
        if log.name() != config.settings.ledger.origin {
            return Err(Error::Keys(format!(
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
                p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|_| Error::Keys(format!("{}: not a PKCS#8 PEM ECDSA P-256 private key", path.display())))?
            }
        };
        let hmac_path = config.path(&files.hmac_key);
        let hmac = base64::engine::general_purpose::STANDARD
            .decode(read_private(&hmac_path)?.trim())
            .map_err(|_| Error::Keys(format!("{}: not base64", hmac_path.display())))?;
        if hmac.len() < 32 {
            return Err(Error::Keys(format!("{}: the HMAC key must be at least 32 bytes", hmac_path.display())));
        }
        Ok(Keys { log, signing, hmac })
    }

    /// The log's public key as a C2SP verifier key string.
    pub fn log_verifier(&self) -> NoteVerifier {
        self.log.verifier()
    }

    /// The signing public key as SPKI PEM.
    pub fn signing_public_pem(&self) -> String {
        self.signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Key id: hex SHA-256 of the SPKI DER.
    pub fn signing_key_id(&self) -> String {
        let der = self.signing.verifying_key().to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        hex::encode(Sha256::digest(der))
    }
}

/// `VOUCH_SIGNING_KEY` (or seed 000's `SIGNING_PRIVATE_KEY`): a PEM in the environment.
fn signing_key_from_env() -> Result<Option<p256::ecdsa::SigningKey>, Error> {
    for var in ["VOUCH_SIGNING_KEY", "SIGNING_PRIVATE_KEY"] {
        if let Ok(pem) = std::env::var(var) {
            if pem.trim().is_empty() {
                continue;
            }
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem.trim())
                .map_err(|_| Error::Keys(format!("{var} is set but is not a PKCS#8 PEM ECDSA P-256 private key")))?;
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Read a private key file after checking that only its owner can read it.
pub fn read_private(path: &Path) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Keys(format!("key file {} is missing (run `vouch init`)", path.display()))
        } else {
            Error::io(path, e)
        }
    })?;
    check_mode(path, &meta)?;
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Keys(format!(
            "key file {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path, _: &std::fs::Metadata) -> Result<(), Error> {
    Ok(())
}

/// Write a new file with `mode`; refuses to replace an existing one.
pub fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(contents.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| Error::io(path, e))
}

/// What `generate_missing` did for each key.
#[derive(Debug, Default)]
pub struct Generated {
    pub created: Vec<String>,
    pub kept: Vec<String>,
}

/// Generate every key that does not exist yet; existing keys are never touched.
pub fn generate_missing(config: &Config) -> Result<Generated, Error> {
    let files = &config.settings.keys;
    let mut out = Generated::default();
    let keys_dir = config.path(&files.log_key).parent().map(Path::to_path_buf);
    if let Some(dir) = keys_dir {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
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
        let signer = NoteSigner::generate(&config.settings.ledger.origin).map_err(|e| Error::Keys(e.to_string()))?;
        write_new(&log_path, &format!("{}\n", signer.to_skey()), 0o600)?;
        let pub_path = log_path.with_extension("pub");
        if !pub_path.exists() {
            write_new(&pub_path, &format!("{}\n", signer.verifier().to_vkey()), 0o644)?;
        }
        note(&log_path, true);
    }

    let sign_path = config.path(&files.signing_key);
    if sign_path.exists() {
        note(&sign_path, false);
    } else {
        let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Keys(format!("cannot encode signing key: {e}")))?;
        write_new(&sign_path, &pem, 0o600)?;
        let pub_pem = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| Error::Keys(e.to_string()))?;
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
        write_new(&hmac_path, &format!("{}\n", base64::engine::general_purpose::STANDARD.encode(k)), 0o600)?;
        note(&hmac_path, true);
    }
    Ok(out)
}
