//! The bundle of a period: what goes into the archive, the signed manifest, and the
//! deterministic tar stream (sorted entries, fixed mtime, uid, gid and mode), so the same
//! content always gives the same bytes before compression and encryption.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Where an entry's bytes come from. Content is read when the tar is written, so a
/// bundle of any size streams through memory.
#[derive(Debug, Clone)]
pub enum Source {
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// A file read when the tar is written.
    File(PathBuf),
}

/// One file of a bundle, with its size and hash known before the tar is written.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the bundle.
    pub path: String,
    /// Where the content comes from.
    pub source: Source,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

impl Entry {
    /// An entry holding `bytes` at `path`.
    pub fn bytes(path: impl Into<String>, bytes: Vec<u8>) -> Entry {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Entry {
            path: path.into(),
            size: bytes.len() as u64,
            sha256,
            source: Source::Bytes(bytes),
        }
    }

    /// A file whose hash is already known (blobs are named by it; packet files are hashed
    /// on the way in).
    pub fn file(path: impl Into<String>, file: PathBuf, size: u64, sha256: String) -> Entry {
        Entry {
            path: path.into(),
            source: Source::File(file),
            size,
            sha256,
        }
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(match &self.source {
            Source::Bytes(b) => Box::new(&b[..]),
            Source::File(p) => Box::new(std::io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(p)?,
            )),
        })
    }
}

/// File name of the bundle's manifest.
pub const MANIFEST: &str = "MANIFEST.json";
/// File name of the manifest's signature.
pub const MANIFEST_SIG: &str = "MANIFEST.json.sig";
/// The manifest's `schema` value.
pub const MANIFEST_SCHEMA: &str = "vouch.archive-manifest/v1";

/// MANIFEST.json: every other file's path, size and SHA-256 (canonical JSON).
pub fn manifest(
    entries: &[Entry],
    period: &Value,
    created_at: &str,
    signing_key_id: &str,
) -> Vec<u8> {
    let mut files: Vec<Value> = entries
        .iter()
        .map(|e| json!({"path": e.path, "size": e.size, "sha256": e.sha256}))
        .collect();
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    vouch_core::canonical::to_vec(&json!({
        "schema": MANIFEST_SCHEMA,
        "period": period,
        "created_at": created_at,
        "generator": {"name": "vouch", "version": vouch_core::VERSION},
        "signing_key_id": signing_key_id,
        "files": files,
    }))
}

/// Write the entries as a ustar archive, sorted by path, with fixed metadata.
pub fn write_tar<W: Write>(entries: &[Entry], mtime: u64, out: W) -> std::io::Result<W> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    for e in sorted {
        let mut h = tar::Header::new_ustar();
        h.set_size(e.size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        let reader = e.open()?;
        // Refuse to write an entry whose content changed since it was listed: the
        // manifest would lie.
        let mut checked = Checked {
            inner: reader,
            hasher: Sha256::new(),
            read: 0,
        };
        builder.append_data(&mut h, &e.path, &mut checked)?;
        let got = hex::encode(checked.hasher.finalize());
        if got != e.sha256 || checked.read != e.size {
            return Err(std::io::Error::other(format!(
                "{} changed while being archived (sha256 {got}, expected {})",
                e.path, e.sha256
            )));
        }
    }
    builder.into_inner()
}

struct Checked<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through.
pub struct HashingWriter<W> {
    /// The writer passed through to.
    pub inner: W,
    /// SHA-256 of the bytes written so far.
    pub hasher: Sha256,
    /// Bytes written so far.
    pub written: u64,
}

impl<W: Write> HashingWriter<W> {
    /// A writer over `inner` that has hashed nothing yet.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }
    /// The inner writer, the hex SHA-256 and the count of the bytes written.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_is_deterministic_and_checked() {
        let a = vec![
            Entry::bytes("b/two.txt", b"two".to_vec()),
            Entry::bytes("a.txt", b"one".to_vec()),
        ];
        let mut b = a.clone();
        b.reverse();
        let x = write_tar(&a, 1_700_000_000, Vec::new()).unwrap();
        let y = write_tar(&b, 1_700_000_000, Vec::new()).unwrap();
        assert_eq!(x, y);
        let mut ar = tar::Archive::new(&x[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["a.txt", "b/two.txt"]);
        let mut bad = a.clone();
        bad[0].sha256 = "0".repeat(64);
        assert!(write_tar(&bad, 0, Vec::new())
            .unwrap_err()
            .to_string()
            .contains("changed while being archived"));
    }
}
