//! Content-addressed blob store: evidence content lives in files named by their
//! SHA-256 under a directory (`<dir>/sha256/ab/cdef…`). A blob is written to a temporary
//! file and renamed into place, so a reader never sees half a blob, and made read-only.
//! Reads check the hash, so a changed file is reported rather than served.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A content-addressed blob store rooted at one directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A file-system operation on `path` failed.
    #[error("blob store {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// No blob with this hash is stored.
    #[error("blob {0} is not in the blob store")]
    Missing(String),
    /// The stored file no longer hashes to its name.
    #[error("blob {expected} was altered on disk: its content hashes to {actual}")]
    Altered {
        /// The hash the blob is stored under.
        expected: String,
        /// The hash of the file's current content.
        actual: String,
    },
    /// The name given is not a SHA-256 hex digest.
    #[error("`{0}` is not a SHA-256 hex digest")]
    BadHash(String),
}

fn io(path: &Path, source: std::io::Error) -> BlobError {
    BlobError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Lower-case hex SHA-256 of `bytes`, the name of their blob.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl BlobStore {
    /// A store rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobStore { root: root.into() }
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob with this hash lives.
    pub fn path(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::BadHash(sha256.to_string()));
        }
        let h = sha256.to_ascii_lowercase();
        Ok(self.root.join("sha256").join(&h[..2]).join(&h[2..]))
    }

    /// Store `bytes`; returns their SHA-256 (hex). Storing the same bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha)?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), &sha[..16]));
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        drop(f);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o444))
                .map_err(|e| io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(sha)
    }

    /// The content of a blob, checked against its hash.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path(sha256)?;
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                BlobError::Missing(sha256.to_string())
            } else {
                io(&path, e)
            }
        })?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(sha256) {
            return Err(BlobError::Altered {
                expected: sha256.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path());
        let sha = store.put(b"hello").unwrap();
        assert_eq!(sha, sha256_hex(b"hello"));
        assert_eq!(store.put(b"hello").unwrap(), sha);
        assert_eq!(store.get(&sha).unwrap(), b"hello");
        let p = store.path(&sha).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&p, perm).unwrap();
        std::fs::write(&p, b"hellO").unwrap();
        assert!(matches!(store.get(&sha), Err(BlobError::Altered { .. })));
        assert!(matches!(
            store.get(&sha256_hex(b"x")),
            Err(BlobError::Missing(_))
        ));
        assert!(matches!(store.get("../etc"), Err(BlobError::BadHash(_))));
    }
}
