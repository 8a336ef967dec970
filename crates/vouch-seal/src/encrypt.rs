//! Compression and encryption of the tar stream, end to end without plaintext on disk:
//! age (X25519 recipients) and OpenPGP (public keys, SEIPD v1 with AES-256 so GnuPG 2.2
//! reads it). Identities for `archive verify|restore` are read the same way.

use super::bundle::{write_tar, Entry};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::str::FromStr;

/// How an archive's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Zstandard.
    Zstd,
    /// gzip.
    Gzip,
}

impl Compression {
    /// `zstd` or `gzip`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "zstd" => Ok(Compression::Zstd),
            "gzip" => Ok(Compression::Gzip),
            _ => Err(format!("compression must be zstd or gzip, not `{s}`")),
        }
    }
    /// The file extension (`tar.zst`, `tar.gz`).
    pub fn ext(self) -> &'static str {
        match self {
            Compression::Zstd => "tar.zst",
            Compression::Gzip => "tar.gz",
        }
    }
}

/// One archive's encryption: to age recipients, to OpenPGP keys, or none.
pub enum Sealing {
    /// Encrypted to these age recipients.
    Age(Vec<age::x25519::Recipient>),
    /// Encrypted to these OpenPGP encryption subkeys.
    Pgp(Vec<pgp::composed::SignedPublicSubKey>),
    /// Not encrypted.
    Plain,
}

impl Sealing {
    /// The extension appended to the file name (`.age`, `.gpg`, or none).
    pub fn ext(&self) -> &'static str {
        match self {
            Sealing::Age(_) => ".age",
            Sealing::Pgp(_) => ".gpg",
            Sealing::Plain => "",
        }
    }
    /// The encryption's name as recorded (`age`, `openpgp`, `none`).
    pub fn name(&self) -> &'static str {
        match self {
            Sealing::Age(_) => "age",
            Sealing::Pgp(_) => "openpgp",
            Sealing::Plain => "none",
        }
    }
}

/// A recipient as given on the command line or in config.
pub enum Recipient {
    /// An age recipient, and the text it was given as.
    Age(age::x25519::Recipient, String),
    /// The encryption subkeys of an OpenPGP key, and its fingerprint.
    Pgp(Vec<pgp::composed::SignedPublicSubKey>, String),
}

/// `age1…` is an age recipient; anything else is the path of an OpenPGP public key
/// (armored or binary).
pub fn parse_recipient(s: &str, base: &Path) -> Result<Recipient, String> {
    let s = s.trim();
    if s.starts_with("age1") {
        let r = age::x25519::Recipient::from_str(s)
            .map_err(|e| format!("`{s}` is not a valid age recipient: {e}"))?;
        return Ok(Recipient::Age(r, s.to_string()));
    }
    let path = base.join(s);
    let bytes = std::fs::read(&path).map_err(|e| format!("recipient `{s}` is neither an age recipient (age1…) nor a readable OpenPGP key file: {e}"))?;
    use pgp::composed::Deserializable;
    let key = if bytes.starts_with(b"-----BEGIN") {
        pgp::composed::SignedPublicKey::from_armor_single(&bytes[..]).map(|(k, _)| k)
    } else {
        pgp::composed::SignedPublicKey::from_bytes(&bytes[..])
    }
    .map_err(|e| format!("{}: not an OpenPGP public key: {e}", path.display()))?;
    let subkeys: Vec<_> = key
        .public_subkeys
        .iter()
        .filter(|k| {
            k.signatures
                .iter()
                .any(|s| s.key_flags().encrypt_comms() || s.key_flags().encrypt_storage())
        })
        .cloned()
        .collect();
    if subkeys.is_empty() {
        return Err(format!(
            "{}: the OpenPGP key has no encryption subkey",
            path.display()
        ));
    }
    use pgp::types::KeyDetails;
    let fp = format!("{:?}", key.primary_key.fingerprint()).replace(' ', "");
    Ok(Recipient::Pgp(subkeys, fp))
}

/// Group recipients into one sealing per format (age and OpenPGP together give two
/// archives).
pub fn sealings(recipients: Vec<Recipient>) -> Vec<(Sealing, Vec<String>)> {
    let mut ages = Vec::new();
    let mut age_names = Vec::new();
    let mut pgps = Vec::new();
    let mut pgp_names = Vec::new();
    for r in recipients {
        match r {
            Recipient::Age(r, n) => {
                ages.push(r);
                age_names.push(n);
            }
            Recipient::Pgp(keys, fp) => {
                pgps.extend(keys);
                pgp_names.push(fp);
            }
        }
    }
    let mut out = Vec::new();
    if !ages.is_empty() {
        out.push((Sealing::Age(ages), age_names));
    }
    if !pgps.is_empty() {
        out.push((Sealing::Pgp(pgps), pgp_names));
    }
    out
}

fn compress<W: Write>(entries: &[Entry], mtime: u64, c: Compression, out: W) -> std::io::Result<W> {
    match c {
        Compression::Zstd => {
            let mut enc = zstd::Encoder::new(out, 3)?;
            // Use the machine's cores; output bytes do not depend on the worker count.
            let workers = std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1);
            if workers > 1 {
                enc.multithread(workers)?;
            }
            enc.include_checksum(true)?;
            let enc = write_tar(entries, mtime, enc)?;
            enc.finish()
        }
        Compression::Gzip => {
            let enc = flate2::GzBuilder::new()
                .mtime(0)
                .write(out, flate2::Compression::new(6));
            write_tar(entries, mtime, enc)?.finish()
        }
    }
}

/// Stream tar → compression → encryption into `out`.
pub fn seal<W: Write + Send>(
    entries: &[Entry],
    mtime: u64,
    c: Compression,
    s: &Sealing,
    out: W,
) -> std::io::Result<W> {
    match s {
        Sealing::Plain => compress(entries, mtime, c, out),
        Sealing::Age(rs) => {
            let enc = age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| std::io::Error::other(format!("age: {e}")))?;
            let w = enc.wrap_output(out)?;
            compress(entries, mtime, c, w)?.finish()
        }
        Sealing::Pgp(keys) => {
            // rPGP's streaming builder reads its input: feed it through a pipe from a
            // thread that writes the compressed tar.
            let (reader, writer) = std::io::pipe()?;
            std::thread::scope(|scope| {
                let producer = scope.spawn(move || compress(entries, mtime, c, writer).map(drop));
                let mut rng = rand::thread_rng();
                let mut builder = pgp::composed::MessageBuilder::from_reader("", reader)
                    .seipd_v1(&mut rng, pgp::crypto::sym::SymmetricKeyAlgorithm::AES256);
                for k in keys {
                    builder
                        .encrypt_to_key(&mut rng, k)
                        .map_err(|e| std::io::Error::other(format!("OpenPGP: {e}")))?;
                }
                let mut out = out;
                let written = builder
                    .to_writer(&mut rng, &mut out)
                    .map_err(|e| std::io::Error::other(format!("OpenPGP: {e}")));
                let produced = producer
                    .join()
                    .map_err(|_| std::io::Error::other("archive writer panicked"))?;
                produced?;
                written?;
                Ok(out)
            })
        }
    }
}

/// A decryption identity: an age identity file, or an OpenPGP secret key (unprotected,
/// or with the passphrase in VOUCH_IDENTITY_PASSPHRASE).
#[allow(clippy::large_enum_variant)] // one identity per command; boxing would only add indirection
pub enum Identity {
    /// The identities of an age identity file.
    Age(Vec<age::x25519::Identity>),
    /// An OpenPGP secret key.
    Pgp(pgp::composed::SignedSecretKey),
}

/// Read a decryption identity file: age identities, or else an OpenPGP secret key.
pub fn read_identity(path: &Path) -> Result<Identity, String> {
    let text = std::fs::read(path).map_err(|e| format!("identity {}: {e}", path.display()))?;
    let s = String::from_utf8_lossy(&text);
    let ages: Vec<age::x25519::Identity> = s
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .filter_map(|l| age::x25519::Identity::from_str(l).ok())
        .collect();
    if !ages.is_empty() {
        return Ok(Identity::Age(ages));
    }
    use pgp::composed::Deserializable;
    let key = if text.starts_with(b"-----BEGIN") {
        pgp::composed::SignedSecretKey::from_armor_single(&text[..]).map(|(k, _)| k)
    } else {
        pgp::composed::SignedSecretKey::from_bytes(&text[..])
    }
    .map_err(|_| {
        format!(
            "{}: neither an age identity (AGE-SECRET-KEY-…) nor an OpenPGP secret key",
            path.display()
        )
    })?;
    Ok(Identity::Pgp(key))
}

/// Open a sealed archive for reading: decrypt (by the identity's kind) and decompress
/// (by magic bytes). Returns a reader of the plain tar.
pub fn open<'a, R: BufRead + Send + std::fmt::Debug + 'a>(
    input: R,
    identity: Option<&'a Identity>,
) -> Result<Box<dyn Read + 'a>, String> {
    let decrypted: Box<dyn BufRead + 'a> = match identity {
        None => Box::new(input),
        Some(Identity::Age(ids)) => {
            let d =
                age::Decryptor::new_buffered(input).map_err(|e| format!("not an age file: {e}"))?;
            let r = d
                .decrypt(ids.iter().map(|i| i as &dyn age::Identity))
                .map_err(|e| format!("age: {e}"))?;
            Box::new(std::io::BufReader::with_capacity(1 << 20, r))
        }
        Some(Identity::Pgp(key)) => {
            let (msg, _) = pgp::composed::Message::from_reader(input)
                .map_err(|e| format!("not an OpenPGP message: {e}"))?;
            let pw = std::env::var("VOUCH_IDENTITY_PASSPHRASE").unwrap_or_default();
            let msg = msg
                .decrypt(&pgp::types::Password::from(pw.as_str()), key)
                .map_err(|e| format!("OpenPGP: {e}"))?;
            let msg = if msg.is_compressed() {
                msg.decompress().map_err(|e| format!("OpenPGP: {e}"))?
            } else {
                msg
            };
            Box::new(std::io::BufReader::with_capacity(1 << 20, msg))
        }
    };
    let mut decrypted = decrypted;
    let head = decrypted
        .fill_buf()
        .map_err(|e| format!("reading the archive: {e}"))?;
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(
            zstd::Decoder::with_buffer(decrypted).map_err(|e| e.to_string())?,
        ))
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::GzDecoder::new(decrypted)))
    } else if head.starts_with(b"age-encryption.org/") {
        Err("the archive is age-encrypted: give --identity with an age identity".into())
    } else if identity.is_none() && !head.is_empty() && head[0] & 0x80 != 0 {
        Err("the archive looks OpenPGP-encrypted: give --identity with the secret key".into())
    } else {
        Err("not a vouch archive (neither zstd nor gzip after decryption)".into())
    }
}
