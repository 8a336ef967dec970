//! `vouch-bench archive`: seal an evidence set with vouch, against `tar czf` + `gpg --encrypt`.

use crate::child::own_peak_rss_kb as peak_rss_kb;
use crate::{machine, round};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vouch_engine::Error;

/// Parameters of `vouch-bench archive`.
#[derive(Debug, Clone)]
pub struct ArchiveBench {
    /// Size of the evidence set in MiB.
    pub size_mb: u64,
    /// Scratch directory (the evidence set, archives, keys).
    pub dir: PathBuf,
}

/// `vouch-bench archive`: an evidence set of `size_mb` MiB (NDJSON files like collector
/// output), sealed by vouch (deterministic tar → zstd → age, and → OpenPGP) against seed
/// 001's own pipeline on the same files in the same run: `tar czf` then `gpg --encrypt`.
pub fn archive(b: &ArchiveBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    use std::io::Write;
    use vouch_engine::seal::bundle::Entry;
    use vouch_engine::seal::encrypt::{seal, Compression, Sealing};
    let files_dir = b.dir.join("archive-set");
    let _ = std::fs::remove_dir_all(&files_dir);
    std::fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;
    progress(&format!("writing a {} MiB evidence set", b.size_mb));
    let file_mb = 64u64;
    let n_files = b.size_mb.div_ceil(file_mb).max(1);
    let mut entries = Vec::new();
    let mut state = 0x9e3779b97f4a7c15u64;
    let actions = [
        "user.login",
        "role.assign",
        "config.change",
        "data.export",
        "backup.completed",
        "user.logout",
    ];
    for i in 0..n_files {
        let path = files_dir.join(format!("evidence-{i:04}.ndjson"));
        let mut w = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?,
        );
        let target = (file_mb << 20).min((b.size_mb << 20) - i * (file_mb << 20));
        let mut written = 0u64;
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        while written < target {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let line = format!(
                "{{\"id\":\"{:016x}{:016x}\",\"timestamp\":\"2026-10-{:02}T{:02}:{:02}:{:02}.{:06}Z\",\"actor\":\"usr_{:04}\",\"action\":\"{}\",\"ip\":\"10.{}.{}.{}\",\"bytes\":{}}}\n",
                state, state.rotate_left(17), 1 + state % 31, state % 24, (state >> 8) % 60, (state >> 16) % 60, (state >> 24) % 1_000_000,
                (state >> 32) % 420, actions[(state % 6) as usize], (state >> 40) % 256, (state >> 48) % 256, (state >> 56) % 256, state % 100_000
            );
            let bytes = &line.as_bytes()[..line.len().min((target - written) as usize)];
            w.write_all(bytes).map_err(|e| Error::io(&path, e))?;
            sha2::Digest::update(&mut h, bytes);
            written += bytes.len() as u64;
        }
        w.flush().map_err(|e| Error::io(&path, e))?;
        entries.push(Entry::file(
            format!(
                "evidence/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            path,
            written,
            hex::encode(sha2::Digest::finalize(h)),
        ));
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let rss_before = peak_rss_kb();

    let identity = age::x25519::Identity::generate();
    let out_age = b.dir.join("vouch.tar.zst.age");
    progress("vouch: tar → zstd → age");
    let t = Instant::now();
    let f = std::fs::File::create(&out_age).map_err(|e| Error::io(&out_age, e))?;
    let w = seal(
        &entries,
        0,
        Compression::Zstd,
        &Sealing::Age(vec![identity.to_public()]),
        std::io::BufWriter::with_capacity(1 << 20, f),
    )
    .map_err(|e| Error::config(format!("seal: {e}")))?;
    drop(w);
    let vouch_age = t.elapsed().as_secs_f64();
    let age_size = std::fs::metadata(&out_age).map(|m| m.len()).unwrap_or(0);
    let rss_after = peak_rss_kb();

    // An OpenPGP key made by gpg, used by both vouch's OpenPGP path and the baseline.
    let gnupg = b.dir.join("bench-gnupg");
    let _ = std::fs::remove_dir_all(&gnupg);
    std::fs::create_dir_all(&gnupg).map_err(|e| Error::io(&gnupg, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700));
    }
    let gpg = |args: &[&str]| {
        std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
    };
    let made = gpg(&[
        "--quick-gen-key",
        "Bench <bench@example.com>",
        "default",
        "default",
        "never",
    ])
    .map(|o| o.status.success())
    .unwrap_or(false);
    let mut vouch_gpg = None;
    let mut baseline = json!({"skipped": "gpg is not installed"});
    if made {
        let pub_path = b.dir.join("bench.asc");
        let exported = gpg(&["--armor", "--export", "bench@example.com"])
            .map_err(|e| Error::config(e.to_string()))?;
        std::fs::write(&pub_path, &exported.stdout).map_err(|e| Error::io(&pub_path, e))?;
        if let Ok(vouch_engine::seal::encrypt::Recipient::Pgp(keys, _)) =
            vouch_engine::seal::encrypt::parse_recipient(
                pub_path.to_str().unwrap_or(""),
                Path::new("/"),
            )
        {
            progress("vouch: tar → zstd → OpenPGP");
            let out = b.dir.join("vouch.tar.zst.gpg");
            let t = Instant::now();
            let f = std::fs::File::create(&out).map_err(|e| Error::io(&out, e))?;
            seal(
                &entries,
                0,
                Compression::Zstd,
                &Sealing::Pgp(keys),
                std::io::BufWriter::with_capacity(1 << 20, f),
            )
            .map_err(|e| Error::config(format!("seal: {e}")))?;
            vouch_gpg = Some(round(t.elapsed().as_secs_f64(), 2));
            let _ = std::fs::remove_file(&out);
        }
        progress("baseline (seed 001): tar czf, then gpg --encrypt");
        let tgz = b.dir.join("baseline.tar.gz");
        let t = Instant::now();
        let tar_ok = std::process::Command::new("tar")
            .arg("czf")
            .arg(&tgz)
            .arg("-C")
            .arg(&files_dir)
            .arg(".")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let tar_secs = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let enc = gpg(&[
            "--trust-model",
            "always",
            "--recipient",
            "bench@example.com",
            "--output",
            b.dir.join("baseline.tar.gz.gpg").to_str().unwrap_or(""),
            "--encrypt",
            tgz.to_str().unwrap_or(""),
        ])
        .map(|o| o.status.success())
        .unwrap_or(false);
        let gpg_secs = t2.elapsed().as_secs_f64();
        baseline = if tar_ok && enc {
            json!({"seconds": round(tar_secs + gpg_secs, 2), "tar_czf_seconds": round(tar_secs, 2), "gpg_encrypt_seconds": round(gpg_secs, 2), "bytes": std::fs::metadata(b.dir.join("baseline.tar.gz.gpg")).map(|m| m.len()).unwrap_or(0)})
        } else {
            json!({"skipped": "tar or gpg failed"})
        };
        let _ = std::fs::remove_file(&tgz);
        let _ = std::fs::remove_file(b.dir.join("baseline.tar.gz.gpg"));
    }
    let _ = std::fs::remove_file(&out_age);
    let _ = std::fs::remove_dir_all(&files_dir);
    let _ = std::fs::remove_dir_all(&gnupg);
    let base = baseline["seconds"].as_f64();
    Ok(json!({
        "benchmark": "archive",
        "vouch_version": vouch_engine::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "machine": machine(),
        "evidence_bytes": total,
        "files": entries.len(),
        "vouch_zstd_age": {"seconds": round(vouch_age, 2), "mb_per_sec": round(total as f64 / 1048576.0 / vouch_age.max(1e-9), 1), "bytes": age_size, "peak_rss_mb_before": round(rss_before as f64 / 1024.0, 1), "peak_rss_mb_after": round(rss_after as f64 / 1024.0, 1)},
        "vouch_zstd_openpgp_seconds": vouch_gpg,
        "baseline_tar_czf_then_gpg_encrypt": baseline,
        "speedup_age_vs_baseline": base.map(|b| round(b / vouch_age.max(1e-9), 2)),
        "speedup_openpgp_vs_baseline": base.zip(vouch_gpg).map(|(b, v)| round(b / v.max(1e-9), 2)),
        "goals": {"speedup": 3, "memory": "flat in the size of the set"},
    }))
}
