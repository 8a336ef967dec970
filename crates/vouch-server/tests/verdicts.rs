//! `no_evidence` through the HTTP service (issue 12), on SQLite and PostgreSQL: a control
//! with nothing collected rolls GET /api/compliance/status up to `no_evidence` (never
//! `pass`), every status is counted, and /metrics prints `vouch_controls` for each.

use crate::common::*;
use serde_json::Value;
use vouch_server::roles::Role;

const CATALOG: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "review"
title = "Quarterly access review (uploaded; never here)"
source = "app"
schedule = "quarterly"
query = "SELECT 1 AS x WHERE 0"

[[control]]
id = "REV-1"
title = "Access is reviewed"
criteria = ["CC6.2"]
evidence = ["review"]
"#;

/// GET `path` with a bearer token: status and body text.
fn get(s: &Server, path: &str, token: &str) -> (u16, String) {
    let r = call(s, "GET", path, Some(token), None);
    (r.status, r.text())
}

on_both!(no_evidence_in_status_and_metrics, |kind| {
    let s = Server::on(
        Data::new(kind, |t| {
            t.push('\n');
            t.push_str(CATALOG)
        }),
        None,
    );
    let token = token(&s, Role::Auditor, None);
    let (code, body) = get(&s, "/api/compliance/status?period=last-month", &token);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["overall_status"], "no_evidence", "{v}");
    assert_eq!(
        v["controls"],
        serde_json::json!({"fail": 0, "error": 0, "no_evidence": 1, "not_tested": 0, "pass": 0, "not_applicable": 0}),
        "{v}"
    );

    let (code, metrics) = get(&s, "/metrics", &token);
    assert_eq!(code, 200);
    let controls: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("vouch_controls{"))
        .collect();
    assert_eq!(
        controls,
        [
            "vouch_controls{status=\"fail\"} 0",
            "vouch_controls{status=\"error\"} 0",
            "vouch_controls{status=\"no_evidence\"} 1",
            "vouch_controls{status=\"not_tested\"} 0",
            "vouch_controls{status=\"pass\"} 0",
            "vouch_controls{status=\"not_applicable\"} 0",
        ],
        "{metrics}"
    );
});

// Issue 12: no organisation control configured, two login events in October. The
// status says `not_assessed` (the rule `vouch status` shares) and the packet for
// the same state is `no_evidence`, not `pass`: a verified ledger alone passes no control
// and no criterion.
on_both!(ledger_alone_is_no_pass_through_the_api, |kind| {
    let data = Data::new(kind, |_| {});
    {
        let (_store, _keys, ledger) = vouch_engine::open(&data.config()).unwrap();
        let events = ["2026-10-03T10:00:00Z", "2026-10-04T11:00:00Z"]
            .iter()
            .map(|ts| {
                vouch_core::event::Event::from_value(serde_json::json!({
                    "timestamp": ts, "actor": {"id": "alice"}, "action": "login",
                    "category": "authentication", "result": "success"
                }))
                .unwrap()
            })
            .collect();
        ledger.append(events).unwrap();
    }
    let s = Server::on(data, None);
    let token = token(&s, Role::Auditor, None);
    let (code, body) = get(&s, "/api/compliance/status?period=2026-10", &token);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["overall_status"], "not_assessed", "{v}");
    let (code, body) = get(
        &s,
        "/api/compliance/soc2-packet?startDate=2026-10-01&endDate=2026-10-31",
        &token,
    );
    assert_eq!(code, 200, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        p["summary"]["overall_status"], "no_evidence",
        "{}",
        p["summary"]
    );
    assert_eq!(p["controls"][0]["id"], "VOUCH-LEDGER-INTEGRITY");
    assert_eq!(p["controls"][0]["status"], "pass");
    for c in p["summary"]["criteria"].as_array().unwrap() {
        assert_ne!(c["status"], "pass", "{c}");
    }
});
