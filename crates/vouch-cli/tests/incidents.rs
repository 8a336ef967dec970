//! `vouch incidents`: open with seed 003's fields, list and show (text and --json),
//! the lifecycle with its refusals as one readable line and a non-zero exit, notes,
//! and the demo's incident from its own failed-login burst.

use crate::util::{err_line, ok, run, vouch};
use serde_json::Value;

#[test]
fn incidents_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    ok(&vouch()
        .data_dir(&d)
        .args(["init", "--origin", "cli.example/vouch/audit"])
        .output());
    let out = ok(&run(
        &d,
        &[
            "--json",
            "incidents",
            "open",
            "--title",
            "Suspicious login activity detected",
            "--severity",
            "medium",
            "--description",
            "Multiple failed login attempts from unusual location",
            "--affected-system",
            "authentication",
            "--detected-at",
            "2025-01-21T10:00:00Z",
            "--detected-by",
            "automated_monitoring",
            "--by",
            "alice",
        ],
    ));
    let i: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(i["response_deadline"], "2025-01-21T14:00:00.000000Z");
    assert_eq!(i["reported_by"], "alice");
    let id = i["id"].as_str().unwrap().to_string();
    let short = &id[..8];
    // Text list: one line per incident, with the SLA outcome.
    let list = ok(&run(&d, &["incidents", "list", "--breached"]));
    assert!(list.contains(short) && list.contains("BREACHED"), "{list}");
    assert_eq!(
        ok(&run(&d, &["incidents", "list", "--not-breached"])).trim(),
        "no incidents"
    );
    // Refusals: one line, non-zero exit.
    let e = err_line(&run(
        &d,
        &["incidents", "update", short, "--state", "closed"],
    ));
    assert!(e.contains("cannot go from detected to closed"), "{e}");
    let e = err_line(&run(
        &d,
        &["incidents", "update", short, "--state", "triaged"],
    ));
    assert!(e.contains("--assignee"), "{e}");
    let e = err_line(&run(
        &d,
        &["incidents", "open", "--title", "x", "--severity", "urgent"],
    ));
    assert!(e.contains("--severity") && e.contains("urgent"), "{e}");
    let e = err_line(&run(
        &d,
        &[
            "incidents",
            "note",
            short,
            "later",
            "--at",
            "2099-01-01T00:00:00Z",
        ],
    ));
    assert!(e.contains("--at") && e.contains("future"), "{e}");
    ok(&run(
        &d,
        &[
            "incidents",
            "update",
            short,
            "--state",
            "triaged",
            "--assignee",
            "grace",
            "--by",
            "bob",
        ],
    ));
    let shown = ok(&run(
        &d,
        &[
            "incidents",
            "note",
            short,
            "Blocked the address",
            "--by",
            "bob",
        ],
    ));
    assert!(shown.contains("Blocked the address"), "{shown}");
    let v: Value =
        serde_json::from_str(&ok(&run(&d, &["--json", "incidents", "show", short]))).unwrap();
    assert_eq!(v["status"], "triaged");
    assert_eq!(v["assignee"], "grace");
    assert_eq!(v["timeline"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["breached"], true);
    // Every change is in the ledger.
    let period = format!("{}..2100-01-01", chrono::Utc::now().format("%Y-%m-%d"));
    let leaves = ok(&run(&d, &["ledger", "export", "--period", &period]));
    for action in [
        "incident.opened",
        "incident.sla_breached",
        "incident.triaged",
        "incident.noted",
    ] {
        assert!(leaves.contains(action), "{action} missing");
    }
}

#[test]
fn the_demo_opens_an_incident_from_its_failed_login_burst() {
    let t = tempfile::tempdir().unwrap();
    let into = t.path().join("demo");
    let out = ok(&vouch()
        .args(["demo", "--into", into.to_str().unwrap(), "--events", "1200"])
        .output());
    assert!(
        out.contains("A burst of failed logins from 203.0.113.77 opened incident"),
        "{out}"
    );
    let v: Value =
        serde_json::from_str(&ok(&run(&into, &["--json", "incidents", "list"]))).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 1, "{v}");
    assert_eq!(all[0]["trigger"]["rule"], "login-burst");
    assert_eq!(all[0]["trigger"]["key"], "203.0.113.77");
    assert_eq!(all[0]["status"], "triaged");
    assert_eq!(all[0]["breached"], false);
}
