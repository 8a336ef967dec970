//! Checks, controls and findings on collected evidence (SQLite and PostgreSQL stores):
//! every built-in kind and Rego reach the right verdict, results are bound to their
//! definition and evidence, findings open, update and resolve, controls roll up, and the
//! packet carries all of it.

use crate::common;

use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_engine::checks::{controls, findings, Checker};

fn october() -> Period {
    Period::parse("2026-10", chrono::Utc::now()).unwrap()
}

const CATALOG: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "direct-grants"
title = "Direct grants"
source = "app"
schedule = "monthly"
query = "SELECT email, granted_at FROM grants WHERE via_group = 0 ORDER BY email"

[[evidence]]
id = "archive-runs"
title = "Archiver runs"
source = "app"
schedule = "monthly"
query = "SELECT run_id, started_at, status, errors FROM runs ORDER BY run_id"

[[evidence]]
id = "event-days"
title = "Audit events per day"
source = "app"
query = "SELECT day FROM days ORDER BY day"

[[evidence]]
id = "terminations"
title = "Terminations"
source = "app"
query = "SELECT email, at FROM terminations"

[[evidence]]
id = "removals"
title = "Access removals"
source = "app"
query = "SELECT email, at FROM removals"

[[evidence]]
id = "never-collected"
title = "Not collected"
source = "app"
schedule = "monthly"
query = "SELECT 1"

[[check]]
id = "no-direct-grants"
title = "No direct grants"
kind = "empty"
evidence = "direct-grants"
severity = "high"

[[check]]
id = "archive-monthly"
title = "An archiver run every month of the last 90 days"
kind = "every_period"
evidence = "archive-runs"
timestamp = "started_at"
every = "month"
window = "92d"

[[check]]
id = "archive-none-failed"
title = "No failed archiver run"
kind = "none"
evidence = "archive-runs"
field = "status"
equals = "failed"

[[check]]
id = "archive-zero-errors"
title = "Archiver runs report zero errors"
kind = "all"
evidence = "archive-runs"
field = "errors"
equals = 0

[[check]]
id = "archive-fresh"
title = "Latest archiver run within 90 days"
kind = "fresh"
evidence = "archive-runs"
timestamp = "started_at"
within = "90d"

[[check]]
id = "archive-count"
title = "Three to ten runs"
kind = "count"
evidence = "archive-runs"
min = 3
max = 10

[[check]]
id = "events-no-gap"
title = "No gap over 24 h in audit events"
kind = "max_gap"
evidence = "event-days"
timestamp = "day"
max_gap = "48h"
maintenance = [{ id = "MW-1", start = "2026-10-20", end = "2026-10-24", reason = "planned migration" }]

[[check]]
id = "removed-within-24h"
title = "Access removed within 24 h of termination"
kind = "compare"
left = "terminations"
right = "removals"
key = "email"
left_time = "at"
right_time = "at"
within = "24h"
severity = "critical"

[[check]]
id = "archive-policy"
title = "Archiver runs complete (policy)"
kind = "rego"
evidence = "archive-runs"
rego = '''
package vouch.archive
import rego.v1
deny contains msg if {
  some r in input.rows
  r.status != "complete"
  msg := {"run_id": r.run_id, "status": r.status}
}
'''

[[check]]
id = "broken-policy"
title = "A policy with a runtime error"
kind = "rego"
evidence = "archive-runs"
rego = '''
package vouch.broken
import rego.v1
deny contains msg if {
  some r in input.rows
  msg := sprintf("%d", [r.no_such_field.deeper])
}
deny contains msg if { msg := to_number("not a number") }
'''

[[check]]
id = "uncollected"
title = "Reads evidence never collected"
kind = "non_empty"
evidence = "never-collected"

[[control]]
id = "AC-1"
title = "Least privilege"
criteria = ["CC6.1"]
checks = ["no-direct-grants"]

[[control]]
id = "RET-1"
title = "Retention exports"
criteria = ["A1.2"]
checks = ["archive-monthly", "archive-none-failed", "archive-fresh", "archive-count"]

[[control]]
id = "MON-1"
title = "Log completeness"
criteria = ["CC7.2"]
checks = ["events-no-gap"]

[[control]]
id = "POL-1"
title = "Policy with an error"
criteria = ["CC8.1"]
checks = ["broken-policy"]

[[control]]
id = "NT-1"
title = "Untested"
criteria = ["CC6.2"]
checks = ["uncollected"]
"#;

fn setup(fx: &mut common::Fx) -> std::path::PathBuf {
    let db = fx.dir.path().join("app.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE grants (email TEXT, granted_at TEXT, via_group INTEGER);
         INSERT INTO grants VALUES ('dan@x', '2026-10-04 10:00:00', 0), ('eve@x', '2026-10-05 10:00:00', 1);
         CREATE TABLE runs (run_id TEXT, started_at TEXT, status TEXT, errors INTEGER);
         INSERT INTO runs VALUES ('r8', '2026-08-02 01:00:00', 'complete', 0), ('r9', '2026-09-02 01:00:00', 'complete', 0), ('r10', '2026-10-02 01:00:00', 'failed', 2), ('r10b', '2026-10-03 01:00:00', 'complete', 0);
         CREATE TABLE days (day TEXT);
         CREATE TABLE terminations (email TEXT, at TEXT);
         INSERT INTO terminations VALUES ('a@x', '2026-10-10T09:00:00Z'), ('b@x', '2026-10-11T09:00:00Z');
         CREATE TABLE removals (email TEXT, at TEXT);
         INSERT INTO removals VALUES ('a@x', '2026-10-10T17:00:00Z'), ('b@x', '2026-10-14T09:00:00Z');",
    )
    .unwrap();
    // Daily events except 10-06..10-08 (a 96 h gap) and 10-21..10-23 (inside maintenance).
    for d in 1..=31 {
        if !(6..=8).contains(&d) && !(21..=23).contains(&d) {
            c.execute(
                "INSERT INTO days VALUES (?1)",
                [format!("2026-10-{d:02}T12:00:00Z")],
            )
            .unwrap();
        }
    }
    drop(c);
    fx.with_catalog(CATALOG);
    db
}

fn checker(fx: &common::Fx) -> Checker<'_> {
    Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
}

fn collect(fx: &common::Fx, ids: &[&str]) {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let items = fx
        .collector()
        .collect(&ids, &october(), &mut |_| {})
        .unwrap();
    assert!(
        items.iter().all(|i| i.ok()),
        "{:?}",
        items.iter().map(|i| &i.record["error"]).collect::<Vec<_>>()
    );
}

/// The record (a control, or a check result as JSON) whose `key` is `id`.
fn by<T: serde::Serialize + std::fmt::Debug>(v: &[T], key: &str, id: &str) -> Value {
    v.iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .find(|r| r[key] == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

on_both!(checks_controls_findings, |fx| {
    let mut fx = fx;
    let db = setup(&mut fx);
    collect(
        &fx,
        &[
            "direct-grants",
            "archive-runs",
            "event-days",
            "terminations",
            "removals",
        ],
    );
    let now = chrono::Utc::now();
    let report = checker(&fx).run(&october(), &[], now).unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    let status = |id: &str| r(id)["status"].as_str().unwrap().to_string();

    assert_eq!(status("no-direct-grants"), "fail");
    assert_eq!(
        r("no-direct-grants")["failing"],
        json!([{"email": "dan@x", "granted_at": "2026-10-04 10:00:00"}])
    );
    assert_eq!(
        status("archive-monthly"),
        "pass",
        "{}",
        r("archive-monthly")
    );
    assert_eq!(status("archive-none-failed"), "fail");
    assert_eq!(r("archive-none-failed")["failing"][0]["run_id"], "r10");
    assert_eq!(status("archive-zero-errors"), "fail");
    assert_eq!(status("archive-fresh"), "pass");
    assert_eq!(status("archive-count"), "pass");
    assert_eq!(status("events-no-gap"), "fail", "{}", r("events-no-gap"));
    assert_eq!(
        r("events-no-gap")["failing"],
        json!([{"gap_from": "2026-10-05T12:00:00Z", "gap_to": "2026-10-09T12:00:00Z", "hours": 96.0}])
    );
    assert_eq!(status("removed-within-24h"), "fail");
    assert_eq!(
        r("removed-within-24h")["failing"],
        json!([{"email": "b@x", "at": "2026-10-11T09:00:00Z"}])
    );
    assert_eq!(status("archive-policy"), "fail");
    assert_eq!(
        r("archive-policy")["failing"],
        json!([{"run_id": "r10", "status": "failed"}])
    );
    assert_eq!(status("broken-policy"), "error", "{}", r("broken-policy"));
    assert!(
        r("broken-policy")["message"]
            .as_str()
            .unwrap()
            .contains("policy"),
        "{}",
        r("broken-policy")
    );
    assert_eq!(status("uncollected"), "no_evidence");
    assert_eq!(
        r("uncollected")["message"],
        "no evidence `never-collected` was collected for 2026-10"
    );

    // Each result names the evidence it read (by hash) and the exact definition.
    let g = r("no-direct-grants");
    let item =
        vouch_engine::evidence::get(&fx.store, g["evidence"][0]["item_id"].as_str().unwrap())
            .unwrap();
    assert_eq!(g["evidence"][0]["sha256"], item.record["sha256"]);
    assert_eq!(g["reference_time"], "2026-11-01T00:00:00.000000Z");
    let def = fx
        .config
        .checks
        .iter()
        .find(|c| c.id == "archive-count")
        .unwrap()
        .clone();
    assert_eq!(
        r("archive-count")["definition_sha256"],
        def.definition_sha256()
    );
    let mut changed = def.clone();
    changed.max = Some(11);
    assert_ne!(changed.definition_sha256(), def.definition_sha256());
    // Stored and in the ledger.
    let leaf: Value = serde_json::from_str(
        &fx.store
            .leaf(g["ledger_seq"].as_u64().unwrap())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(leaf["action"], "check.evaluated");
    assert_eq!(leaf["metadata"]["result_id"], g["id"]);

    // Controls.
    let c = |id: &str| {
        by(&report.controls, "id", id)["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(c("AC-1"), "fail");
    assert_eq!(c("RET-1"), "fail");
    assert_eq!(c("MON-1"), "fail");
    assert_eq!(c("POL-1"), "error");
    assert_eq!(c("NT-1"), "no_evidence");
    let ac = by(&report.controls, "id", "AC-1");
    assert_eq!(
        ac["coverage"],
        json!({"unit": "month", "buckets": 1, "covered": ["2026-10"], "gaps": []})
    );

    // Findings: one per failing check, high severity where configured.
    assert_eq!(
        report.findings.len(),
        6,
        "{:?}",
        report
            .findings
            .iter()
            .map(|c| &c.finding["check_id"])
            .collect::<Vec<_>>()
    );
    let open = findings::list(&fx.store, Some("open")).unwrap();
    let f = by(&open, "check_id", "no-direct-grants").clone();
    assert_eq!(
        (f["severity"].as_str(), f["occurrences"].as_u64()),
        (Some("high"), Some(1))
    );
    assert_eq!(f["controls"], json!(["AC-1"]));
    // A repeat failure updates the finding.
    let again = checker(&fx)
        .run(&october(), &["no-direct-grants".into()], chrono::Utc::now())
        .unwrap();
    assert_eq!(again.findings[0].action, "updated");
    let f2 = findings::get(&fx.store, f["id"].as_str().unwrap()).unwrap();
    assert_eq!(f2["occurrences"], 2);
    assert_eq!(findings::list(&fx.store, Some("open")).unwrap().len(), 6);
    // Fix the data, collect again, and the passing run resolves it with its evidence.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE grants SET via_group = 1", [])
        .unwrap();
    collect(&fx, &["direct-grants"]);
    let fixed = checker(&fx)
        .run(&october(), &["no-direct-grants".into()], chrono::Utc::now())
        .unwrap();
    assert_eq!(fixed.results[0].status, "pass");
    assert_eq!(fixed.findings[0].action, "resolved");
    let f3 = findings::get(&fx.store, f["id"].as_str().unwrap()).unwrap();
    assert_eq!(f3["status"], "resolved");
    assert_eq!(f3["resolution"]["result"]["result_id"], fixed.results[0].id);
    assert_eq!(
        f3["resolution"]["evidence"][0]["sha256"],
        fixed.results[0].evidence[0].sha256
    );
    assert!(fx.all_leaves().contains("\"action\":\"finding.resolved\""));
    let statuses =
        controls::evaluate(&fx.config, &fx.store, &october(), chrono::Utc::now(), None).unwrap();
    assert_eq!(
        by(&statuses, "id", "AC-1")["status"],
        "pass",
        "{}",
        by(&statuses, "id", "AC-1")
    );
    // The history shows the finding as it stood before it was resolved.
    let before = findings::as_of(&fx.store, f2["updated_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        by(&before, "id", f["id"].as_str().unwrap())["status"],
        "open"
    );

    // Findings by hand.
    let m = findings::open(
        &fx.store,
        &fx.ledger,
        &fx.config,
        "Vendor review overdue",
        "medium",
        Some("CC9.2"),
        None,
        "alice",
    )
    .unwrap();
    assert!(
        findings::open(&fx.store, &fx.ledger, &fx.config, "x", "urgent", None, None, "alice")
            .unwrap_err()
            .to_string()
            .contains("severity")
    );
    let u = findings::Update {
        status: Some("accepted".into()),
        note: Some("risk accepted by CISO".into()),
        ..Default::default()
    };
    let m2 = findings::update(
        &fx.store,
        &fx.ledger,
        &m["id"].as_str().unwrap()[..13],
        &u,
        "bob",
    )
    .unwrap();
    assert_eq!(
        (m2["status"].as_str(), m2["notes"][0]["by"].as_str()),
        (Some("accepted"), Some("bob"))
    );

    // The packet carries controls, check results, evidence, findings and coverage.
    let out = fx.dir.path().join("packet");
    let req = vouch_engine::packet::Request {
        period: october(),
        generated_at: None,
        format: vouch_engine::packet::Format::Json,
        out: out.clone(),
        force: false,
    };
    vouch_engine::packet::generate(&fx.config, &fx.keys, &fx.ledger, &req).unwrap();
    let p: Value =
        serde_json::from_slice(&std::fs::read(out.join("SOC2_Evidence.json")).unwrap()).unwrap();
    let pc = p["controls"].as_array().unwrap();
    assert_eq!(pc.len(), 6);
    assert_eq!(by(pc, "id", "AC-1")["status"], "pass");
    assert_eq!(by(pc, "id", "RET-1")["status"], "fail");
    assert_eq!(p["summary"]["overall_status"], "fail");
    // AC-1 passes; RET-1 and MON-1 fail; POL-1 errs; NT-1 has no evidence, and so has the
    // ledger's own control: no event of October was ever logged (issue 12).
    assert_eq!(
        p["summary"]["controls"],
        json!({"total": 6, "pass": 1, "fail": 2, "error": 1, "not_tested": 0, "no_evidence": 2})
    );
    assert_eq!(
        by(pc, "id", "VOUCH-LEDGER-INTEGRITY")["status"],
        "no_evidence"
    );
    assert_eq!(by(pc, "id", "NT-1")["status"], "no_evidence");
    assert!(p["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["evidence_id"] == "direct-grants"));
    assert_eq!(p["summary"]["open_findings"], 6, "{}", p["findings"]);
    assert_eq!(p["coverage"].as_array().unwrap().len(), 5);
    if let Some(check) = common::schema_check(&out.join("SOC2_Evidence.json")) {
        assert_eq!(check, "valid");
    }
    // Regenerating from the stored data gives the same bytes.
    let again =
        vouch_engine::packet::reproduce(&fx.config, &fx.ledger, &out.join("SOC2_Evidence.json"))
            .unwrap();
    assert!(
        again.iter().all(|r| r.identical),
        "{:?}",
        again.iter().map(|r| &r.difference).collect::<Vec<_>>()
    );
});
