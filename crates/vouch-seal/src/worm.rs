//! Write-once storage: a local directory (create-new files, read-only, a second write to
//! a key refused) or an S3 bucket with Object Lock in COMPLIANCE mode.

use super::s3::S3;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Write-once storage.
pub enum Worm {
    /// A local directory.
    Dir(PathBuf),
    /// An S3 bucket with Object Lock; keys are put under `prefix`.
    S3 {
        /// The client for the bucket.
        client: S3,
        /// Prefix put before every key (empty or ending in `/`).
        prefix: String,
    },
}

/// Where an object went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    /// The object's key.
    pub key: String,
    /// Where it is (a path, or `s3://bucket/key`).
    pub uri: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the object.
    pub sha256: String,
    /// Until when it may not be changed or deleted.
    pub retain_until: String,
    /// How it is locked (`COMPLIANCE` on S3).
    pub lock_mode: String,
    /// The S3 version id, if any.
    pub version_id: Option<String>,
}

impl Worm {
    /// `dir` (under the data dir), `dir:/path`, or `s3://bucket[/prefix]`.
    pub fn open(spec: &str, data_dir: &Path) -> Result<Worm, String> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("`{spec}`: no bucket"));
            }
            let prefix = prefix.trim_matches('/');
            return Ok(Worm::S3 {
                client: S3::from_env(bucket)?,
                prefix: if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                },
            });
        }
        let dir = match spec {
            "dir" | "" => data_dir.join("worm"),
            s if s.starts_with("dir:") => {
                let p = PathBuf::from(&s[4..]);
                if p.is_absolute() {
                    p
                } else {
                    data_dir.join(p)
                }
            }
            _ => {
                return Err(format!(
                    "archive storage `{spec}` must be `dir`, `dir:/path` or `s3://bucket/prefix`"
                ))
            }
        };
        Ok(Worm::Dir(dir))
    }

    /// The storage, for messages (a path or `s3://bucket/prefix`).
    pub fn describe(&self) -> String {
        match self {
            Worm::Dir(d) => d.display().to_string(),
            Worm::S3 { client, prefix } => format!("s3://{}/{prefix}", client.bucket),
        }
    }

    /// The folder of a period's archive, relative to the storage root: `soc2/<slug>`,
    /// or `<slug>` when the root already ends in `soc2` (`s3://bucket/soc2` writes
    /// `soc2/2026-10/`, not `soc2/soc2/2026-10/`).
    pub fn folder_for(&self, slug: &str) -> String {
        let last = match self {
            Worm::Dir(d) => d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Worm::S3 { prefix, .. } => prefix
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string(),
        };
        if last == "soc2" {
            slug.to_string()
        } else {
            format!("soc2/{slug}")
        }
    }

    /// Directory storage: refuse a folder on the way to `folder` (below the storage
    /// root) that is a symbolic link, rather than follow it somewhere writable.
    pub fn check_folder(&self, folder: &str) -> Result<(), String> {
        let Worm::Dir(root) = self else {
            return Ok(());
        };
        let mut p = root.clone();
        for part in Path::new(folder).components() {
            match part {
                std::path::Component::Normal(c) => p.push(c),
                _ => return Err(format!("`{folder}` is not a plain relative folder")),
            }
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{} is a symbolic link; WORM storage does not follow links (remove it or point --storage at the real directory)",
                        p.display()
                    ))
                }
                Ok(m) if !m.is_dir() => {
                    return Err(format!("{} exists and is not a directory", p.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Directory storage: make a completed folder read-only (0555), so nothing is
    /// added to or removed from it later. S3 objects are locked one by one.
    pub fn seal_folder(&self, folder: &str) -> Result<(), String> {
        let Worm::Dir(root) = self else {
            return Ok(());
        };
        let dir = root.join(folder);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// Whether retain-until is enforced by the storage (S3 Object Lock) or only
    /// advisory (a local directory: read-only modes, which an administrator can undo).
    pub fn retention_enforced(&self) -> bool {
        matches!(self, Worm::S3 { .. })
    }

    /// Where archives are staged before they are stored (encrypted bytes only).
    pub fn staging(&self, data_dir: &Path) -> PathBuf {
        match self {
            // Same file system as the store, so storing is a link, not a copy.
            Worm::Dir(d) => d.join(".staging"),
            Worm::S3 { .. } => data_dir.join("tmp"),
        }
    }

    /// Where `key` is or would be stored.
    pub fn uri(&self, key: &str) -> String {
        match self {
            Worm::Dir(d) => d.join(key).display().to_string(),
            Worm::S3 { client, prefix } => format!("s3://{}/{prefix}{key}", client.bucket),
        }
    }

    /// Whether an object is stored under `key`.
    pub fn exists(&self, key: &str) -> Result<bool, String> {
        match self {
            Worm::Dir(d) => Ok(d.join(key).exists()),
            Worm::S3 { client, prefix } => Ok(client.head(&format!("{prefix}{key}"))?.is_some()),
        }
    }

    /// Store `local` under `key`, once. The staged file is consumed.
    pub fn put(
        &self,
        key: &str,
        local: &Path,
        sha256: &str,
        retain_until: DateTime<Utc>,
        legal_hold: bool,
    ) -> Result<Stored, String> {
        let size = std::fs::metadata(local)
            .map_err(|e| format!("{}: {e}", local.display()))?
            .len();
        let until = retain_until.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        match self {
            Worm::Dir(d) => {
                let dest = d.join(key);
                if let Some(folder) = Path::new(key).parent() {
                    self.check_folder(&folder.to_string_lossy())?;
                }
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                // A hard link fails when the name exists: create-new, atomically.
                std::fs::hard_link(local, &dest).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        format!(
                            "{} already exists in WORM storage; it is never overwritten",
                            dest.display()
                        )
                    } else {
                        format!("{}: {e}", dest.display())
                    }
                })?;
                let _ = std::fs::remove_file(local);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o444))
                        .map_err(|e| e.to_string())?;
                }
                Ok(Stored {
                    key: key.into(),
                    uri: dest.display().to_string(),
                    size,
                    sha256: sha256.into(),
                    retain_until: until,
                    lock_mode: "read-only file; retain-until advisory".into(),
                    version_id: None,
                })
            }
            Worm::S3 { client, prefix } => {
                let full = format!("{prefix}{key}");
                let version = client.put_locked(&full, local, sha256, retain_until, legal_hold)?;
                let _ = std::fs::remove_file(local);
                Ok(Stored {
                    key: key.into(),
                    uri: format!("s3://{}/{full}", client.bucket),
                    size,
                    sha256: sha256.into(),
                    retain_until: until,
                    lock_mode: "COMPLIANCE".into(),
                    version_id: version,
                })
            }
        }
    }

    /// Read a stored object by URI or path.
    pub fn read(uri: &str) -> Result<Box<dyn std::io::Read + Send>, String> {
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| format!("`{uri}`: no key"))?;
            return S3::from_env(bucket)?.get(key);
        }
        let f = std::fs::File::open(uri).map_err(|e| format!("{uri}: {e}"))?;
        Ok(Box::new(f))
    }
}
