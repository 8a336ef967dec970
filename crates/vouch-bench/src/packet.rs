//! `vouch-bench packet`: `vouch packet` for a month of N events, against a dump baseline.

use crate::child::{run_measured, Vouch};
use crate::ledger::{fill_between, Scratch};
use crate::{machine, round};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;
use vouch_engine::demo::day;
use vouch_engine::Error;

/// Parameters of `vouch-bench packet`.
#[derive(Debug, Clone)]
pub struct PacketBench {
    /// Events in the month the packet covers.
    pub events: usize,
    /// Scratch directory (data directory, keys, the packet).
    pub dir: PathBuf,
    /// The `vouch` binary the packet is made by (default: next to this executable).
    pub vouch: Option<PathBuf>,
}

/// `vouch-bench packet`: a month holding `events` ledger events, then `vouch packet` for
/// it in a separate process (time and peak RSS), against a baseline measured in the same
/// run: dumping the same month with the sqlite3 shell and hashing it (no verification,
/// no signatures, no PDF — the floor of "export and checksum").
pub fn packet(b: &PacketBench, progress: &mut dyn FnMut(&str)) -> Result<Value, Error> {
    let vouch = Vouch::locate(b.vouch.as_deref()).map_err(|e| Error::config(format!("{e:#}")))?;
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::io(&b.dir, e))?;
    let s = Scratch::new(&b.dir, "packet", None)?;
    {
        let (_, _, ledger) = s.open()?;
        progress(&format!("filling 2025-06 with {} events", b.events));
        fill_between(
            &ledger,
            b.events,
            day(2025, 6, 1),
            day(2025, 7, 1),
            progress,
        )?;
        ledger.checkpoint()?;
    }
    let out = b.dir.join("packet-out");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = vouch.command(&s.config.data_dir);
    cmd.args([
        "--json", "packet", "--period", "2025-06", "--format", "both", "--out",
    ])
    .arg(&out);
    progress("vouch packet --period 2025-06 (JSON + PDF + exports)");
    let run = run_measured(cmd).map_err(|e| Error::config(format!("{e:#}")))?;
    let (secs, peak_kb) = (run.seconds, run.peak_rss_kb);
    let written: Value = serde_json::from_slice(&run.stdout)
        .map_err(|e| Error::config(format!("packet printed no JSON: {e}")))?;

    progress("baseline: sqlite3 shell dump of the month + sha256sum");
    let db = s.config.database_url();
    let dump = b.dir.join("baseline.ndjson");
    let script = format!(
        "sqlite3 {db:?} \"SELECT leaf FROM ledger_entries WHERE ts >= '2025-06-01T00:00:00.000000Z' AND ts < '2025-07-01T00:00:00.000000Z' ORDER BY seq\" > {dump:?} && sha256sum {dump:?} > /dev/null"
    );
    let t = Instant::now();
    let st = std::process::Command::new("bash")
        .args(["-c", &script])
        .status()
        .map_err(|e| Error::config(format!("baseline: {e}")))?;
    let base_secs = t.elapsed().as_secs_f64();
    let baseline = if st.success() {
        json!({"seconds": round(base_secs, 2)})
    } else {
        json!({"skipped": "the sqlite3 shell is not installed"})
    };
    let _ = std::fs::remove_file(&dump);
    let _ = std::fs::remove_dir_all(&out);
    Ok(json!({
        "benchmark": "packet",
        "vouch_version": vouch_engine::VERSION,
        "date": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "machine": machine(),
        "events_in_month": b.events,
        "packet": {"seconds": round(secs, 2), "peak_rss_mb": round(peak_kb as f64 / 1024.0, 1), "events": written["events"], "files": written["files"]},
        "baseline_sqlite3_dump_and_sha256": baseline,
        "ratio_packet_vs_baseline": baseline["seconds"].as_f64().map(|b| round(secs / b.max(1e-9), 2)),
        "goals": {"seconds": 30, "peak_rss_mb": 300},
    }))
}
