//! `vouch check` as cron runs it (issue 12): exit 0 only when everything passes, 1 when
//! a control fails and nothing is in error, 2 when a control is in error or has no
//! evidence whatever else failed; `no_evidence` shown by `check` and `controls list`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::{ok, text, vouch as bin};

fn vouch(dir: &Path, args: &[&str]) -> Output {
    crate::util::run(dir, args)
}

fn sql(db: &Path, sql: &str) {
    let py = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.executescript({:?}); c.commit()",
        db.display().to_string(),
        sql
    );
    assert!(Command::new("python3")
        .args(["-c", &py])
        .status()
        .unwrap()
        .success());
}

const SOURCES: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "runs"
title = "Archiver runs"
source = "app"
query = "SELECT run_id, started_at, status FROM runs ORDER BY run_id"

[[evidence]]
id = "review"
title = "Access review (uploaded; never here)"
source = "app"
query = "SELECT 1 AS x WHERE 0"

"#;

const PASSING: &str = r#"
[[check]]
id = "none-failed"
title = "No failed run"
kind = "none"
evidence = "runs"
field = "status"
equals = "failed"
[[control]]
id = "RUN-1"
title = "Runs do not fail"
criteria = ["A1.2"]
checks = ["none-failed"]
"#;

const ERRING: &str = r#"
[[check]]
id = "recent-runs"
title = "Every run is recent"
kind = "all"
evidence = "runs"
field = "started_at"
newer_than = "400d"
[[control]]
id = "RUN-2"
title = "Runs are recent"
criteria = ["A1.2"]
checks = ["recent-runs"]
"#;

const NO_EVIDENCE: &str = r#"
[[check]]
id = "review-signed"
title = "A signed access review"
kind = "non_empty"
evidence = "review"
[[control]]
id = "REV-1"
title = "Access is reviewed"
criteria = ["CC6.2"]
checks = ["review-signed"]
"#;

struct Env {
    _t: tempfile::TempDir,
    dir: std::path::PathBuf,
}

impl Env {
    fn new() -> Env {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        ok(&vouch(
            &dir,
            &[
                "init",
                "--org",
                "Acme",
                "--origin",
                "acme.example/vouch/audit",
            ],
        ));
        let main = dir.join("vouch.toml");
        let cfg = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, format!("include = [\"checks.toml\"]\n{cfg}")).unwrap();
        sql(
            &dir.join("app.db"),
            "CREATE TABLE runs (run_id TEXT, started_at TEXT, status TEXT);
             INSERT INTO runs VALUES ('r10', '2026-10-02 01:00:00', 'complete');",
        );
        Env { _t: t, dir }
    }

    fn controls(&self, parts: &[&str]) {
        std::fs::write(
            self.dir.join("checks.toml"),
            format!("{SOURCES}{}", parts.concat()),
        )
        .unwrap();
    }

    fn collect(&self) {
        ok(&vouch(
            &self.dir,
            &["collect", "--period", "2026-10", "--evidence", "runs"],
        ));
    }

    /// `vouch --json check --period 2026-10`: exit code and report.
    fn check(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--json", "check", "--period", "2026-10"];
        args.extend(extra);
        let o = vouch(&self.dir, &args);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&o)));
        let code = o.status.code().unwrap();
        if !extra.contains(&"--no-fail") {
            assert_eq!(v["exit_code"], code, "{v}");
        }
        (code, v)
    }
}

fn control_status(report: &Value, id: &str) -> String {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {report}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn ext_check_exit_codes_page_cron_when_anything_was_not_judged() {
    let e = Env::new();
    e.controls(&[PASSING]);
    e.collect();
    // Everything passes: 0.
    assert_eq!(e.check(&[]).0, 0);

    // A control fails and nothing errs: 1.
    sql(
        &e.dir.join("app.db"),
        "INSERT INTO runs VALUES ('r11', '2026-10-09 01:00:00', 'failed');",
    );
    e.collect();
    let (code, v) = e.check(&[]);
    assert_eq!(
        (code, control_status(&v, "RUN-1")),
        (1, "fail".into()),
        "{v}"
    );

    // Every control in error: 2, not 0 (expired credentials must not look green).
    sql(
        &e.dir.join("app.db"),
        "DELETE FROM runs WHERE status = 'failed'; INSERT INTO runs VALUES ('r12', 'yesterday-ish', 'complete');",
    );
    e.collect();
    e.controls(&[ERRING]);
    let (code, v) = e.check(&[]);
    assert_eq!(
        (code, control_status(&v, "RUN-2")),
        (2, "error".into()),
        "{v}"
    );

    // An error beside a failure: 2, whatever else failed.
    sql(
        &e.dir.join("app.db"),
        "INSERT INTO runs VALUES ('r13', '2026-10-10 01:00:00', 'failed');",
    );
    e.collect();
    e.controls(&[PASSING, ERRING]);
    let (code, v) = e.check(&[]);
    assert_eq!(control_status(&v, "RUN-1"), "fail");
    assert_eq!(code, 2, "{v}");
    // --no-fail still exits 0.
    assert_eq!(e.check(&["--no-fail"]).0, 0);
    // --check judges only the controls it touches.
    assert_eq!(e.check(&["--check", "none-failed"]).0, 1);

    // A control with no evidence: 2, and shown as such.
    sql(
        &e.dir.join("app.db"),
        "DELETE FROM runs WHERE run_id IN ('r12', 'r13');",
    );
    e.collect();
    e.controls(&[PASSING, NO_EVIDENCE]);
    let (code, v) = e.check(&[]);
    assert_eq!(control_status(&v, "RUN-1"), "pass");
    assert_eq!(control_status(&v, "REV-1"), "no_evidence");
    assert_eq!(code, 2, "{v}");
    let o = vouch(&e.dir, &["check", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.lines()
            .any(|l| l.contains("NO EVIDENCE") && l.contains("review-signed")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("NO EVIDENCE") && l.contains("REV-1")),
        "{out}"
    );
    let listed: Value = serde_json::from_str(&ok(&vouch(
        &e.dir,
        &["--json", "controls", "list", "--period", "2026-10"],
    )))
    .unwrap();
    let cc62 = listed["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "CC6.2")
        .unwrap()
        .clone();
    assert_eq!(cc62["controls"][0]["status"], "no_evidence", "{cc62}");
    let text_list = ok(&vouch(&e.dir, &["controls", "list", "--period", "2026-10"]));
    assert!(
        text_list
            .lines()
            .any(|l| l.starts_with("CC6.2") && l.contains("REV-1 NO EVIDENCE")),
        "{text_list}"
    );

    // `vouch status` rolls the controls up the same way: a pass does not hide REV-1.
    let st: Value = serde_json::from_str(&ok(&vouch(
        &e.dir,
        &["--json", "status", "--period", "2026-10"],
    )))
    .unwrap();
    // One rule with GET /api/compliance/status (issue 12): a pass and a control without
    // evidence are `incomplete`.
    assert_eq!(st["overall_status"], "incomplete", "{st}");
    assert_eq!(
        st["controls"],
        serde_json::json!({"fail": 0, "error": 0, "no_evidence": 1, "not_tested": 0, "pass": 1, "not_applicable": 0})
    );
    let st = ok(&vouch(&e.dir, &["status", "--period", "2026-10"]));
    assert!(st.starts_with("2026-10: INCOMPLETE"), "{st}");

    // The exit codes are documented in --help.
    let help = ok(&vouch(&e.dir, &["check", "--help"]));
    for want in [
        "Exit codes",
        "0  every control",
        "1  a control",
        "2  a control",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
}

#[test]
fn demo_shows_a_control_with_no_evidence() {
    let t = tempfile::tempdir().unwrap();
    let into = t.path().join("demo");
    let out = ok(&bin()
        .args(["demo", "--into", into.to_str().unwrap(), "--events", "1200"])
        .output());
    assert!(
        out.lines()
            .any(|l| l.contains("NO EVIDENCE access.review-signed: no evidence")),
        "{out}"
    );
    assert!(out.contains("control AC-2: NO EVIDENCE"), "{out}");
    assert!(out.contains("control RET-1: PASS"), "{out}");
    assert!(
        out.contains("PASS   archive.none-failed: 0 of 4 row(s) judged have status"),
        "{out}"
    );
    // The demo's data directory answers `vouch check` with exit 2: AC-2 has no evidence.
    let o = vouch(&into, &["--json", "check", "--period", "last-month"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(control_status(&v, "AC-2"), "no_evidence");
    assert_eq!(o.status.code(), Some(2), "{v}");
}

// Issue 12: `vouch status` and GET /api/compliance/status use one rule (the engine's
// `overall_status`): with no controls configured both say `not_assessed`.
#[test]
fn ext_status_with_no_controls_is_not_assessed_like_the_api() {
    let e = Env::new();
    std::fs::write(e.dir.join("checks.toml"), "").unwrap();
    let st: Value = serde_json::from_str(&ok(&vouch(
        &e.dir,
        &["--json", "status", "--period", "2026-10"],
    )))
    .unwrap();
    assert_eq!(st["overall_status"], "not_assessed", "{st}");
    let st = ok(&vouch(&e.dir, &["status", "--period", "2026-10"]));
    assert!(st.starts_with("2026-10: NOT ASSESSED"), "{st}");
}

// Issue 12: every error of `vouch check` (usage, configuration, unknown check, a
// period that does not parse) exits 2 — the run was incomplete — never 1, which means
// a control fails.
#[test]
fn ext_check_errors_exit_2() {
    let e = Env::new();
    // No checks defined.
    std::fs::write(e.dir.join("checks.toml"), "").unwrap();
    let o = vouch(&e.dir, &["check", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    e.controls(&[PASSING]);
    for args in [
        &["check", "--period", "bogus"][..],
        &["check", "--period", "2026-10", "--check", "nope.nope"],
        &["check", "--no-such-flag"],
    ] {
        let o = vouch(&e.dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.trim().is_empty(), "{args:?}");
    }
    // A broken configuration file.
    std::fs::write(e.dir.join("checks.toml"), "[[checks]\nid = ").unwrap();
    let o = vouch(&e.dir, &["check", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let help = ok(&vouch(&e.dir, &["check", "--help"]));
    assert!(help.contains("2  ") && help.contains("error"), "{help}");
}
