//! `vouch demo`: a realistic year of audit events for a small company, appended,
//! checkpointed month by month, verified, proven and exported, in a fresh data dir.
//! The event generator is shared with the benchmarks.

pub mod evidence;
pub mod incidents;

use crate::ledger::{VerifyOptions, VerifyReport};
use crate::Error;
use chrono::{DateTime, Datelike, Duration, SubsecRound, TimeZone, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vouch_core::event::Event;
use vouch_core::period::Period;

/// Marker file that lets `vouch demo` safely replace its own earlier output.
pub const MARKER: &str = ".vouch-demo";

const FIRST: &[&str] = &[
    "ana", "ben", "chloe", "dev", "emma", "farid", "grace", "hugo", "ines", "jon", "kim", "leo",
    "maya", "nils", "olga", "pablo", "quinn", "rosa", "sam", "tara", "uma", "victor", "wen",
    "xavi", "yara", "zoe",
];
const LAST: &[&str] = &[
    "ito", "ng", "park", "silva", "meyer", "khan", "rossi", "berg", "lopez", "chen",
];
const RESOURCES: &[(&str, &str)] = &[
    ("customer", "customers"),
    ("invoice", "billing"),
    ("report", "analytics"),
    ("dataset", "warehouse"),
    ("ticket", "support"),
];
const SETTINGS: &[&str] = &[
    "sso.enforced",
    "session.timeout",
    "password.min_length",
    "mfa.required",
    "backup.retention_days",
    "audit.export_enabled",
];
const ROLES: &[&str] = &[
    "admin",
    "billing-admin",
    "support-agent",
    "analyst",
    "read-only",
    "deployer",
];

/// A deterministic generator of realistic audit events.
pub struct Generator {
    rng: StdRng,
    people: Vec<(String, String, String, bool)>, // id, email, ip, is_admin
    org: String,
}

impl Generator {
    /// A generator seeded with `seed`, over `people` made-up people.
    pub fn new(seed: u64, people: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let people = (0..people)
            .map(|i| {
                let f = FIRST[i % FIRST.len()];
                let l = LAST[(i / FIRST.len() + i) % LAST.len()];
                let id = format!("usr_{:04}", i + 1);
                let email = format!("{f}.{l}@acme.example");
                let ip = format!(
                    "10.{}.{}.{}",
                    rng.gen_range(0..4),
                    rng.gen_range(0..255),
                    rng.gen_range(1..255)
                );
                (id, email, ip, i % 12 == 0)
            })
            .collect();
        Generator {
            rng,
            people,
            org: "org_acme".into(),
        }
    }

    fn uuid_at(&mut self, t: DateTime<Utc>) -> String {
        let mut bytes = [0u8; 10];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_unix_timestamp_millis(t.timestamp_millis() as u64, &bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// One event at time `t`.
    pub fn event(&mut self, t: DateTime<Utc>) -> Event {
        let p = self.rng.gen_range(0..self.people.len());
        let (id, email, ip, admin) = self.people[p].clone();
        let roll: u32 = self.rng.gen_range(0..1000);
        let ts = vouch_core::event::format_timestamp(&t);
        let eid = self.uuid_at(t);
        let actor = json!({"id": id, "email": email, "ip": ip});
        let v: Value = match roll {
            0..=339 => {
                json!({"action": "user.login", "category": "authentication", "result": "success",
                "resource": {"type": "session", "id": format!("ses_{}", self.rng.gen::<u32>())},
                "details": {"description": "Signed in with SSO"}, "metadata": {"user_agent": "Mozilla/5.0", "method": "sso"}})
            }
            340..=529 => {
                json!({"action": "mfa.verify", "category": "authentication", "result": "success",
                "resource": {"type": "user", "id": id}, "details": {"description": "TOTP code accepted"}})
            }
            530..=579 => {
                json!({"action": "user.login", "category": "authentication", "result": "failure",
                "resource": {"type": "session"}, "details": {"description": "Invalid password"},
                "metadata": {"attempt": self.rng.gen_range(1..5)}})
            }
            580..=589 => json!({"action": "mfa.verify", "category": "security", "result": "denied",
                "resource": {"type": "user", "id": id}, "details": {"description": "TOTP code rejected"}}),
            590..=799 => {
                let (rt, sys) = RESOURCES[self.rng.gen_range(0..RESOURCES.len())];
                json!({"action": format!("{rt}.read"), "category": "data_access", "result": "success",
                    "resource": {"type": rt, "id": format!("{rt}_{}", self.rng.gen_range(1..50_000)), "name": sys}})
            }
            800..=929 => {
                let (rt, _) = RESOURCES[self.rng.gen_range(0..RESOURCES.len())];
                let before = self.rng.gen_range(0..5);
                json!({"action": format!("{rt}.update"), "category": "data_modification", "result": "success",
                    "resource": {"type": rt, "id": format!("{rt}_{}", self.rng.gen_range(1..50_000))},
                    "details": {"description": format!("Updated {rt}"), "before_state": {"status": before}, "after_state": {"status": before + 1},
                        "changes": [{"field": "status", "old_value": before, "new_value": before + 1}]}})
            }
            930..=954 => {
                json!({"action": "data.export", "category": "data_access", "result": "success",
                "resource": {"type": "report", "id": format!("exp_{}", self.rng.gen::<u32>()), "name": "customers.csv"},
                "details": {"description": "Exported a customer report"}, "metadata": {"rows": self.rng.gen_range(10..20_000), "format": "csv"}})
            }
            955..=969 => {
                let role = ROLES[self.rng.gen_range(0..ROLES.len())];
                let grant = self.rng.gen_bool(0.6);
                let target = self.people[self.rng.gen_range(0..self.people.len())]
                    .0
                    .clone();
                json!({"action": if grant { "role.assign" } else { "role.revoke" }, "category": "authorization",
                    "result": if admin { "success" } else { "denied" },
                    "resource": {"type": "role", "id": format!("role_{role}"), "name": role},
                    "details": {"description": format!("{} role '{role}' {} {target}", if grant { "Assigned" } else { "Revoked" }, if grant { "to" } else { "from" }),
                        "before_state": if grant { Value::Null } else { json!({"role": role}) }, "after_state": if grant { json!({"role": role}) } else { Value::Null },
                        "changes": [{"field": "role", "old_value": if grant { Value::Null } else { json!(role) }, "new_value": if grant { json!(role) } else { Value::Null }}]},
                    "metadata": {"target_user": target}})
            }
            970..=989 => {
                let key = SETTINGS[self.rng.gen_range(0..SETTINGS.len())];
                json!({"action": "config.change", "category": "administrative", "result": if admin { "success" } else { "denied" },
                    "resource": {"type": "setting", "id": key, "name": key},
                    "details": {"description": format!("Changed {key}"), "changes": [{"field": key, "old_value": "a", "new_value": "b"}]}})
            }
            _ => json!({"action": "backup.completed", "category": "system", "result": "success",
                "resource": {"type": "backup", "id": format!("bkp_{}", t.format("%Y%m%d%H"))},
                "details": {"description": "Nightly database backup"}, "metadata": {"bytes": self.rng.gen_range(1_000_000u64..9_000_000_000)}}),
        };
        let mut obj = v.as_object().cloned().unwrap_or_default();
        obj.insert("id".into(), json!(eid));
        obj.insert("timestamp".into(), json!(ts));
        obj.insert("organization_id".into(), json!(self.org));
        if !obj
            .get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("backup"))
        {
            obj.insert("actor".into(), actor);
        }
        Event::from_value(Value::Object(obj)).expect("generated events are valid")
    }

    /// About `count` events spread over `[start, end)`, busier on working days and hours.
    pub fn span(&mut self, start: DateTime<Utc>, end: DateTime<Utc>, count: usize) -> Vec<Event> {
        let secs = (end - start).num_seconds().max(1);
        let mut times: Vec<DateTime<Utc>> = Vec::with_capacity(count);
        while times.len() < count {
            let t = start
                + Duration::seconds(self.rng.gen_range(0..secs))
                + Duration::microseconds(self.rng.gen_range(0..1_000_000));
            let weekend = matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
            let office = (7..19).contains(&t.hour());
            let keep = match (weekend, office) {
                (false, true) => 1.0,
                (false, false) => 0.15,
                (true, _) => 0.08,
            };
            if self.rng.gen_bool(keep) {
                times.push(t);
            }
        }
        times.sort();
        times.into_iter().map(|t| self.event(t)).collect()
    }
}

/// What the demo did, for the CLI to tell.
pub struct DemoReport {
    /// The demo's data directory.
    pub data_dir: PathBuf,
    /// Events appended.
    pub events: u64,
    /// Each month's label and event count.
    pub months: Vec<(String, u64)>,
    /// Seconds spent appending.
    pub append_secs: f64,
    /// The verification of the whole ledger.
    pub verify: VerifyReport,
    /// Seconds the verification took.
    pub verify_secs: f64,
    /// The final signed checkpoint note.
    pub checkpoint_note: String,
    /// File holding the inclusion proof of a sampled admin role grant.
    pub proof_file: PathBuf,
    /// Sequence number of that entry.
    pub proof_index: u64,
    /// The entry's description of the grant.
    pub proof_action: String,
    /// File holding a consistency proof from the second-to-last month's checkpoint.
    pub consistency_file: PathBuf,
    /// The last month's NDJSON export.
    pub export_file: PathBuf,
    /// Events in that export.
    pub export_events: u64,
    /// Label of the last month.
    pub last_month: String,
    /// The log's C2SP verifier key.
    pub log_verifier_key: String,
    /// The last month's packet.
    pub packet: crate::packet::Written,
    /// The signing public key (PEM), for checking the packet with openssl.
    pub public_key_file: PathBuf,
    /// What the evidence step did.
    pub evidence: evidence::EvidenceReport,
    /// The incident the demo's failed-login burst opened (and its triage).
    pub incident: Option<crate::incidents::Incident>,
    /// The completed, signed access review.
    pub access_review: evidence::AccessReviewReport,
    /// The month-to-date packet (this month's 1st up to after the review was
    /// completed): the packet that holds the access review as CC6.2/CC6.3 evidence.
    pub review_packet: crate::packet::Written,
    /// The signed attestation of the last month.
    pub attestation: DemoAttestation,
    /// The quarterly soc2 report (seed 003) for the quarter holding the last month,
    /// generated as a job run.
    pub soc2_report: crate::reports::Report,
}

/// Prepare a fresh demo directory: replace an earlier demo, refuse anything else.
pub fn fresh_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                return Err(Error::config(format!(
                    "{} exists and is not a vouch demo directory; choose another --into",
                    dir.display()
                )));
            }
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    std::fs::write(
        dir.join(MARKER),
        "created by `vouch demo`; safe to delete\n",
    )
    .map_err(|e| Error::io(dir, e))
}

/// Run the demo. `progress(done, total, phase)` is called as work advances.
pub fn run(
    dir: &Path,
    total_events: usize,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(u64, u64, &str),
) -> Result<DemoReport, Error> {
    fresh_dir(dir)?;
    let init = crate::init::init(
        dir,
        Some("Acme Analytics (demo)"),
        Some("demo.acme.example/vouch/audit"),
    )?;
    let mut config = init.config;
    let (store, keys, ledger) = crate::open(&config)?;

    // The twelve full months before this one.
    let this_month = Period::month_of(now);
    let mut months = Vec::new();
    let mut cursor = this_month.start;
    for _ in 0..12 {
        let m = Period::last_month(cursor);
        cursor = m.start;
        months.push(m);
    }
    months.reverse();

    let mut gen = Generator::new(2026, 42);
    let per_month = total_events / months.len();
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let mut month_counts = Vec::new();
    let mut month_checkpoints = Vec::new();
    for m in &months {
        let events = gen.span(m.start, m.end, per_month);
        let n = events.len() as u64;
        for batch in chunked(events, 5000) {
            let k = batch.len() as u64;
            ledger.append(batch)?;
            done += k;
            progress(done, (per_month * months.len()) as u64, "appending");
        }
        // Checkpoint at each month end, as the scheduled job does in production.
        month_checkpoints.push(ledger.checkpoint()?);
        month_counts.push((m.label.clone(), n));
    }
    let append_secs = started.elapsed().as_secs_f64();
    let checkpoint = ledger.checkpoint()?;

    progress(0, 1, "verifying");
    let vstart = std::time::Instant::now();
    let verify = ledger.verify(&VerifyOptions::default())?;
    let verify_secs = vstart.elapsed().as_secs_f64();

    // An inclusion proof for a privileged change an auditor would sample.
    let mut proof_index = 0;
    let mut proof_action = String::new();
    ledger.store().scan_entries(0, &mut |e| {
        let leaf = std::str::from_utf8(e.leaf).unwrap_or_default();
        if leaf.contains("\"action\":\"role.assign\"")
            && leaf.contains("\"name\":\"admin\"")
            && leaf.contains("\"result\":\"success\"")
        {
            proof_index = e.seq as u64;
            let v: Value = serde_json::from_str(leaf).unwrap_or_default();
            proof_action = v["details"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return Ok(false);
        }
        Ok(true)
    })?;
    let proofs = dir.join("proofs");
    std::fs::create_dir_all(&proofs).map_err(|e| Error::io(&proofs, e))?;
    let proof_file = proofs.join(format!("entry-{proof_index}.tlog-proof"));
    let proof = ledger.inclusion_proof(proof_index, Some(checkpoint.size))?;
    std::fs::write(&proof_file, proof).map_err(|e| Error::io(&proof_file, e))?;

    // Consistency between the end of the second-to-last month and now.
    let from = month_checkpoints[month_checkpoints.len() - 2].size;
    let consistency = ledger.consistency_proof(from, checkpoint.size)?;
    let consistency_file = proofs.join(format!("consistency-{from}-{}.json", checkpoint.size));
    std::fs::write(
        &consistency_file,
        serde_json::to_string_pretty(&consistency).unwrap_or_default(),
    )
    .map_err(|e| Error::io(&consistency_file, e))?;

    let last = months.last().expect("twelve months");
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports).map_err(|e| Error::io(&exports, e))?;
    let export_file = exports.join(format!("audit-{}.ndjson", last.label));
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&export_file).map_err(|e| Error::io(&export_file, e))?,
    );
    let export_events = ledger.export(last, &mut w)?;
    std::io::Write::flush(&mut w).map_err(|e| Error::io(&export_file, e))?;

    progress(0, 1, "evidence");
    let store_for_report = store.clone();
    let evidence = evidence::run(dir, &mut config, &ledger, store.clone(), last)?;

    progress(0, 1, "incidents");
    let incident = incidents::run(dir, &mut config, &ledger, &store, Utc::now().max(now))?;
    progress(0, 1, "access review");
    let access_review = evidence::access_review(&config, &store, &ledger, &keys)?;

    // Seed 002 step 8 on the demo's timeline: a monthly attestation of the last month,
    // its window opened the day after the month ended and signed the day after that
    // (inside the window), pre-filled from the checks above; before the packet,
    // which shows it as it stood when the packet was made (`packet --reproduce` agrees) and signed with the demo
    // officer's name; qualified when a step did not pass.
    progress(0, 1, "attestation");
    let attestation = attest(dir, &mut config, &store, &keys, &ledger, last, now)?;

    // Last month's evidence packet, signed, with the public key beside it for openssl.
    progress(0, 1, "packet");
    let packet = crate::packet::generate(
        &config,
        &keys,
        &ledger,
        &crate::packet::Request {
            period: last.clone(),
            // After the checks above: a packet holds what existed when it was made.
            generated_at: Some(Utc::now().max(now)),
            format: crate::packet::Format::Both,
            out: dir.join("packets").join(&last.label),
            force: true,
        },
    )?;
    // The access review above was completed today, in this month, so last month's
    // packet does not hold it (and backdating it would fake its record). The packet
    // that covers it is this month's so far: a closed range from the 1st to the next
    // whole second after the review was recorded, generated then.
    progress(0, 1, "packet (month to date)");
    let review_packet = {
        let done = Utc::now();
        let end = done.trunc_subsecs(0) + Duration::seconds(1);
        if let Ok(wait) = (end - Utc::now()).to_std() {
            std::thread::sleep(wait);
        }
        let period =
            Period::range(this_month.start, end).map_err(|e| Error::Demo(e.to_string()))?;
        crate::packet::generate(
            &config,
            &keys,
            &ledger,
            &crate::packet::Request {
                period,
                generated_at: Some(Utc::now().max(end)),
                format: crate::packet::Format::Both,
                out: dir.join("packets").join("month-to-date"),
                force: true,
            },
        )?
    };
    // Seed 003's quarterly soc2 report, for the quarter holding the last month.
    progress(0, 1, "report");
    let quarter = format!(
        "{}-Q{}",
        last.start.year(),
        (last.start.month() - 1) / 3 + 1
    );
    let quarter = Period::parse(&quarter, now).map_err(|e| Error::Demo(e.to_string()))?;
    let req = crate::reports::Request::scheduled("soc2", &quarter);
    let report =
        crate::reports::create(&store_for_report, &ledger, &req, "demo", None, Utc::now())?
            .ok_or_else(|| Error::Demo("a new report id collided".into()))?;
    crate::jobs::Runner {
        config: &config,
        store: store_for_report.clone(),
        keys: &keys,
        ledger: &ledger,
        clock: &crate::jobs::SystemClock,
        worker: format!("demo:{}", std::process::id()),
        max_attempts: 1,
        backoff: Duration::minutes(1),
        not_before: None,
    }
    .run_report(&report.id)?;
    let soc2_report = crate::reports::get(&store_for_report, &report.id)?;
    let public_key_file = dir.join("public_key.pem");
    std::fs::write(&public_key_file, keys.signing_public_pem())
        .map_err(|e| Error::io(&public_key_file, e))?;

    Ok(DemoReport {
        data_dir: dir.to_path_buf(),
        events: done,
        months: month_counts,
        append_secs,
        verify,
        verify_secs,
        checkpoint_note: checkpoint.note,
        proof_file,
        proof_index,
        proof_action,
        consistency_file,
        export_file,
        export_events,
        last_month: last.label.clone(),
        log_verifier_key: keys.log_verifier().to_vkey(),
        packet,
        public_key_file,
        evidence,
        incident,
        access_review,
        review_packet,
        attestation,
        soc2_report,
    })
}

/// The demo's signed attestation: status line and the directory of its files.
fn attest(
    dir: &Path,
    config: &mut crate::Config,
    store: &vouch_store::Store,
    keys: &crate::Keys,
    ledger: &crate::Ledger,
    last: &Period,
    now: DateTime<Utc>,
) -> Result<DemoAttestation, Error> {
    let toml = dir.join("vouch.toml");
    let mut text = std::fs::read_to_string(&toml).map_err(|e| Error::io(&toml, e))?;
    // The demo attests monthly (seed 002 is quarterly: the default); `vouch init` wrote
    // the `[attestations]` section with its defaults.
    text = text.replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1);
    std::fs::write(&toml, text).map_err(|e| Error::io(&toml, e))?;
    config.settings.attestations.cadence = "monthly".into();
    let config = &*config;
    let s = crate::signoff::attest::Signoffs {
        config,
        store: store.clone(),
        ledger,
        keys,
    };
    let opened = (last.end + Duration::hours(1)).min(now);
    // "Installed" the day before the month ended: earlier windows are not reported.
    s.sync(opened, last.end - Duration::days(1))?;
    let a = s
        .find(crate::signoff::attest::KIND_ATTESTATION, &last.label)?
        .ok_or_else(|| {
            Error::Demo(format!(
                "the {} attestation window did not open",
                last.label
            ))
        })?;
    let at = (last.end + Duration::hours(34)).min(now).max(opened);
    let preview = s.preview(&a.id, at)?;
    let req = crate::signoff::attest::SignRequest {
        signer: "dana.officer".into(),
        role: a.signer_role.clone(),
        via: "demo".into(),
        opinion: if preview.unqualified_allowed {
            crate::signoff::attest::Opinion::Unqualified
        } else {
            crate::signoff::attest::Opinion::Qualified
        },
        notes: [(
            "1".to_string(),
            "Reviewed with the evidence items listed; exceptions tracked as findings.".to_string(),
        )]
        .into_iter()
        .filter(|_| !preview.steps.is_empty())
        .collect(),
        personal: None,
    };
    let (signed, doc) = s.sign(&a.id, &req, at)?;
    let out = crate::packet::attestation::dir_for(&config.data_dir, &signed);
    crate::packet::attestation::write(&out, keys, &signed, &doc)?;
    Ok(DemoAttestation {
        id: signed.id.clone(),
        title: signed.title.clone(),
        opinion: req.opinion.as_str().into(),
        exceptions: signed.exceptions.clone(),
        signed_at: signed.signed.map(|x| x.signed_at).unwrap_or_default(),
        dir: out,
    })
}

/// The demo's signed attestation.
#[derive(Debug, Clone)]
pub struct DemoAttestation {
    /// Its id.
    pub id: String,
    /// Its title (`2026-10 attestation`).
    pub title: String,
    /// `unqualified` or `qualified`.
    pub opinion: String,
    /// Why it is qualified.
    pub exceptions: Vec<String>,
    /// When it was signed (on the demo's timeline).
    pub signed_at: String,
    /// Where its files are.
    pub dir: PathBuf,
}

/// Split a vector into owned chunks.
pub fn chunked<T>(mut v: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    while v.len() > size {
        let rest = v.split_off(size);
        out.push(std::mem::replace(&mut v, rest));
    }
    if !v.is_empty() {
        out.push(v);
    }
    out
}

/// Midnight UTC on a date, for tests and benches.
pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid date")
}
