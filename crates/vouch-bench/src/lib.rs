//! vouch's benchmarks, kept out of the product binary: the ledger (appends, verification
//! and a pgcrypto trigger baseline), the evidence packet, HTTP ingest and query, the
//! audit-log query through its index, and sealed archives. Each prints JSON with a baseline measured in the same run.
//!
//! They use the public APIs of `vouch_engine`, `vouch_store` and `vouch_core`; where a
//! figure is the CLI's own (a `vouch ledger verify` or `vouch packet` process, the HTTP
//! server), they run the `vouch` binary ([`child::Vouch`]) and measure its time and peak
//! RSS from here.

pub mod archive;
pub mod auditlog;
pub mod child;
pub mod http;
pub mod ledger;
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
