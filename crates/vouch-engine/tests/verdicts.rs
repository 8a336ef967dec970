//! Verdicts vouch can stand behind (issue 12), on SQLite and PostgreSQL stores: nothing
//! passes on nothing (`no_evidence`), `empty`/`none` say how many rows they judged, a
//! period that has not ended is judged up to now for every kind (Rego sees the same
//! reference time), `every_period` counts only rows matching `where` and judges whole
//! months only.

use crate::common;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_engine::checks::{controls, Checker};

const CATALOG: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "runs"
title = "Archiver runs"
source = "app"
schedule = "monthly"
query = "SELECT run_id, started_at, status FROM runs ORDER BY run_id"

[[evidence]]
id = "runs-in-period"
title = "Archiver runs started inside the period"
source = "app"
query = "SELECT run_id, started_at, status FROM runs WHERE started_at >= {{period_start_date}} ORDER BY run_id"

[[evidence]]
id = "grants"
title = "Direct grants"
source = "app"
query = "SELECT email FROM grants"

[[evidence]]
id = "days"
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
id = "review"
title = "Quarterly access review (uploaded, never here)"
source = "app"
schedule = "quarterly"
query = "SELECT 1 AS x WHERE 0"

[[check]]
id = "runs-monthly"
title = "An archiver run every month of the period"
kind = "every_period"
evidence = "runs"
timestamp = "started_at"
every = "month"

[[check]]
id = "runs-in-period-monthly"
title = "An archiver run every month of the period (rows of the period only)"
kind = "every_period"
evidence = "runs-in-period"
timestamp = "started_at"
every = "month"

[[check]]
id = "runs-none-failed"
title = "No failed archiver run"
kind = "none"
evidence = "runs"
field = "status"
equals = "failed"

[[check]]
id = "no-grants"
title = "No direct grants"
kind = "empty"
evidence = "grants"

[[check]]
id = "events-gap"
title = "No gap over 48 h in audit events"
kind = "max_gap"
evidence = "days"
timestamp = "day"
max_gap = "48h"

[[check]]
id = "removed-24h"
title = "Access removed within 24 h of termination"
kind = "compare"
left = "terminations"
right = "removals"
key = "email"
left_time = "at"
right_time = "at"
within = "24h"

[[check]]
id = "policy-reference"
title = "Echoes the reference time it was given"
kind = "rego"
evidence = "runs"
rego = '''
package vouch.reference
import rego.v1
deny contains msg if { msg := sprintf("reference %s", [input.reference_time]) }
'''

[[check]]
id = "review-signed"
title = "A signed access review exists"
kind = "non_empty"
evidence = "review"

[[control]]
id = "REV-1"
title = "Access review, by a check"
criteria = ["CC6.2"]
checks = ["review-signed"]

[[control]]
id = "REV-2"
title = "Access review, evidence only"
criteria = ["CC6.2"]
evidence = ["review"]

[[control]]
id = "MIX-1"
title = "A passing check and one without evidence"
criteria = ["CC6.1"]
checks = ["no-grants", "review-signed"]

[[control]]
id = "AC-1"
title = "No direct grants"
criteria = ["CC6.1"]
checks = ["no-grants"]
"#;

const WHERE_CHECK: &str = r#"
[[check]]
id = "runs-monthly-complete"
title = "A completed archiver run every month of the last 92 days"
kind = "every_period"
evidence = "runs"
timestamp = "started_at"
every = "month"
window = "92d"
where = { status = "complete" }

[[check]]
id = "runs-monthly-finished"
title = "A finished archiver run (complete or failed) every month of the last 92 days"
kind = "every_period"
evidence = "runs"
timestamp = "started_at"
every = "month"
window = "92d"
where = { status = ["complete", "failed"] }
"#;

fn at(s: &str) -> DateTime<Utc> {
    vouch_core::period::parse_instant(s).unwrap()
}

/// The application database: archiver runs in August to November (September's is stuck
/// in `running`), no direct grant, daily audit events 1 October to 14 November, one
/// termination removed in time and one whose 24 h have not passed on 15 November.
fn setup(fx: &mut common::Fx, extra: &str) {
    let c = rusqlite::Connection::open(fx.dir.path().join("app.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE runs (run_id TEXT, started_at TEXT, status TEXT);
         INSERT INTO runs VALUES ('r8', '2026-08-02 01:00:00', 'complete'), ('r9', '2026-09-02 01:00:00', 'running'),
           ('r10', '2026-10-02 01:00:00', 'complete'), ('r11', '2026-11-02 01:00:00', 'complete');
         CREATE TABLE grants (email TEXT);
         CREATE TABLE days (day TEXT);
         CREATE TABLE terminations (email TEXT, at TEXT);
         INSERT INTO terminations VALUES ('a@x', '2026-11-03T09:00:00Z'), ('c@x', '2026-11-14T20:00:00Z');
         CREATE TABLE removals (email TEXT, at TEXT);
         INSERT INTO removals VALUES ('a@x', '2026-11-03T17:00:00Z');",
    )
    .unwrap();
    let mut t = at("2026-10-01") + chrono::Duration::hours(12);
    while t < at("2026-11-15") {
        c.execute(
            "INSERT INTO days VALUES (?1)",
            [t.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
        )
        .unwrap();
        t += chrono::Duration::days(1);
    }
    drop(c);
    fx.with_catalog(&format!("{CATALOG}{extra}"));
}

fn collect(fx: &common::Fx, period: &Period, ids: &[&str]) {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let items = fx.collector().collect(&ids, period, &mut |_| {}).unwrap();
    assert!(items.iter().all(|i| i.ok()));
}

/// The record (a control, or a check result as JSON) whose `key` is `id`.
fn by<T: serde::Serialize + std::fmt::Debug>(v: &[T], key: &str, id: &str) -> Value {
    v.iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .find(|r| r[key] == id)
        .unwrap_or_else(|| panic!("no {id} in {v:?}"))
}

fn packet(fx: &common::Fx, period: &Period, name: &str) -> Value {
    let out = fx.dir.path().join(name);
    let req = vouch_engine::packet::Request {
        period: period.clone(),
        generated_at: None,
        format: vouch_engine::packet::Format::Json,
        out: out.clone(),
        force: false,
    };
    vouch_engine::packet::generate(&fx.config, &fx.keys, &fx.ledger, &req).unwrap();
    serde_json::from_slice(&std::fs::read(out.join("SOC2_Evidence.json")).unwrap()).unwrap()
}

#[test]
fn rollup_order_never_lets_pass_hide_anything() {
    use controls::rollup;
    assert_eq!(rollup([]), "no_evidence", "nothing judged is not a pass");
    assert_eq!(rollup(["pass", "no_evidence"]), "no_evidence");
    assert_eq!(rollup(["pass", "error"]), "error");
    assert_eq!(rollup(["no_evidence", "error", "pass"]), "error");
    assert_eq!(rollup(["pass", "not_tested"]), "not_tested");
    assert_eq!(rollup(["no_evidence", "not_tested"]), "no_evidence");
    assert_eq!(rollup(["error", "fail", "pass"]), "fail");
    // Switched off by configuration: skipped, but never a pass on its own.
    assert_eq!(rollup(["pass", "not_applicable"]), "pass");
    assert_eq!(rollup(["not_applicable"]), "not_applicable");
    assert_eq!(rollup(["not_applicable", "no_evidence"]), "no_evidence");
    // A result stored before no_evidence existed said not_applicable for "nothing
    // collected": still no_evidence.
    assert_eq!(
        controls::result_status(&serde_json::json!({"status": "not_applicable"})),
        "no_evidence"
    );
    assert_eq!(
        controls::result_status(
            &serde_json::json!({"status": "not_applicable", "switched_off": true})
        ),
        "not_applicable"
    );
    assert_eq!(rollup(["pass", "something-else"]), "error");
    assert_eq!(rollup(["pass", "pass"]), "pass");
    assert_eq!(
        controls::STATUSES,
        &[
            "fail",
            "error",
            "no_evidence",
            "not_tested",
            "pass",
            "not_applicable"
        ]
    );
}

on_both!(nothing_passes_on_nothing, |fx| {
    let mut fx = fx;
    let october = Period::parse("2026-10", Utc::now()).unwrap();
    // A packet of an empty ledger: the ledger's own control has nothing to vouch for.
    setup(&mut fx, "");
    assert_eq!(fx.store.head().unwrap().size, 0);
    let p = packet(&fx, &october, "empty-packet");
    assert_eq!(p["controls"][0]["id"], "VOUCH-LEDGER-INTEGRITY");
    assert_eq!(
        p["controls"][0]["status"], "no_evidence",
        "{}",
        p["controls"][0]
    );
    assert_eq!(p["summary"]["overall_status"], "no_evidence");

    collect(&fx, &october, &["runs", "grants"]);
    let now = at("2026-11-20");
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&october, &[], now)
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    let c = |id: &str| by(&report.controls, "id", id)["status"].clone();
    assert_eq!(
        r("review-signed")["status"],
        "no_evidence",
        "{}",
        r("review-signed")
    );
    assert_eq!(r("review-signed")["evidence"], json!([]));
    assert_eq!(r("no-grants")["status"], "pass");
    assert_eq!(c("AC-1"), "pass");
    assert_eq!(c("REV-1"), "no_evidence");
    assert_eq!(
        c("REV-2"),
        "no_evidence",
        "evidence-only control, nothing collected"
    );
    assert_eq!(
        c("MIX-1"),
        "no_evidence",
        "a pass must not hide missing evidence"
    );
    assert!(controls::incomplete(&by(&report.controls, "id", "MIX-1")));
    assert!(!controls::incomplete(&by(&report.controls, "id", "AC-1")));
    // The ledger records the verdict as it is.
    let leaf: Value = serde_json::from_str(
        &fx.store
            .leaf(r("review-signed")["ledger_seq"].as_u64().unwrap())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(leaf["metadata"]["status"], "no_evidence");
    assert_eq!(leaf["result"], "failure");

    // A monthly check on a range holding no whole month has nothing to judge.
    let part = Period::range(at("2026-10-05"), at("2026-10-20")).unwrap();
    collect(&fx, &part, &["runs"]);
    let pr = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&part, &["runs-monthly".into()], now)
        .unwrap();
    assert_eq!(pr.results[0].status, "no_evidence", "{}", pr.results[0]);
    assert!(pr.results[0]
        .message
        .starts_with("no whole month between 2026-10-05T00:00:00Z and 2026-10-20T00:00:00Z"));

    // A period with no event: its packet's ledger control is no_evidence, and so is a
    // period where nothing was collected or checked.
    let july = Period::parse("2026-07", Utc::now()).unwrap();
    let statuses = controls::evaluate(&fx.config, &fx.store, &july, now, None).unwrap();
    assert!(
        statuses.iter().all(|s| s["status"] == "no_evidence"),
        "{statuses:?}"
    );
    let p = packet(&fx, &july, "july-packet");
    assert_eq!(p["controls"][0]["status"], "no_evidence");
    assert_eq!(p["summary"]["overall_status"], "no_evidence");
});

on_both!(empty_and_none_say_how_many_rows_they_judged, |fx| {
    let mut fx = fx;
    setup(&mut fx, "");
    let october = Period::parse("2026-10", Utc::now()).unwrap();
    collect(&fx, &october, &["runs", "grants"]);
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(
            &october,
            &["no-grants".into(), "runs-none-failed".into()],
            at("2026-11-20"),
        )
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    assert_eq!(r("no-grants")["status"], "pass");
    assert_eq!(
        r("no-grants")["message"],
        "0 rows judged: none, as expected"
    );
    assert_eq!(r("runs-none-failed")["status"], "pass");
    assert_eq!(
        r("runs-none-failed")["message"],
        "0 of 4 row(s) judged have status = \"failed\""
    );
    rusqlite::Connection::open(fx.dir.path().join("app.db"))
        .unwrap()
        .execute_batch(
            "INSERT INTO grants VALUES ('dan@x'), ('eve@x');
             UPDATE runs SET status = 'failed' WHERE run_id = 'r10';",
        )
        .unwrap();
    collect(&fx, &october, &["runs", "grants"]);
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(
            &october,
            &["no-grants".into(), "runs-none-failed".into()],
            at("2026-11-20"),
        )
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    assert_eq!(
        r("no-grants")["message"],
        "2 row(s) judged where none are expected"
    );
    assert_eq!(
        r("runs-none-failed")["message"],
        "1 of 4 row(s) judged have status = \"failed\""
    );
});

on_both!(an_unfinished_period_is_judged_up_to_now, |fx| {
    let mut fx = fx;
    setup(&mut fx, "");
    let now = at("2026-11-15");
    let q4 = Period::parse("2026-Q4", now).unwrap();
    collect(&fx, &q4, &["runs", "days", "terminations", "removals"]);
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(
            &q4,
            &[
                "runs-monthly".into(),
                "events-gap".into(),
                "removed-24h".into(),
                "policy-reference".into(),
            ],
            now,
        )
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    for x in &report.results {
        assert_eq!(x.reference_time, "2026-11-15T00:00:00.000000Z", "{x}");
    }
    // December has not come: it is no month without a run. November already has its run.
    assert_eq!(r("runs-monthly")["status"], "pass", "{}", r("runs-monthly"));
    assert_eq!(
        r("runs-monthly")["message"],
        "at least 1 per month in all 2 whole month(s) judged"
    );
    // The last event (14 November, noon) is 12 h before now, not 791 h before 1 January.
    assert_eq!(r("events-gap")["status"], "pass", "{}", r("events-gap"));
    assert_eq!(
        r("events-gap")["message"],
        "no unexplained gap over 48 h from 2026-10-01T00:00:00Z to 2026-11-15T00:00:00Z"
    );
    // c@x was terminated 4 h before now: not yet due.
    assert_eq!(r("removed-24h")["status"], "pass", "{}", r("removed-24h"));
    assert!(r("removed-24h")["message"]
        .as_str()
        .unwrap()
        .contains("1 not yet due at 2026-11-15T00:00:00Z"));
    // Rego gets the same reference time.
    assert_eq!(
        r("policy-reference")["failing"],
        json!(["reference 2026-11-15T00:00:00.000000Z"])
    );

    // Later, with the period over, the same data shows the real gaps.
    let later = at("2027-01-05");
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(
            &q4,
            &[
                "runs-monthly".into(),
                "events-gap".into(),
                "removed-24h".into(),
            ],
            later,
        )
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    assert_eq!(
        r("runs-monthly")["failing"],
        json!([{"from": "2026-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z", "count": 0, "expected_at_least": 1}])
    );
    assert_eq!(r("events-gap")["status"], "fail");
    assert_eq!(
        r("removed-24h")["failing"],
        json!([{"email": "c@x", "at": "2026-11-14T20:00:00Z"}])
    );
});

on_both!(every_period_counts_where_and_whole_months_only, |fx| {
    let mut fx = fx;
    setup(&mut fx, WHERE_CHECK);
    let october = Period::parse("2026-10", Utc::now()).unwrap();
    collect(&fx, &october, &["runs"]);
    let now = at("2026-11-20");
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(
            &october,
            &[
                "runs-monthly-complete".into(),
                "runs-monthly-finished".into(),
            ],
            now,
        )
        .unwrap();
    let r = |id: &str| by(&report.results, "check_id", id).clone();
    // September's run is stuck in `running`: it does not count.
    assert_eq!(r("runs-monthly-complete")["status"], "fail");
    assert_eq!(
        r("runs-monthly-complete")["failing"],
        json!([{"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z", "count": 0, "expected_at_least": 1}])
    );
    assert_eq!(
        r("runs-monthly-complete")["message"],
        "1 of 3 whole month(s) judged have fewer than 1 (counting 3 of 4 row(s), those where status = \"complete\")"
    );
    assert_eq!(r("runs-monthly-finished")["status"], "fail");

    // A period starting on 15 August, its evidence holding rows from then on: August is
    // not a whole month of it and is not judged.
    let from_15th = Period::range(at("2026-08-15"), at("2026-11-01")).unwrap();
    collect(&fx, &from_15th, &["runs-in-period"]);
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&from_15th, &["runs-in-period-monthly".into()], now)
        .unwrap();
    assert_eq!(report.results[0].status, "pass", "{}", report.results[0]);
    assert_eq!(
        report.results[0].message,
        "at least 1 per month in all 2 whole month(s) judged"
    );

    // `where` belongs to every_period only.
    let bad = format!("{CATALOG}\n[[check]]\nid = \"bad-where\"\ntitle = \"x\"\nkind = \"empty\"\nevidence = \"runs\"\nwhere = {{ status = \"complete\" }}\n");
    std::fs::write(fx.dir.path().join("evidence.toml"), bad).unwrap();
    let e = vouch_engine::Config::load(fx.dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("where") && e.contains("every_period"), "{e}");
});

const SWITCHED_OFF: &str = r#"
[[evidence]]
id = "leaver-column"
title = "The optional leavers column, looked up by name"
source = "app"
query = "SELECT 1 AS x"
params = { column = "" }

[[check]]
id = "no-leavers"
title = "No leaver holds a direct grant (optional: needs a leavers column)"
kind = "empty"
evidence = "grants"
guards = [{ evidence = "leaver-column", parameter = "column", optional = true }]

[[check]]
id = "leavers-removed"
title = "Leavers removed within 24 h (optional: needs a leavers column)"
kind = "non_empty"
evidence = "terminations"
guards = [{ evidence = "leaver-column", parameter = "column", optional = true }]

[[control]]
id = "OFF-1"
title = "Only switched-off checks"
criteria = ["CC6.3"]
checks = ["no-leavers", "leavers-removed"]

[[control]]
id = "ON-1"
title = "A passing check and a switched-off one"
criteria = ["CC6.3"]
checks = ["no-grants", "no-leavers"]
"#;

// Review of issue 12: a check switched off by configuration rolled up to no_evidence, so
// its control could never pass and `vouch check` exited 2 on every run.
on_both!(a_switched_off_check_is_skipped_not_missing, |fx| {
    let mut fx = fx;
    setup(&mut fx, SWITCHED_OFF);
    let now = at("2026-11-15T12:00:00Z");
    let october = Period::parse("2026-10", now).unwrap();
    // The guard's own evidence is not even collected: the check is off all the same.
    collect(&fx, &october, &["grants"]);
    let report = Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&october, &[], now)
        .unwrap();
    let off = by(&report.results, "check_id", "no-leavers");
    assert_eq!(off["status"], "not_applicable", "{off}");
    assert_eq!(off["switched_off"], true, "{off}");
    assert!(
        off["message"]
            .as_str()
            .unwrap()
            .contains("parameter `column` is empty"),
        "{off}"
    );
    // Switched off wins over evidence that was not collected: the configuration says the
    // check does not apply, whatever was (not) collected for it.
    let off2 = by(&report.results, "check_id", "leavers-removed");
    assert_eq!(off2["status"], "not_applicable", "{off2}");
    let control = |id: &str| by(&report.controls, "id", id).clone();
    let on = control("ON-1");
    assert_eq!(on["status"], "pass", "{on}");
    assert!(!controls::incomplete(&on), "{on}");
    // Only switched-off checks: not_applicable, never pass, and not incomplete.
    let only = control("OFF-1");
    assert_eq!(only["status"], "not_applicable", "{only}");
    assert!(!controls::incomplete(&only), "{only}");
    // A check whose evidence was never collected stays no_evidence.
    let rev = control("REV-1");
    assert_eq!(rev["status"], "no_evidence", "{rev}");
    assert!(controls::incomplete(&rev));
});
