//! The demo's evidence step: a small "application database" (SQLite) shaped like seed
//! 002's RBAC tables, a pack of evidence, checks and controls over it, collection,
//! an uploaded DR drill report, and a check run — one direct grant is planted so the
//! demo shows a failing control and the finding it opens, and the quarterly access
//! review is never uploaded so the demo shows a control with `no_evidence`.

use crate::checks::Checker;
use crate::evidence::Collector;
use crate::{Config, Error, Ledger};
use chrono::Duration;
use std::path::Path;
use vouch_core::period::Period;

/// The demo's pack (evidence, checks and controls over demo-app.db), a file like any pack.
pub const PACK: &str = include_str!("pack.toml");

/// What the demo's evidence step did.
pub struct EvidenceReport {
    /// Evidence items collected.
    pub items: usize,
    /// Each check's (id, status, message).
    pub results: Vec<(String, String, String)>,
    /// Each control's (id, status).
    pub controls: Vec<(String, String)>,
    /// Findings the check run opened.
    pub findings_opened: usize,
}

fn app_db(path: &Path, period: &Period) -> Result<(), Error> {
    let c = rusqlite::Connection::open(path)
        .map_err(|e| Error::Demo(format!("demo app database: {e}")))?;
    let t = |d: Duration| (period.start + d).format("%Y-%m-%d %H:%M:%S").to_string();
    let mut sql = String::from(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, terminated_at TEXT, role TEXT, last_login TEXT);
         CREATE TABLE grants (user_id INTEGER, role TEXT, via_group TEXT, granted_at TEXT, granted_by TEXT);
         CREATE TABLE group_members (group_name TEXT, user_id INTEGER, added_at TEXT);
         CREATE TABLE archive_runs (run_id TEXT, started_at TEXT, completed_at TEXT, status TEXT, rows_archived INTEGER);\n",
    );
    let people = [
        "ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances",
    ];
    for (i, p) in people.iter().enumerate() {
        let role = match i {
            0 => "owner",
            1 | 3 => "admin",
            _ => "member",
        };
        // frances has not logged in for months: the access review flags her dormant.
        let last_login = if *p == "frances" {
            t(Duration::days(-150))
        } else {
            t(Duration::days(27 - i as i64))
        };
        sql.push_str(&format!(
            "INSERT INTO users VALUES ({}, '{p}@acme.example', NULL, '{role}', '{last_login}');\n",
            i + 1
        ));
    }
    for id in [1, 2, 4] {
        sql.push_str(&format!(
            "INSERT INTO group_members VALUES ('admins', {id}, '{}');\n",
            t(Duration::days(-200))
        ));
        sql.push_str(&format!(
            "INSERT INTO grants VALUES ({id}, 'admin', 'admins', '{}', 'ada@acme.example');\n",
            t(Duration::days(-200))
        ));
    }
    // The planted problem: an admin grant straight to a user during the period.
    sql.push_str(&format!(
        "INSERT INTO grants VALUES (7, 'admin', NULL, '{}', 'ken@acme.example');\n",
        t(Duration::days(9) + Duration::hours(15))
    ));
    for m in 0..4 {
        let s = Duration::days(-90 + 30 * m + 2);
        sql.push_str(&format!(
            "INSERT INTO archive_runs VALUES ('arch-{m}', '{}', '{}', 'complete', {});\n",
            t(s),
            t(s + Duration::minutes(42)),
            120_000 + m * 7_000
        ));
    }
    c.execute_batch(&sql)
        .map_err(|e| Error::Demo(format!("demo app database: {e}")))?;
    Ok(())
}

/// Set up the demo app and pack, collect, upload, check.
pub fn run(
    dir: &Path,
    config: &mut Config,
    ledger: &Ledger,
    store: vouch_store::Store,
    period: &Period,
) -> Result<EvidenceReport, Error> {
    app_db(&dir.join("demo-app.db"), period)?;
    std::fs::write(dir.join("demo-pack.toml"), PACK)
        .map_err(|e| Error::io(dir.join("demo-pack.toml"), e))?;
    let main = dir.join(crate::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&main).map_err(|e| Error::io(&main, e))?;
    std::fs::write(&main, format!("include = [\"demo-pack.toml\"]\n{text}"))
        .map_err(|e| Error::io(&main, e))?;
    *config = Config::load(dir)?;
    let collector = Collector::new(config, store.clone(), ledger);
    let ids: Vec<String> = [
        "rbac.direct-admin-grants",
        "rbac.admin-group-members",
        "archive.runs",
        "access.app-users",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let collected = collector.collect(&ids, period, &mut |_| {})?;
    crate::after_collection(config, &store, ledger, &collected, chrono::Utc::now())?;
    let mut items = collected.len();
    let report = dir.join("dr-drill-report.txt");
    std::fs::write(&report, format!("DR drill {}: restored the production database from backup in 38 minutes (RTO 4 h). Signed: ops lead.\n", period.label))
        .map_err(|e| Error::io(&report, e))?;
    collector.upload(
        &report,
        "dr.drill-report",
        Some("quarterly DR drill, restore test passed"),
        "ops-lead",
        period,
    )?;
    items += 1;
    let checker = Checker::new(config, store, ledger);
    let r = checker.run(period, &[], chrono::Utc::now())?;
    Ok(EvidenceReport {
        items,
        results: r
            .results
            .iter()
            .map(|x| (x.check_id.clone(), x.status.clone(), x.message.clone()))
            .collect(),
        controls: r
            .controls
            .iter()
            .map(|x| {
                (
                    x["id"].as_str().unwrap_or("").into(),
                    x["status"].as_str().unwrap_or("").into(),
                )
            })
            .collect(),
        findings_opened: r.findings.iter().filter(|c| c.action == "opened").count(),
    })
}

/// What the demo's access review did.
pub struct AccessReviewReport {
    /// The campaign's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Accounts reviewed.
    pub entries: u64,
    /// Decisions by kind.
    pub decisions: std::collections::BTreeMap<String, u64>,
    /// The accounts revoked (each opened a remediation finding).
    pub revoked: Vec<String>,
    /// The directory of its signed document set (JSON, Markdown, PDF, signatures).
    pub dir: std::path::PathBuf,
    /// The signed document.
    pub document_file: std::path::PathBuf,
    /// Its signature (base64 DER, like the packet's `.sig`).
    pub signature_file: std::path::PathBuf,
}

/// Seed 003's access review over the demo application's accounts: ada and grace review,
/// grace decides ada's own account, frances (no login for months) is revoked; completed
/// and signed, its document set (JSON, Markdown, PDF and their signatures) written under
/// `attestations/access-review-<id>/`.
pub fn access_review(
    config: &Config,
    store: &vouch_store::Store,
    ledger: &Ledger,
    keys: &crate::Keys,
) -> Result<AccessReviewReport, Error> {
    use crate::signoff::review::{self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer};
    let ctx = Ctx {
        config,
        store,
        ledger,
    };
    let now = chrono::Utc::now();
    let reviewer = |id: &str| Reviewer {
        id: id.into(),
        accounts: Vec::new(),
    };
    let v = review::create(
        &ctx,
        &NewCampaign {
            title: "Quarterly access review: demo application accounts".into(),
            populations: vec![PopulationSpec {
                evidence: "access.app-users".into(),
                reviewers: vec![reviewer("ada@acme.example"), reviewer("grace@acme.example")],
            }],
            draft: false,
        },
        "margaret@acme.example",
        now,
    )?;
    let id = v.campaign.id.clone();
    let mut revoked = Vec::new();
    for e in &v.entries {
        let dormant = e.flags.iter().any(|f| f == "dormant");
        let (decision, note) = if dormant {
            (
                "revoke",
                Some("no login for months; left the analytics team"),
            )
        } else if e.flags.iter().any(|f| f == "privileged") {
            ("keep", Some("administrator by role; still needed"))
        } else {
            ("keep", None)
        };
        // Nobody decides their own account: grace decides ada's, ada everyone else's.
        let by = if e.account == "ada@acme.example" {
            "grace@acme.example"
        } else {
            "ada@acme.example"
        };
        review::decide(
            &ctx,
            &id,
            &Decision {
                population: e.population.clone(),
                account: e.account.clone(),
                decision: decision.into(),
                note: note.map(str::to_string),
            },
            by,
            now,
        )?;
        if decision == "revoke" {
            revoked.push(e.account.clone());
        }
    }
    let done = review::complete(
        &ctx,
        keys,
        &id,
        "margaret@acme.example",
        now,
        review::Personal::None,
        &crate::packet::attestation::review_pdf,
    )?;
    // The document set beside the attestations, as `vouch review complete` writes it.
    let out = crate::packet::attestation::review_dir_for(&config.data_dir, &id);
    crate::packet::attestation::write_review(&out, keys, &done.files)?;
    let document_file = out.join(format!("{}.json", review::FILE_NAME));
    let signature_file = out.join(format!("{}.json.sig", review::FILE_NAME));
    Ok(AccessReviewReport {
        id,
        title: done.view.campaign.title.clone(),
        entries: done.view.summary.to_decide,
        decisions: done.view.summary.decisions.clone(),
        revoked,
        dir: out,
        document_file,
        signature_file,
    })
}
