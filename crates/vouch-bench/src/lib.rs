//! vouch's benchmarks, kept out of the product binary: the ledger (appends, verification
//! and a pgcrypto trigger baseline), the evidence packet, HTTP ingest and query, the
//! audit-log query through its index, sealed archives, and the dashboard's pages. Each prints JSON with a baseline measured in the same run.
//!
//! Without the default feature `full`, only the audit-log benchmark is built (it needs
//! the store and the ledger, not the engine or the server; see Cargo.toml).
//!
//! They use the public APIs of `vouch_engine`, `vouch_store` and `vouch_core`; where a
//! figure is the CLI's own (a `vouch ledger verify` or `vouch packet` process, the HTTP
//! server), they run the `vouch` binary ([`child::Vouch`]) and measure its time and peak
//! RSS from here.

#[cfg(feature = "full")]
pub mod archive;
pub mod auditlog;
#[cfg(feature = "full")]
pub mod child;
#[cfg(feature = "full")]
pub mod dashboard;
#[cfg(feature = "full")]
pub mod http;
#[cfg(feature = "full")]
pub mod ledger;
#[cfg(feature = "full")]
pub mod packet;

use serde_json::{json, Value};

/// `v` rounded to `digits` decimals.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The machine a figure was measured on: CPU model, cores, memory.
pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    json!({"cpu": cpu, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "memory_gib": round(mem as f64 / 1048576.0, 1)})
}

/// Now, as vouch formats timestamps.
pub fn now() -> String {
    vouch_core::event::format_timestamp(&chrono::Utc::now())
}
