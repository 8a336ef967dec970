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

pub const PACK: &str = r#"# The demo's evidence pack: seed 002's RBAC and archiver expectations over demo-app.db.
[[source]]
name = "demo-app"
kind = "sqlite"
path = "demo-app.db"

[[evidence]]
id = "rbac.direct-admin-grants"
title = "Admin role granted directly to a user (not through a group)"
source = "demo-app"
criteria = ["CC6.1", "CC6.3"]
schedule = "monthly"
query = "SELECT u.email, g.granted_at, g.granted_by FROM grants g JOIN users u ON u.id = g.user_id WHERE g.role = 'admin' AND g.via_group IS NULL ORDER BY g.granted_at"

[[evidence]]
id = "rbac.admin-group-members"
title = "Members of the admin group"
source = "demo-app"
criteria = ["CC6.2"]
schedule = "monthly"
query = "SELECT u.email, u.terminated_at, m.added_at FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_name = 'admins' ORDER BY u.email"

[[evidence]]
id = "archive.runs"
title = "Audit archiver runs, last 90 days"
source = "demo-app"
criteria = ["A1.2"]
schedule = "monthly"
effective_at = "field:completed_at"
query = "SELECT run_id, started_at, completed_at, status, rows_archived FROM archive_runs WHERE started_at < {{period_end}} ORDER BY started_at"

[[evidence]]
id = "dr.drill-report"
title = "Disaster-recovery drill report"
source = "demo-app"
criteria = ["A1.3"]
schedule = "quarterly"
query = "SELECT 1 AS placeholder WHERE 0"

[[evidence]]
id = "access.quarterly-review"
title = "Quarterly user access review, signed off by the reviewer (uploaded)"
source = "demo-app"
criteria = ["CC6.2"]
schedule = "quarterly"
query = "SELECT 1 AS placeholder WHERE 0"

[[check]]
id = "rbac.no-direct-admin-grants"
title = "No direct admin grants"
kind = "empty"
evidence = "rbac.direct-admin-grants"
severity = "high"

[[check]]
id = "rbac.no-terminated-admins"
title = "No terminated person in the admin group"
kind = "none"
evidence = "rbac.admin-group-members"
field = "terminated_at"
is_null = false
severity = "critical"

[[check]]
id = "archive.monthly"
title = "An archiver run every month of the last 90 days"
kind = "every_period"
evidence = "archive.runs"
timestamp = "started_at"
every = "month"
window = "90d"

[[check]]
id = "archive.none-failed"
title = "No failed archiver run"
kind = "none"
evidence = "archive.runs"
field = "status"
equals = "failed"

[[control]]
id = "AC-1"
title = "Privileged access is granted through reviewed groups only"
criteria = ["CC6.1", "CC6.2", "CC6.3"]
checks = ["rbac.no-direct-admin-grants", "rbac.no-terminated-admins"]

[[check]]
id = "access.review-signed"
title = "A signed access review exists for the period"
kind = "non_empty"
evidence = "access.quarterly-review"

[[control]]
id = "AC-2"
title = "User access is reviewed every quarter"
criteria = ["CC6.2"]
checks = ["access.review-signed"]

[[control]]
id = "RET-1"
title = "Audit data is archived every month"
criteria = ["A1.2"]
checks = ["archive.monthly", "archive.none-failed"]
"#;

pub struct EvidenceReport {
    pub items: usize,
    pub results: Vec<(String, String, String)>,
    pub controls: Vec<(String, String)>,
    pub findings_opened: usize,
}

fn app_db(path: &Path, period: &Period) -> Result<(), Error> {
    let c = rusqlite::Connection::open(path)
        .map_err(|e| Error::Config(format!("demo app database: {e}")))?;
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
        .map_err(|e| Error::Config(format!("demo app database: {e}")))?;
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
            .map(|x| {
                (
                    x["check_id"].as_str().unwrap_or("").into(),
                    x["status"].as_str().unwrap_or("").into(),
                    x["message"].as_str().unwrap_or("").into(),
                )
            })
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
