//! The durable scheduler: built-in jobs with cron schedules, each period run exactly once
//! however many `vouch serve` processes share the database (the run key is unique:
//! `generate-soc2-evidence:2026-10`), retries with exponential backoff, catch-up of a
//! run missed while vouch was down, a run history, and an injectable clock so tests can
//! travel in time. Every log line of a job starts with `[JOB: <name>]` (seed 000).

pub mod cron;

use crate::{Config, Error, Keys, Ledger};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_store::Store;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// Errors of the scheduler and of running a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No job has this name.
    #[error("{0}")]
    UnknownJob(String),
    /// No job run has this id.
    #[error("{0}")]
    UnknownRun(String),
    /// The same run (job, period, time) is running already.
    #[error("{0}")]
    AlreadyRunning(String),
    /// A job's schedule is not a valid cron expression.
    #[error("{0}")]
    Schedule(String),
    /// The nightly verification found the ledger broken.
    #[error("{0}")]
    LedgerBroken(String),
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand.
pub struct ManualClock(pub std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(t))
    }
    /// Move the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A scheduled job: its name, schedule and what it does.
pub struct JobDef {
    /// The job's name (`verify-ledger`).
    pub name: &'static str,
    /// Its cron schedule (UTC).
    pub schedule: &'static str,
    /// How far back a missed occurrence is still caught up.
    pub catch_up_days: i64,
    /// What it does, for people.
    pub description: &'static str,
}

/// Every scheduled job.
pub const JOBS: &[JobDef] = &[
    JobDef {
        name: "generate-soc2-evidence",
        schedule: "0 3 1 * *",
        catch_up_days: 62,
        description: "the previous calendar month: collect, check, packet, archive",
    },
    JobDef {
        name: "verify-ledger",
        schedule: "0 2 * * *",
        catch_up_days: 2,
        description:
            "verify the whole ledger; record the result in the integrity log and the ledger",
    },
    JobDef {
        name: "retention",
        schedule: "30 3 * * *",
        catch_up_days: 2,
        description: "archive entries past their retention class to WORM and prune them (the tree stays verifiable)",
    },
    JobDef {
        name: "attestation-draft",
        schedule: "0 0 * * *",
        catch_up_days: 2,
        description: "daily at 00:00 UTC (windows open and close at midnight): open attestation windows with a draft at their opening ([attestations] schedule, seed 002); record windows that closed unopened as missed and unsigned ones as overdue (high findings)",
    },
    JobDef {
        name: "witness",
        schedule: "20 0 * * *",
        catch_up_days: 2,
        description: "daily at 00:20 UTC (and before each monthly packet): submit the latest checkpoint to the [[witness]] entries of vouch.toml (C2SP tlog-witness) and store their cosignatures; when [timestamp] url is set, timestamp the latest checkpoint (RFC 3161, with or without witnesses; nothing to do without either)",
    },
];

/// The job that generates requested reports (one run per report:
/// `generate-report:<report id>`); not scheduled by cron, so not in [`JOBS`].
pub const REPORT_JOB: &str = "generate-report";

/// The job named `name`.
pub fn job(name: &str) -> Option<&'static JobDef> {
    JOBS.iter().find(|j| j.name == name)
}

/// The period an occurrence of a job works on, and its label for the run key.
pub fn period_of(job: &str, occurrence: DateTime<Utc>) -> Period {
    match job {
        "generate-soc2-evidence" => Period::last_month(occurrence),
        _ => Period::parse(&occurrence.format("%Y-%m-%d").to_string(), occurrence)
            .unwrap_or_else(|_| Period::month_of(occurrence)),
    }
}

/// Runs due jobs durably: claims runs, retries failures, catches up missed occurrences.
pub struct Runner<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Where runs are recorded.
    pub store: Store,
    /// The keys jobs sign with.
    pub keys: &'a Keys,
    /// The ledger jobs read and record into.
    pub ledger: &'a Ledger,
    /// Where "now" comes from.
    pub clock: &'a dyn Clock,
    /// Who claims runs (host:pid), recorded in the history.
    pub worker: String,
    /// Attempts of a run before it fails for good.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled on each further one.
    pub backoff: Duration,
    /// Occurrences before this are never caught up (vouch was not there to run them).
    /// `None`: when this database was initialised ([`initialized_at`]).
    pub not_before: Option<DateTime<Utc>>,
}

/// When the database was initialised (its first migration), if recorded.
pub fn initialized_at(store: &Store) -> Result<Option<DateTime<Utc>>, Error> {
    let sql = if store.kind() == "postgres" {
        "SELECT to_char(min(applied_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM schema_migrations"
    } else {
        "SELECT min(applied_at) FROM schema_migrations"
    };
    let rows = store.query(sql, &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.opt_text(0))
        .and_then(|t| chrono::NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S").ok())
        .map(|n| n.and_utc()))
}

/// The timestamp of the ledger's first event from an audited system, if any: vouch's
/// own events (its jobs, checks, packets, API self-audit: [`crate::audit::is_own`]) do
/// not count, so a ledger that received nothing does not start the catch-up.
pub fn first_event_at(store: &Store) -> Result<Option<DateTime<Utc>>, Error> {
    let [a, b] = crate::audit::OWN_MARKERS.map(|m| format!("%{m}%"));
    let rows = store.query(
        "SELECT ts FROM ledger_entries WHERE leaf NOT LIKE $1 AND leaf NOT LIKE $2 ORDER BY seq LIMIT 1",
        &[a.into(), b.into()],
    )?;
    Ok(rows
        .first()
        .and_then(|r| r.opt_text(0))
        .and_then(|t| vouch_core::period::parse_instant(&t)))
}

/// How long a run may stay `running` before it is taken for abandoned (its worker
/// stopped without recording an end). Runs hold no heartbeat, so the lease is generous:
/// the longest job, a 10M-event month's packet, takes about a minute.
pub const RUN_LEASE_HOURS: i64 = 6;

impl Runner<'_> {
    /// Runs still `running` past [`RUN_LEASE_HOURS`]: their worker died (killed, host
    /// lost), and their run key would otherwise block the period forever. Each is
    /// recorded as abandoned — `retrying` now, or `failed` after the last attempt — with
    /// a `job.abandoned` ledger event, and retried by this tick like any failed attempt.
    /// The write is conditional (still running, same start) and undone if the ledger
    /// refuses the event.
    fn reclaim_abandoned(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let cutoff = ts(&(now - Duration::hours(RUN_LEASE_HOURS)));
        let stale = self.store.query(
            "SELECT id, job, run_key, attempt, claimed_by, started_at, error FROM job_runs WHERE status = 'running' AND started_at < $1 ORDER BY started_at",
            &[cutoff.into()],
        )?;
        for r in &stale {
            self.reclaim_one(r, now)?;
        }
        Ok(())
    }

    fn reclaim_one(&self, r: &vouch_store::Row, now: DateTime<Utc>) -> Result<(), Error> {
        let (id, job, key, attempt) = (r.text(0), r.text(1), r.text(2), r.int(3));
        let (worker, started, old_error) = (r.text(4), r.text(5), r.opt_text(6));
        let last = attempt >= i64::from(self.max_attempts);
        let status = if last { "failed" } else { "retrying" };
        let next = (!last).then(|| ts(&now));
        let error = format!(
            "abandoned: attempt {attempt} started {started} by {worker} was still running after {RUN_LEASE_HOURS} h (its worker stopped); reclaimed by {}",
            self.worker
        );
        let mut changed = 0;
        self.store.write(&mut |sql| {
            changed = sql.execute(
                "UPDATE job_runs SET status = $3, finished_at = $4, next_attempt_at = $5, error = $6 WHERE id = $1 AND status = 'running' AND started_at = $2",
                &[id.clone().into(), started.clone().into(), status.into(), ts(&now).into(), next.clone().into(), error.clone().into()],
            )?;
            Ok(())
        })?;
        if changed == 0 {
            return Ok(()); // finished or reclaimed meanwhile
        }
        let logged = crate::audit::record(
            self.ledger,
            json!({
                "action": "job.abandoned", "category": "system", "result": "failure",
                "resource": {"type": "job", "id": key, "name": job},
                "details": {"description": format!("[JOB: {job}] {key}: {error}; {}", if last { "no attempts left, failed" } else { "retrying" })},
                "metadata": {"run_id": id, "attempt": attempt, "worker": worker, "started_at": started, "reclaimed_by": self.worker, "status": status},
            }),
        );
        if let Err(e) = logged {
            let _ = self.store.write(&mut |sql| {
                sql.execute(
                    "UPDATE job_runs SET status = 'running', finished_at = NULL, next_attempt_at = NULL, error = $3 WHERE id = $1 AND status = $2",
                    &[id.clone().into(), status.into(), old_error.clone().into()],
                )?;
                Ok(())
            });
            return Err(e.into());
        }
        tracing::warn!("[JOB: {job}] {error}");
        if job == REPORT_JOB {
            let report = key.strip_prefix("generate-report:").unwrap_or(&key);
            crate::reports::set_status(&self.store, report, status, &id, Some(&error), None)?;
        }
        Ok(())
    }
}

/// One job run as recorded (a row of `job_runs`).
///
/// Fields are declared in alphabetical order: the JSON it serializes to is byte-identical
/// to the `serde_json::Value` object (sorted keys) that a run used to be. Absent optional
/// values serialize as `null`, never omitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Run {
    /// The attempt number of this run (1 for the first try; retries increment it).
    pub attempt: i64,
    /// Who claimed the run (`host:pid`, or `cli:pid` for a manual run from the CLI).
    pub claimed_by: String,
    /// The error of the last failed attempt, if any.
    pub error: Option<String>,
    /// When the run finished (RFC 3339), `None` while it is running.
    pub finished_at: Option<String>,
    /// The run's id (a UUIDv7).
    pub id: String,
    /// The job's name (`verify-ledger`).
    pub job: String,
    /// When a retrying run will be tried again, if it is retrying.
    pub next_attempt_at: Option<String>,
    /// What a succeeded run produced (open-ended JSON per job: `evidence`, `checks`,
    /// `packet`, `archive`, `note`…); `None` unless it succeeded.
    pub outputs: Option<Value>,
    /// The unique run key (`generate-soc2-evidence:2026-10`, or `…:manual-<time>`).
    pub run_key: String,
    /// The occurrence the run is for (RFC 3339).
    pub scheduled_for: String,
    /// When the (latest attempt of the) run started (RFC 3339).
    pub started_at: String,
    /// `running`, `succeeded`, `retrying` or `failed`.
    pub status: String,
}

impl std::fmt::Display for Run {
    /// The run as compact JSON (what `{run}` printed when a run was a `Value`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

fn log(job: &str, msg: &str) {
    tracing::info!("[JOB: {job}] {msg}");
}

impl Runner<'_> {
    /// Run every job whose latest occurrence has no run yet, and every retry that is due.
    pub fn tick(&self) -> Result<Vec<Run>, Error> {
        let now = self.clock.now();
        let not_before = match self.not_before {
            Some(t) => Some(t),
            None => initialized_at(&self.store)?,
        };
        self.reclaim_abandoned(now)?;
        let mut done = Vec::new();
        for j in JOBS {
            let cron = cron::Cron::parse(j.schedule).map_err(JobError::Schedule)?;
            let Some(occ) = cron.previous(now, Duration::days(j.catch_up_days)) else {
                continue;
            };
            let period = period_of(j.name, occ);
            if let Some(reason) = self.skip_reason(j.name, occ, &period, not_before)? {
                tracing::debug!(
                    "[JOB: {}] not catching up {}: {reason}",
                    j.name,
                    period.label
                );
                continue;
            }
            let key = format!("{}:{}", j.name, period.label);
            if let Some(r) = self.claim_and_run(j.name, &key, occ, &period)? {
                done.push(r);
            }
        }
        self.watch_incidents(now)?;
        done.extend(self.scheduled_reports()?);
        // Reports requested but not generated (the server stopped first) or retrying.
        for id in crate::reports::pending(&self.store)? {
            if let Some(r) = self.run_report(&id)? {
                done.push(r);
            }
        }
        Ok(done)
    }

    /// The incident SLA watch, on every tick rather than as a cron job: response
    /// deadlines fall at any minute (15 minutes after a critical detection), not on a
    /// schedule's occurrences, and recording a breach is idempotent (an incident's
    /// breach is written once, guarded by its version), so every process may sweep.
    fn watch_incidents(&self, now: DateTime<Utc>) -> Result<(), Error> {
        for i in crate::incidents::sweep(&self.store, self.ledger, self.config, now)? {
            tracing::warn!(
                "incident {} ({} severity): response deadline {} breached; finding {} opened",
                i.id,
                i.sla.severity,
                i.sla.deadline,
                i.sla.finding_id.clone().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Generate a requested report as a job run (`generate-report:<id>`: once, retried
    /// like any job), and copy the run's state onto the report. `None` when another
    /// worker has the run, or its retry is not due yet.
    pub fn run_report(&self, id: &str) -> Result<Option<Run>, Error> {
        let report = crate::reports::get(&self.store, id)?;
        let period = report.period.period()?;
        let key = format!("{REPORT_JOB}:{id}");
        let now = self.clock.now();
        let run = self.claim_and_run(REPORT_JOB, &key, now, &period)?;
        if let Some(r) = &run {
            crate::reports::set_status(
                &self.store,
                id,
                &r.status,
                &r.id,
                r.error.as_deref(),
                r.finished_at.as_deref(),
            )?;
        }
        Ok(run)
    }

    /// Scheduled reports (`[reports] schedule` in vouch.toml): for each report type with a
    /// frequency, once its latest period has ended, request that period's report (one per
    /// period: the schedule key is unique) and generate it.
    fn scheduled_reports(&self) -> Result<Vec<Run>, Error> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for (report_type, every) in &self.config.settings.reports.schedule {
            let Some(period) = crate::reports::scheduled_period(every, now) else {
                continue;
            };
            if let Some(t) = self.not_before.or(initialized_at(&self.store)?) {
                if period.end <= t {
                    continue;
                }
            }
            let key = format!("{report_type}:{}", period.label);
            let req = crate::reports::Request::scheduled(report_type, &period);
            if let Some(r) =
                crate::reports::create(&self.store, self.ledger, &req, "schedule", Some(&key), now)?
            {
                log(
                    REPORT_JOB,
                    &format!("scheduled {key} requested as report {}", r.id),
                );
                if let Some(run) = self.run_report(&r.id)? {
                    out.push(run);
                }
            }
        }
        Ok(out)
    }

    /// Why an occurrence is not run: it precedes `init` (vouch did not exist to run it),
    /// or (evidence packets) its period ended before `init` or before the ledger's first
    /// event, so a packet could only say "nothing happened" about a time vouch did not
    /// see. Such packets are made by hand (`vouch jobs run … --period`).
    fn skip_reason(
        &self,
        name: &str,
        occ: DateTime<Utc>,
        period: &Period,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<Option<String>, Error> {
        if let Some(t) = not_before.filter(|t| occ < *t) {
            return Ok(Some(format!(
                "its occurrence {} is before this database was initialised ({})",
                ts(&occ),
                ts(&t)
            )));
        }
        if name == "witness"
            && self.config.settings.witness.is_empty()
            && self.config.settings.timestamp.url.is_empty()
        {
            return Ok(Some(
                "no [[witness]] and no [timestamp] url are configured".into(),
            ));
        }
        if name == "generate-soc2-evidence" {
            if let Some(t) = not_before.filter(|t| period.end <= *t) {
                return Ok(Some(format!(
                    "the period ended before this database was initialised ({})",
                    ts(&t)
                )));
            }
            match first_event_at(&self.store)? {
                None => return Ok(Some("the ledger has no events yet".into())),
                Some(first) if period.end <= first => {
                    return Ok(Some(format!(
                        "the period ends before the ledger's first event ({})",
                        ts(&first)
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(None)
    }

    /// Run a job now for a period (a manual run, outside the schedule's singleton key).
    pub fn run_now(&self, name: &str, period: Option<Period>) -> Result<Run, Error> {
        let j = job(name).ok_or_else(|| {
            JobError::UnknownJob(format!(
                "no job `{name}` (jobs: {})",
                JOBS.iter().map(|j| j.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let now = self.clock.now();
        let period = period.unwrap_or_else(|| period_of(j.name, now));
        let key = format!("{}:{}:manual-{}", j.name, period.label, ts(&now));
        self.claim_and_run(j.name, &key, now, &period)?
            .ok_or_else(|| JobError::AlreadyRunning(format!("{key} is already running")).into())
    }

    fn claim_and_run(
        &self,
        name: &str,
        key: &str,
        occ: DateTime<Utc>,
        period: &Period,
    ) -> Result<Option<Run>, Error> {
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut claimed = 0;
        let mut attempt = 1i64;
        self.store.write(&mut |sql| {
            claimed = sql.execute(
                "INSERT INTO job_runs (id, job, run_key, scheduled_for, status, attempt, started_at, claimed_by) VALUES ($1, $2, $3, $4, 'running', 1, $5, $6) ON CONFLICT (run_key) DO NOTHING",
                &[id.clone().into(), name.into(), key.into(), ts(&occ).into(), ts(&now).into(), self.worker.clone().into()],
            )?;
            Ok(())
        })?;
        let mut run_id = id;
        if claimed == 0 {
            // Someone has this period: take it back only if a retry is due.
            let mut rows = Vec::new();
            self.store.write(&mut |sql| {
                rows = sql.query(
                    "UPDATE job_runs SET status = 'running', attempt = attempt + 1, started_at = $2, claimed_by = $3 WHERE run_key = $1 AND status = 'retrying' AND next_attempt_at <= $2 RETURNING id, attempt",
                    &[key.into(), ts(&now).into(), self.worker.clone().into()],
                )?;
                Ok(())
            })?;
            let Some(r) = rows.first() else {
                return Ok(None);
            };
            run_id = r.text(0);
            attempt = r.int(1);
        }
        log(name, &format!("starting {key} (attempt {attempt})"));
        let started = std::time::Instant::now();
        let result = self.execute(name, key, period);
        let finished = self.clock.now();
        let secs = started.elapsed().as_secs_f64();
        let (status, next, error, outputs) = match &result {
            Ok(out) => ("succeeded", None, None, Some(out.clone())),
            Err(e) if attempt < i64::from(self.max_attempts) => {
                let wait = self.backoff * 2i32.pow((attempt - 1) as u32);
                (
                    "retrying",
                    Some(ts(&(finished + wait))),
                    Some(e.to_string()),
                    None,
                )
            }
            Err(e) => ("failed", None, Some(e.to_string()), None),
        };
        let note = outputs
            .as_ref()
            .and_then(|o| o["note"].as_str())
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        match status {
            "succeeded" => log(name, &format!("{key} succeeded in {secs:.1} s{note}")),
            "retrying" => log(
                name,
                &format!(
                    "{key} failed (attempt {attempt}), retrying at {}: {}",
                    next.clone().unwrap_or_default(),
                    error.clone().unwrap_or_default()
                ),
            ),
            _ => tracing::error!(
                "[JOB: {name}] {key} failed after {attempt} attempts: {}",
                error.clone().unwrap_or_default()
            ),
        }
        let outputs_text = outputs.as_ref().map(|o| o.to_string());
        // Only the claim that is still current may finish the run: a run that outlived its
        // lease was reclaimed (`reclaim_abandoned`) and retried, and this late finish must
        // neither overwrite the retry's row nor log a second `job.*` event for the run.
        let mut finished_rows = 0;
        self.store.write(&mut |sql| {
            finished_rows = sql.execute(
                "UPDATE job_runs SET status = $2, finished_at = $3, next_attempt_at = $4, error = $5, outputs = $6 WHERE id = $1 AND status = 'running' AND attempt = $7 AND claimed_by = $8",
                &[run_id.clone().into(), status.into(), ts(&finished).into(), next.clone().into(), error.clone().into(), outputs_text.clone().into(), attempt.into(), self.worker.clone().into()],
            )?;
            Ok(())
        })?;
        if finished_rows == 0 {
            tracing::warn!(
                "[JOB: {name}] {key}: attempt {attempt} finished ({status}) after it was reclaimed as abandoned; its result is not recorded (superseded)"
            );
            return Ok(Some(get_run(&self.store, &run_id)?));
        }
        crate::audit::record(
            self.ledger,
            json!({
                "timestamp": ts(&finished),
                "action": format!("job.{status}"), "category": "system",
                "result": if status == "succeeded" { "success" } else { "failure" },
                "resource": {"type": "job", "id": key, "name": name},
                "details": {"description": format!("[JOB: {name}] {key}: {status} (attempt {attempt}){}{note}", error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())},
                "metadata": {"run_id": run_id, "attempt": attempt, "seconds": (secs * 1000.0).round() / 1000.0, "worker": self.worker},
            }),
        )?;
        Ok(Some(get_run(&self.store, &run_id)?))
    }

    fn execute(&self, name: &str, key: &str, period: &Period) -> Result<Value, Error> {
        match name {
            REPORT_JOB => {
                let id = key.strip_prefix("generate-report:").unwrap_or(key);
                crate::reports::mark_running(&self.store, id)?;
                let now = self.clock.now();
                let sources = crate::report_sources::sources(self.config, now);
                let ctx = crate::reports::Ctx {
                    config: self.config,
                    store: &self.store,
                    ledger: self.ledger,
                    keys: self.keys,
                    sources: &sources,
                    now,
                };
                Ok(crate::reports::generate(&ctx, id)?)
            }
            "generate-soc2-evidence" => self.generate(period),
            "verify-ledger" => self.verify(),
            "retention" => Ok(crate::seal::retention::run(
                self.config,
                self.keys,
                self.ledger,
                self.clock.now(),
            )?),
            "attestation-draft" => self.attestations(),
            "witness" => self.witness(),
            other => Err(JobError::UnknownJob(format!("no job `{other}`")).into()),
        }
    }

    /// Seed 000's monthly job: collect, check, packet, archive for the previous month.
    fn generate(&self, period: &Period) -> Result<Value, Error> {
        let mut out = json!({"period": period.label});
        if !self.config.evidence.is_empty() {
            let c = crate::evidence::Collector::new(self.config, self.store.clone(), self.ledger);
            let items = c.collect(&[], period, &mut |_| {})?;
            out["evidence"] =
                json!({"items": items.len(), "failed": items.iter().filter(|i| !i.ok()).count()});
            let remediated = crate::after_collection(
                self.config,
                &self.store,
                self.ledger,
                &items,
                self.clock.now(),
            )?;
            if !remediated.is_empty() {
                out["access_reviews_remediated"] = json!(remediated.len());
            }
            log(
                "generate-soc2-evidence",
                &format!("collected {} evidence items", items.len()),
            );
        }
        if !self.config.checks.is_empty() {
            let ch = crate::checks::Checker::new(self.config, self.store.clone(), self.ledger);
            let r = ch.run(period, &[], self.clock.now())?;
            let opened = crate::incidents::auto::on_check_results(
                &self.store,
                self.ledger,
                self.config,
                &r.results,
                self.clock.now(),
            )?;
            if !opened.is_empty() {
                out["incidents_opened"] =
                    json!(opened.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
            }
            out["checks"] = json!({"evaluated": r.results.len(), "failed": r.results.iter().filter(|x| x.status == "fail").count()});
        }
        let slug = crate::packet::build::period_slug(period);
        let dir = self.config.data_dir.join("packets").join(&slug);
        if !dir.join(crate::packet::JSON_FILE).exists() {
            // Witnesses cosign the tree before the packet is built, so it carries their
            // cosignatures (issue 18); a witness that fails does not stop the packet.
            if !self.config.settings.witness.is_empty() {
                out["witness"] = match self.witness() {
                    Ok(v) => v,
                    Err(e) => json!({"error": e.to_string()}),
                };
            }
            let w = crate::packet::generate(
                self.config,
                self.keys,
                self.ledger,
                &crate::packet::Request {
                    period: period.clone(),
                    generated_at: Some(self.clock.now()),
                    format: crate::packet::Format::Both,
                    out: dir.clone(),
                    force: false,
                },
            )?;
            out["packet"] = json!({"dir": w.dir.display().to_string(), "status": w.overall_status});
            // An RFC 3161 token beside the packet's JSON (`SOC2_Evidence.json.tsr`).
            let tsa = &self.config.settings.timestamp.url;
            if !tsa.is_empty() {
                out["timestamp"] = match crate::witness::tsa::timestamp(
                    &w.dir.join(crate::packet::JSON_FILE),
                    tsa,
                ) {
                    Ok((path, when)) => json!({"token": path.display().to_string(), "time": when}),
                    Err(e) => {
                        tracing::warn!("[JOB: generate-soc2-evidence] timestamp: {e}");
                        json!({"error": e.to_string()})
                    }
                };
            }
            log(
                "generate-soc2-evidence",
                &format!("packet written to {}", w.dir.display()),
            );
        } else {
            // Not rebuilt (packets are immutable once made): say so, and whether the
            // ledger has gained events for the period since the packet's checkpoint.
            let path = dir.join(crate::packet::JSON_FILE);
            let v: Value = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let size = v["ledger"]["checkpoint"]["size"].as_u64();
            let fmt = vouch_core::event::format_timestamp;
            let late = match size {
                Some(size) => crate::packet::series::late_for(
                    &self.store,
                    &period.label,
                    &fmt(&period.start),
                    &fmt(&period.end),
                    size,
                )?,
                None => None,
            };
            let mut note = format!("packet for {} existing, not rebuilt", period.label);
            if let Some(l) = &late {
                // Not rebuilt, ever: a rebuilt packet would no longer match the tree the
                // next packet chains to. The next packet lists these events.
                note.push_str(&format!(
                    "; {} (not in it: the next packet of the series lists them)",
                    l.sentence()
                ));
            }
            log("generate-soc2-evidence", &note);
            out["packet"] = json!({
                "dir": dir.display().to_string(),
                "status": "existing, not rebuilt",
                "overall_status": v["summary"]["overall_status"],
                "checkpoint_size": size,
                "late_arrivals": late.as_ref().map(crate::packet::series::Late::to_json),
            });
            out["note"] = json!(note);
        }
        let archived = crate::seal::collections(&self.store, Some(&period.label))?;
        if !archived.is_empty() {
            out["archive"] = json!({"status": "already archived"});
        } else if self.config.settings.archive.recipients.is_empty() {
            out["archive"] = json!({"status": "skipped: no [archive] recipients configured"});
        } else {
            let a = crate::seal::archive(
                self.config,
                self.keys,
                self.ledger,
                &self.store,
                &crate::seal::ArchiveRequest {
                    period: Some(period.clone()),
                    ..Default::default()
                },
            )?;
            out["archive"] = json!({"folder": a.record["folder"], "files": a.stored.len()});
        }
        if self.config.settings.attestations.collection_signoff {
            let a = self.collection_signoff(period)?;
            out["signoff"] = json!({"id": a.id, "status": a.status, "criteria_failed": a.steps.iter().filter(|s| s.status != "pass").count()});
        }
        if let Some(r) = self.review_after_collection(period)? {
            out["quarterly_review"] = json!({"id": r.id, "period": r.period, "status": r.status});
        }
        Ok(out)
    }

    /// Seed 001 (issue 15): once the third month of a quarter is collected, request that
    /// quarter's review for the team lead. Idempotent: one review per quarter (the
    /// `(kind, period)` key is unique; an existing review is returned unchanged).
    fn review_after_collection(
        &self,
        month: &Period,
    ) -> Result<Option<crate::signoff::attest::Attestation>, Error> {
        use chrono::Datelike;
        if !self.config.settings.attestations.quarterly_review
            || month.label.len() != 7
            || !month.start.month().is_multiple_of(3)
        {
            return Ok(None);
        }
        let q = (month.start.month() - 1) / 3 + 1;
        let quarter = Period::parse(&format!("{}-Q{q}", month.start.year()), self.clock.now())
            .map_err(|e| crate::signoff::Error::Invalid(format!("period: {e}")))?;
        Ok(Some(self.quarterly_review(&quarter)?))
    }

    fn signoffs(&self) -> crate::signoff::attest::Signoffs<'_> {
        crate::signoff::attest::Signoffs {
            config: self.config,
            store: self.store.clone(),
            ledger: self.ledger,
            keys: self.keys,
        }
    }

    /// Open, miss or close attestation windows as the schedule says.
    fn attestations(&self) -> Result<Value, Error> {
        let now = self.clock.now();
        // Windows that closed before this database existed are not vouch's to report.
        let since = match self.not_before {
            Some(t) => t,
            None => initialized_at(&self.store)?.unwrap_or(now),
        };
        let r = self.signoffs().sync(now, since)?;
        let mut notes = Vec::new();
        for (what, list) in [
            ("opened", &r.opened),
            ("missed", &r.missed),
            ("closed unsigned", &r.overdue),
        ] {
            if !list.is_empty() {
                notes.push(format!("{what}: {}", list.join(", ")));
            }
        }
        let mut out = json!({"opened": r.opened, "missed": r.missed, "overdue": r.overdue});
        if !notes.is_empty() {
            out["note"] = json!(format!("attestation windows {}", notes.join("; ")));
        }
        Ok(out)
    }

    /// Seed 001's quarterly review of a quarter for the team lead: the three monthly
    /// packets' verifications and the consistency proofs between their checkpoints,
    /// vouch's verification of the ledger now, and the results of checks over backup
    /// and vault-rotation evidence.
    pub fn quarterly_review(
        &self,
        quarter: &Period,
    ) -> Result<crate::signoff::attest::Attestation, Error> {
        use crate::signoff::quarterly::{MonthFacts, ReviewFacts};
        let mut months = Vec::new();
        let mut packets: Vec<Option<(u64, String)>> = Vec::new();
        let mut m = Period::month_of(quarter.start);
        while m.end <= quarter.end && months.len() < 3 {
            let slug = crate::packet::build::period_slug(&m);
            let path = self
                .config
                .data_dir
                .join("packets")
                .join(&slug)
                .join(crate::packet::JSON_FILE);
            let v: Option<Value> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let (fact, cp) = match v {
                None => (Err(format!("no packet at {}", path.display())), None),
                Some(v) => {
                    let size = v["ledger"]["checkpoint"]["size"].as_u64().unwrap_or(0);
                    let root = v["ledger"]["checkpoint"]["root"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if v["ledger"]["verification"]["valid"] == true {
                        (Ok(format!("packet verified the ledger up to its checkpoint (size {size}, root {root})")), Some((size, root)))
                    } else {
                        (
                            Err(format!(
                                "the packet's verification failed: {}",
                                v["ledger"]["verification"]["reason"]
                            )),
                            Some((size, root)),
                        )
                    }
                }
            };
            months.push(MonthFacts {
                month: m.label.clone(),
                packet: fact,
                consistency_to_next: None,
            });
            packets.push(cp);
            m = Period::month_of(m.end);
        }
        for i in 0..months.len().saturating_sub(1) {
            let r = match (&packets[i], &packets[i + 1]) {
                (Some((a, ra)), Some((b, rb))) => {
                    match self.ledger.consistency_proof(*a, *b) {
                        Ok(p) => {
                            let hashes: Option<Vec<_>> =
                                p.proof.iter().map(|h| vouch_core::unb64_hash(h)).collect();
                            let (old, new) =
                                (vouch_core::unb64_hash(ra), vouch_core::unb64_hash(rb));
                            match (hashes, old, new) {
                            (Some(h), Some(o), Some(n)) if p.from_root == *ra && p.to_root == *rb && vouch_core::merkle::verify_consistency(*a, *b, &h, &o, &n) => {
                                Ok(format!("consistency proof {a} → {b} verified ({} hashes)", h.len()))
                            }
                            _ => Err(format!("the consistency proof {a} → {b} does not match the packets' roots")),
                        }
                        }
                        Err(e) => Err(format!("no consistency proof {a} → {b}: {e}")),
                    }
                }
                _ => Err("a packet is missing: no consistency proof".to_string()),
            };
            months[i].consistency_to_next = Some(r);
        }
        let v = self.ledger.verify(&Default::default())?;
        let ledger = if v.valid {
            Ok(v.checked)
        } else {
            Err(v.reason.unwrap_or_else(|| "broken".into()))
        };
        let (mut backups, mut rotations) = (Vec::new(), Vec::new());
        let mut m = Period::month_of(quarter.start);
        while m.end <= quarter.end {
            for r in crate::checks::results::latest_results(&self.store, &m, None)? {
                let id = r["check_id"].as_str().unwrap_or("").to_string();
                let row = (
                    id.clone(),
                    m.label.clone(),
                    crate::checks::controls::result_status(&r).to_string(),
                    r["message"].as_str().unwrap_or("").to_string(),
                );
                if id.contains("backup") {
                    backups.push(row);
                } else if id.contains("vault") || id.contains("rotation") {
                    rotations.push(row);
                }
            }
            m = Period::month_of(m.end);
        }
        let facts = ReviewFacts {
            months,
            ledger,
            backups,
            rotations,
        };
        Ok(self
            .signoffs()
            .request_quarterly_review(quarter, &facts, self.clock.now())?)
    }

    /// Seed 001: the collection sign-off request of a month, with its criteria judged.
    pub fn collection_signoff(
        &self,
        period: &Period,
    ) -> Result<crate::signoff::attest::Attestation, Error> {
        let s = &self.config.settings.attestations;
        let items: Vec<crate::evidence::Item> = crate::evidence::list(
            &self.store,
            &crate::evidence::ListFilter {
                evidence_id: None,
                period: Some(period.clone()),
                limit: Some(10_000),
            },
        )?
        .into_iter()
        .filter(|i| i.ok())
        .collect();
        let mut exports = Vec::new();
        for name in crate::signoff::collection::EXPORTS {
            let wanted = s.collection_exports.get(*name);
            let found = items.iter().find(|i| {
                let id = i.record["evidence_id"].as_str().unwrap_or("");
                match wanted {
                    Some(w) => id == w,
                    None => {
                        id.contains(name)
                            || (*name == "prs" && id.contains("pull"))
                            || (*name == "dr-drill" && id.contains("drill"))
                    }
                }
            });
            let mut where_ = found.map(|i| {
                format!(
                    "evidence {} item {}",
                    i.record["evidence_id"].as_str().unwrap_or(""),
                    i.id()
                )
            });
            if where_.is_none() && *name == "audit" {
                // The audit-log export is the packet's own export of the period's events.
                let slug = crate::packet::build::period_slug(period);
                let json = self
                    .config
                    .data_dir
                    .join("packets")
                    .join(&slug)
                    .join(crate::packet::JSON_FILE);
                if json.exists() {
                    where_ = Some(format!(
                        "the signed packet's audit-log export ({})",
                        json.display()
                    ));
                }
            }
            exports.push((name.to_string(), where_));
        }
        let v = self.ledger.verify(&Default::default())?;
        let chain = if v.valid {
            Ok(v.checked)
        } else {
            Err(v.reason.unwrap_or_else(|| "broken".into()))
        };
        let archive = crate::seal::collections(&self.store, Some(&period.label))?
            .into_iter()
            .last();
        let facts = crate::signoff::collection::CollectionFacts {
            completed_at: self.clock.now(),
            exports,
            chain,
            archive,
        };
        Ok(self
            .signoffs()
            .request_collection_signoff(period, &facts, self.clock.now())?)
    }

    /// Submit the latest checkpoint to the configured witnesses (issue 18). Fails when
    /// a witness did not cosign (after storing the others' cosignatures), so the run is
    /// retried and its failure is in the job history and the ledger.
    ///
    /// With `[timestamp] url` set it also timestamps the latest checkpoint (with or
    /// without witnesses; the token is stored in `checkpoint_timestamps`, `vouch witness
    /// checkpoint --signed-only --out FILE` writes it beside the note); an authority that
    /// fails makes the run fail too, so it is retried.
    fn witness(&self) -> Result<Value, Error> {
        let targets = crate::witness::client::targets(self.config)?;
        let tsa = self.config.settings.timestamp.url.clone();
        if targets.is_empty() && tsa.is_empty() {
            return Ok(json!({"skipped": "no [[witness]] and no [timestamp] url are configured"}));
        }
        let mut out = json!({});
        let mut failed = None;
        if !targets.is_empty() {
            let report = crate::witness::client::submit(self.ledger, &targets)?;
            let failures = report.failures();
            if !failures.is_empty() {
                failed = Some(crate::witness::WitnessError::Witness(format!(
                    "tree size {}: {}",
                    report.size,
                    failures.join("; ")
                )));
            }
            out = serde_json::to_value(&report).unwrap_or_default();
        }
        if !tsa.is_empty() {
            match crate::witness::tsa::timestamp_checkpoint(self.ledger, &tsa, self.clock.now()) {
                Ok(t) => out["checkpoint_timestamp"] = serde_json::to_value(&t).unwrap_or_default(),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(out),
        }
    }

    /// Nightly verification into the integrity log (seed 002's audit_integrity_log).
    fn verify(&self) -> Result<Value, Error> {
        let started = self.clock.now();
        let r = self.ledger.verify(&Default::default())?;
        let run_id = uuid::Uuid::now_v7().to_string();
        let result = if r.valid { "pass" } else { "fail" };
        self.store.write(&mut |sql| {
            sql.execute(
                "INSERT INTO integrity_log (run_id, mode, started_at, completed_at, result, rows_verified, errors, detail) VALUES ($1, 'nightly', $2, $3, $4, $5, $6, $7)",
                &[run_id.clone().into(), ts(&started).into(), ts(&self.clock.now()).into(), result.into(), (r.checked as i64).into(), i64::from(!r.valid).into(), r.reason.clone().into()],
            )?;
            Ok(())
        })?;
        crate::audit::record(
            self.ledger,
            json!({
                "timestamp": ts(&self.clock.now()),
                "action": "ledger.verified", "category": "security", "result": if r.valid { "success" } else { "failure" },
                "resource": {"type": "ledger", "id": r.root, "name": "audit ledger"},
                "details": {"description": format!("Nightly verification: {result}, {} entries{}", r.checked, r.reason.as_ref().map(|x| format!(": {x}")).unwrap_or_default())},
                "metadata": {"valid": r.valid, "broken_at": r.broken_at, "checked": r.checked, "run_id": run_id},
            }),
        )?;
        if !r.valid {
            return Err(Error::Jobs(JobError::LedgerBroken(format!(
                "the ledger is broken at entry {}: {}",
                r.broken_at.unwrap_or(0),
                r.reason.unwrap_or_default()
            ))));
        }
        Ok(json!({"run_id": run_id, "valid": true, "checked": r.checked, "root": r.root}))
    }
}

fn run_of(row: &vouch_store::Row) -> Run {
    Run {
        id: row.text(0),
        job: row.text(1),
        run_key: row.text(2),
        scheduled_for: row.text(3),
        status: row.text(4),
        attempt: row.int(5),
        started_at: row.text(6),
        finished_at: row.opt_text(7),
        next_attempt_at: row.opt_text(8),
        claimed_by: row.text(9),
        error: row.opt_text(10),
        // A stored `null` (or unparsable text) reads as no outputs, as before.
        outputs: row
            .opt_text(11)
            .and_then(|o| serde_json::from_str::<Value>(&o).ok())
            .filter(|v| !v.is_null()),
    }
}

const COLUMNS: &str = "id, job, run_key, scheduled_for, status, attempt, started_at, finished_at, next_attempt_at, claimed_by, error, outputs";

/// The job run with this id.
pub fn get_run(store: &Store, id: &str) -> Result<Run, Error> {
    let rows = store.query(
        &format!("SELECT {COLUMNS} FROM job_runs WHERE id = $1"),
        &[id.into()],
    )?;
    rows.first()
        .map(run_of)
        .ok_or_else(|| JobError::UnknownRun(format!("no job run {id}")).into())
}

/// Run history, newest first (optionally of one job).
pub fn runs(store: &Store, job: Option<&str>, limit: u64) -> Result<Vec<Run>, Error> {
    let rows = match job {
        Some(j) => store.query(&format!("SELECT {COLUMNS} FROM job_runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT {limit}"), &[j.into()])?,
        None => store.query(&format!("SELECT {COLUMNS} FROM job_runs ORDER BY started_at DESC, id DESC LIMIT {limit}"), &[])?,
    };
    Ok(rows.iter().map(run_of).collect())
}

/// The integrity log, newest first.
pub fn integrity_log(store: &Store, limit: u64) -> Result<Vec<Value>, Error> {
    let rows = store.query(&format!("SELECT run_id, mode, started_at, completed_at, result, rows_verified, errors, detail FROM integrity_log ORDER BY started_at DESC LIMIT {limit}"), &[])?;
    Ok(rows.iter().map(|r| json!({"run_id": r.text(0), "mode": r.text(1), "started_at": r.text(2), "completed_at": r.text(3), "result": r.text(4), "rows_verified": r.int(5), "errors": r.int(6), "detail": r.opt_text(7)})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed run serializes to exactly the JSON a run was when it was a `Value` built
    /// with `json!` (sorted keys, `null` for absent values), pretty or compact.
    #[test]
    fn run_json_is_byte_identical_to_the_value_it_replaced() {
        let cases = [
            (None, None, None, None),
            (
                Some("2026-11-01T03:00:31.000000Z".to_string()),
                Some("2026-11-01T03:05:31.000000Z".to_string()),
                Some("boom".to_string()),
                Some(json!({"note": "n", "packet": {"status": "ok", "dir": "/x"}})),
            ),
        ];
        for (finished, next, error, outputs) in cases {
            let run = Run {
                id: "0193".into(),
                job: "verify-ledger".into(),
                run_key: "verify-ledger:2026-11-01".into(),
                scheduled_for: "2026-11-01T02:00:00.000000Z".into(),
                status: "retrying".into(),
                attempt: 2,
                started_at: "2026-11-01T02:00:10.000000Z".into(),
                finished_at: finished.clone(),
                next_attempt_at: next.clone(),
                claimed_by: "host:1".into(),
                error: error.clone(),
                outputs: outputs.clone(),
            };
            let old = json!({
                "id": "0193", "job": "verify-ledger", "run_key": "verify-ledger:2026-11-01",
                "scheduled_for": "2026-11-01T02:00:00.000000Z", "status": "retrying", "attempt": 2,
                "started_at": "2026-11-01T02:00:10.000000Z", "finished_at": finished,
                "next_attempt_at": next, "claimed_by": "host:1", "error": error, "outputs": outputs,
            });
            assert_eq!(
                serde_json::to_string(&run).unwrap(),
                serde_json::to_string(&old).unwrap()
            );
            assert_eq!(
                serde_json::to_string_pretty(&run).unwrap(),
                serde_json::to_string_pretty(&old).unwrap()
            );
            assert_eq!(run.to_string(), old.to_string());
            assert_eq!(serde_json::from_value::<Run>(old).unwrap(), run);
        }
    }
}
