//! `/metrics` in the Prometheus text format. Counters the server itself updates (HTTP
//! requests, ingest latency, verification failures, packet sizes) live in memory;
//! state that lives in the database (ledger size, checkpoint age, collector runs,
//! controls, findings) is read at scrape time, so several replicas report the same.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Bucket bounds (seconds) for latency histograms.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A Prometheus histogram over [`LATENCY_BUCKETS`], updated without locks.
#[derive(Default)]
pub struct Histogram {
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            ..Default::default()
        }
    }
    /// Record one observation of `secs` seconds.
    pub fn observe(&self, secs: f64) {
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            if secs <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn render(&self, out: &mut String, name: &str) {
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {n}");
    }
}

/// The metrics kept in memory (the rest is read from the database at scrape time).
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Time to append an ingested batch.
    pub append_latency: Histogram,
    /// Ledger verifications through the API that found the ledger broken.
    pub verify_failures: AtomicU64,
    /// Size in bytes of the last packet served, by format (`json`, `pdf`).
    pub packet_size: Mutex<BTreeMap<String, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http: Mutex::default(),
            append_latency: Histogram::new(),
            verify_failures: AtomicU64::new(0),
            packet_size: Mutex::default(),
        }
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl Metrics {
    /// Count one HTTP response.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        let mut m = self.http.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }

    /// The text exposition: in-memory series plus `db`, series read from the database.
    pub fn render(&self, db: &DbState) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "vouch_http_requests_total",
            "counter",
            "HTTP requests by method, route and status.",
        );
        for ((m, r, s), n) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "vouch_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {n}",
                label(m),
                label(r)
            );
        }
        header(
            &mut out,
            "vouch_ledger_append_latency_seconds",
            "histogram",
            "Time from an ingest request's arrival to its durable append.",
        );
        self.append_latency
            .render(&mut out, "vouch_ledger_append_latency_seconds");
        header(
            &mut out,
            "vouch_ledger_verify_failures_total",
            "counter",
            "Ledger verifications (by this process) that found the ledger broken.",
        );
        let _ = writeln!(
            out,
            "vouch_ledger_verify_failures_total {}",
            self.verify_failures.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "vouch_soc2_packet_size_bytes",
            "gauge",
            "Size of the last evidence packet served, by format.",
        );
        for (f, n) in self
            .packet_size
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "vouch_soc2_packet_size_bytes{{format=\"{}\"}} {n}",
                label(f)
            );
        }
        header(
            &mut out,
            "vouch_ledger_events_total",
            "counter",
            "Entries in the ledger.",
        );
        let _ = writeln!(out, "vouch_ledger_events_total {}", db.ledger_size);
        header(
            &mut out,
            "vouch_ledger_checkpoint_age_seconds",
            "gauge",
            "Seconds since the latest signed checkpoint (absent before the first).",
        );
        if let Some(a) = db.checkpoint_age {
            let _ = writeln!(out, "vouch_ledger_checkpoint_age_seconds {a}");
        }
        header(
            &mut out,
            "vouch_ledger_unchecked_entries",
            "gauge",
            "Entries appended after the latest checkpoint.",
        );
        let _ = writeln!(
            out,
            "vouch_ledger_unchecked_entries {}",
            db.ledger_size.saturating_sub(db.checkpoint_size)
        );
        header(
            &mut out,
            "vouch_collector_runs_total",
            "counter",
            "Evidence collection runs by source kind and status.",
        );
        for ((k, s), n) in &db.collector_runs {
            let _ = writeln!(
                out,
                "vouch_collector_runs_total{{kind=\"{}\",status=\"{}\"}} {n}",
                label(k),
                label(s)
            );
        }
        header(
            &mut out,
            "vouch_collector_errors_total",
            "counter",
            "Evidence collection runs that failed.",
        );
        let errors: u64 = db
            .collector_runs
            .iter()
            .filter(|((_, s), _)| s == "error")
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(out, "vouch_collector_errors_total {errors}");
        header(
            &mut out,
            "vouch_evidence_newest_age_seconds",
            "gauge",
            "Seconds since the newest successful collection of each evidence definition.",
        );
        for (id, age) in &db.evidence_age {
            let _ = writeln!(
                out,
                "vouch_evidence_newest_age_seconds{{evidence=\"{}\"}} {age}",
                label(id)
            );
        }
        header(
            &mut out,
            "vouch_controls",
            "gauge",
            "Controls by status for the previous month.",
        );
        for s in vouch_engine::checks::controls::STATUSES {
            let n = db.controls.get(*s).copied().unwrap_or(0);
            let _ = writeln!(out, "vouch_controls{{status=\"{s}\"}} {n}");
        }
        header(
            &mut out,
            "vouch_findings_open",
            "gauge",
            "Open findings by severity.",
        );
        for (s, n) in &db.open_findings {
            let _ = writeln!(out, "vouch_findings_open{{severity=\"{}\"}} {n}", label(s));
        }
        header(
            &mut out,
            "vouch_incidents_open",
            "gauge",
            "Open incidents (not closed or dismissed) by severity.",
        );
        for (s, n) in &db.incidents_open {
            let _ = writeln!(out, "vouch_incidents_open{{severity=\"{}\"}} {n}", label(s));
        }
        header(
            &mut out,
            "vouch_incident_response_breaches_total",
            "counter",
            "Incidents whose response deadline was breached (recorded breaches; never decreases).",
        );
        let _ = writeln!(
            out,
            "vouch_incident_response_breaches_total {}",
            db.incident_breaches
        );
        header(
            &mut out,
            "vouch_soc2_job_runs_total",
            "counter",
            "Finished job runs (from the run history) by job and final status: succeeded or failed (after its retries).",
        );
        for ((job, status), n) in &db.job_runs {
            let _ = writeln!(
                out,
                "vouch_soc2_job_runs_total{{job=\"{}\",status=\"{}\"}} {n}",
                label(job),
                label(status)
            );
        }
        header(
            &mut out,
            "vouch_soc2_job_duration_seconds",
            "histogram",
            "Run time of finished job runs, from the run history.",
        );
        for (job, secs) in &db.job_durations {
            let job = label(job);
            for b in JOB_BUCKETS {
                let n = secs.iter().filter(|s| **s <= *b).count();
                let _ = writeln!(
                    out,
                    "vouch_soc2_job_duration_seconds_bucket{{job=\"{job}\",le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "vouch_soc2_job_duration_seconds_bucket{{job=\"{job}\",le=\"+Inf\"}} {}",
                secs.len()
            );
            let _ = writeln!(
                out,
                "vouch_soc2_job_duration_seconds_sum{{job=\"{job}\"}} {}",
                secs.iter().sum::<f64>()
            );
            let _ = writeln!(
                out,
                "vouch_soc2_job_duration_seconds_count{{job=\"{job}\"}} {}",
                secs.len()
            );
        }
        header(
            &mut out,
            "vouch_attestation_signed",
            "gauge",
            "Whether each period's attestation is signed (1) or not (0: open, closed unsigned or missed).",
        );
        for (period, signed, _) in &db.attestations {
            let _ = writeln!(
                out,
                "vouch_attestation_signed{{period=\"{}\"}} {}",
                label(period),
                u8::from(*signed)
            );
        }
        header(
            &mut out,
            "vouch_attestation_window_closes_in_seconds",
            "gauge",
            "Seconds until the hard close of each attestation window that is open and unsigned.",
        );
        for (period, _, closes) in &db.attestations {
            if let Some(secs) = closes.filter(|s| *s > 0) {
                let _ = writeln!(
                    out,
                    "vouch_attestation_window_closes_in_seconds{{period=\"{}\"}} {secs}",
                    label(period)
                );
            }
        }
        header(
            &mut out,
            "vouch_ledger_late_events_total",
            "counter",
            "Events appended after the packet of the period their timestamp falls in (late arrivals), by period.",
        );
        for (period, n) in &db.late_events {
            let _ = writeln!(
                out,
                "vouch_ledger_late_events_total{{period=\"{}\"}} {n}",
                label(period)
            );
        }
        out
    }
}

/// Bucket bounds (seconds) for job run times.
pub const JOB_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// State read from the database at scrape time.
#[derive(Default)]
pub struct DbState {
    /// Finished job runs by (job, status).
    pub job_runs: BTreeMap<(String, String), u64>,
    /// Durations in seconds of finished job runs, by job.
    pub job_durations: BTreeMap<String, Vec<f64>>,
    /// Late-arriving events by period.
    pub late_events: BTreeMap<String, u64>,
    /// Entries in the ledger.
    pub ledger_size: u64,
    /// Tree size of the latest checkpoint.
    pub checkpoint_size: u64,
    /// Seconds since the latest checkpoint was made.
    pub checkpoint_age: Option<i64>,
    /// Evidence collections by (source kind, status).
    pub collector_runs: BTreeMap<(String, String), u64>,
    /// Seconds since each evidence definition's newest successful collection.
    pub evidence_age: BTreeMap<String, i64>,
    /// Controls by status, over last month.
    pub controls: BTreeMap<String, u64>,
    /// Open findings by severity.
    pub open_findings: BTreeMap<String, u64>,
    /// Open incidents by severity (every severity, 0 included).
    pub incidents_open: Vec<(String, u64)>,
    /// Incidents with a recorded response-deadline breach.
    pub incident_breaches: u64,
    /// Attestations: (period, signed, seconds until the hard close while unsigned).
    pub attestations: Vec<(String, bool, Option<i64>)>,
}

/// Read the database-backed series for a scrape.
pub fn read_db(app: &crate::App) -> Result<DbState, crate::error::ApiError> {
    let now = chrono::Utc::now();
    let mut d = DbState {
        ledger_size: app.store.head()?.size,
        ..Default::default()
    };
    if let Some(c) = app.ledger.latest_checkpoint()? {
        d.checkpoint_size = c.size;
        d.checkpoint_age =
            vouch_core::period::parse_instant(&c.created_at).map(|t| (now - t).num_seconds());
    }
    for r in app.store.query("SELECT record FROM evidence_items", &[])? {
        let v: serde_json::Value = serde_json::from_str(&r.text(0)).unwrap_or_default();
        let kind = v["source"]["kind"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let status = v["status"].as_str().unwrap_or("unknown").to_string();
        *d.collector_runs.entry((kind, status.clone())).or_default() += 1;
        if status == "ok" {
            if let Some(t) = v["finished_at"]
                .as_str()
                .and_then(vouch_core::period::parse_instant)
            {
                let age = (now - t).num_seconds();
                let e = d
                    .evidence_age
                    .entry(v["evidence_id"].as_str().unwrap_or("").to_string())
                    .or_insert(age);
                *e = (*e).min(age);
            }
        }
    }
    // Every job's final statuses start at 0, so the first failure is an increase.
    for j in vouch_engine::jobs::JOBS {
        for status in ["succeeded", "failed"] {
            d.job_runs
                .insert((j.name.to_string(), status.to_string()), 0);
        }
    }
    for r in
        vouch_engine::jobs::runs(&app.store, None, 100_000).map_err(crate::error::ApiError::from)?
    {
        let job = r.job.clone();
        let status = r.status.as_str();
        // Running and retrying runs are not finished: counting them would make the
        // counter go down when they finish.
        if status != "succeeded" && status != "failed" {
            continue;
        }
        *d.job_runs
            .entry((job.clone(), status.to_string()))
            .or_default() += 1;
        let started = vouch_core::period::parse_instant(&r.started_at);
        let finished = r
            .finished_at
            .as_deref()
            .and_then(vouch_core::period::parse_instant);
        if let (Some(a), Some(b)) = (started, finished) {
            d.job_durations
                .entry(job)
                .or_default()
                .push((b - a).num_milliseconds() as f64 / 1000.0);
        }
    }
    for l in vouch_engine::packet::series::late_arrivals(&app.store)
        .map_err(crate::error::ApiError::from)?
    {
        d.late_events.insert(l.period, l.count);
    }
    let period = vouch_core::period::Period::last_month(now);
    for c in vouch_engine::checks::controls::evaluate(&app.config, &app.store, &period, now, None)?
    {
        *d.controls
            .entry(c["status"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    d.attestations = vouch_engine::signoff::attest::metrics(&app.store, now)
        .map_err(|e| crate::error::ApiError::from(vouch_engine::Error::from(e)))?;
    for f in vouch_engine::checks::findings::list(&app.store, Some("open"))? {
        *d.open_findings
            .entry(f["severity"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let (open, breaches) =
        vouch_engine::incidents::counts(&app.store).map_err(crate::error::ApiError::from)?;
    d.incidents_open = open;
    d.incident_breaches = breaches;
    Ok(d)
}
