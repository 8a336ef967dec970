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
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, terminated_at TEXT);
         CREATE TABLE grants (user_id INTEGER, role TEXT, via_group TEXT, granted_at TEXT, granted_by TEXT);
         CREATE TABLE group_members (group_name TEXT, user_id INTEGER, added_at TEXT);
         CREATE TABLE archive_runs (run_id TEXT, started_at TEXT, completed_at TEXT, status TEXT, rows_archived INTEGER);\n",
    );
    let people = [
        "ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances",
    ];
    for (i, p) in people.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO users VALUES ({}, '{p}@acme.example', NULL);\n",
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut items = collector.collect(&ids, period, &mut |_| {})?.len();
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
