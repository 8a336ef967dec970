//! Incidents over real loopback HTTP, on SQLite and PostgreSQL: seed 003's curl body
//! verbatim, bad input naming the field, the lifecycle's 409s, timeline rules, filters,
//! who may do what, automatic incidents from events POSTed to the API (also in
//! parallel: one open incident per rule and key), metrics, and the ledger events.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::Role;

/// Seed 003's "Incident Logging" request body, exactly as the seed writes it.
const SEED_003_BODY: &str = r#"{
  "title": "Suspicious login activity detected",
  "severity": "medium",
  "description": "Multiple failed login attempts from unusual location",
  "affected_systems": ["authentication"],
  "detected_at": "2025-01-21T10:00:00Z",
  "detected_by": "automated_monitoring"
}"#;

const RULES: &str = r#"
[[incidents.rule]]
id = "login-burst"
on = "events"
action = "login"
result = "failure"
more_than = 5
within = "10m"
per = "ip"
severity = "high"

[[incidents.rule]]
id = "security-failure"
on = "events"
category = "security"
result = "failure"
severity = "medium"
"#;

const BASE: &str = "/api/compliance/incidents";

fn post(s: &Server, t: &str, path: &str, body: &Value) -> Resp {
    call(s, "POST", path, Some(t), Some(&body.to_string()))
}

on_both!(seed_003_incident_body_verbatim, |kind| {
    let s = Server::start(kind);
    let co = token(&s, Role::ComplianceOfficer, None);
    let r = call(&s, "POST", BASE, Some(&co), Some(SEED_003_BODY));
    assert_eq!(r.status, 201, "{}", r.text());
    let i = r.json();
    assert!(i["id"].as_str().is_some_and(|id| id.len() == 36), "{i}");
    assert_eq!(i["title"], "Suspicious login activity detected");
    assert_eq!(i["severity"], "medium");
    assert_eq!(
        i["description"],
        "Multiple failed login attempts from unusual location"
    );
    assert_eq!(i["affected_systems"], json!(["authentication"]));
    assert_eq!(i["detected_at"], "2025-01-21T10:00:00.000000Z");
    assert_eq!(i["detected_by"], "automated_monitoring");
    assert_eq!(i["status"], "detected");
    // Medium: four hours from detected_at.
    assert_eq!(i["response_deadline"], "2025-01-21T14:00:00.000000Z");
    // Logged in 2026 about 2025: nobody responded in time.
    assert_eq!(i["breached"], true);
    let id = i["id"].as_str().unwrap();
    let got = call(&s, "GET", &format!("{BASE}/{id}"), Some(&co), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["timeline"][0]["kind"], "detected");
    let ev = s
        .leaves()
        .into_iter()
        .find(|l| l["action"] == "incident.opened")
        .expect("a ledger event for the new incident");
    assert_eq!(ev["resource"]["id"], json!(id));
    assert_eq!(
        ev["actor"]["id"].as_str().map(|a| a.is_empty()),
        Some(false)
    );
});

on_both!(bad_incident_bodies_name_the_field, |kind| {
    let s = Server::start(kind);
    let co = token(&s, Role::ComplianceOfficer, None);
    let seed: Value = serde_json::from_str(SEED_003_BODY).unwrap();
    let expect = |edit: &dyn Fn(&mut Value), status: u16, field: &str| {
        let mut b = seed.clone();
        edit(&mut b);
        let r = post(&s, &co, BASE, &b);
        assert_eq!(r.status, status, "{b}: {}", r.text());
        assert_eq!(r.json()["error"]["details"]["field"], field, "{}", r.text());
    };
    expect(&|b| b["seververity"] = json!("x"), 422, "seververity");
    expect(&|b| b["severity"] = json!("urgent"), 400, "severity");
    expect(&|b| b["severity"] = json!(3), 422, "severity");
    expect(
        &|b| b["affected_systems"] = json!("authentication"),
        422,
        "affected_systems",
    );
    expect(
        &|b| b["affected_systems"] = json!([1]),
        422,
        "affected_systems",
    );
    expect(
        &|b| b["detected_at"] = json!("21/01/2025"),
        400,
        "detected_at",
    );
    expect(
        &|b| b["detected_at"] = json!("2099-01-01T00:00:00Z"),
        400,
        "detected_at",
    );
    expect(
        &|b| {
            b.as_object_mut().unwrap().remove("title");
        },
        400,
        "title",
    );
    expect(&|b| b["title"] = json!(""), 400, "title");
    assert_eq!(s.count("SELECT COUNT(*) FROM incidents"), 0);
});

on_both!(lifecycle_timeline_and_filters_over_http, |kind| {
    let s = Server::start(kind);
    let co = token(&s, Role::ComplianceOfficer, None);
    let auditor = token(&s, Role::Auditor, None);
    let ingest = token(&s, Role::Ingest, None);
    let now = chrono::Utc::now();
    let fmt =
        |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({"title": "Database outage", "severity": "high",
        "affected_systems": ["db"], "detected_at": fmt(now - chrono::Duration::minutes(5)),
        "detected_by": "pagerduty"});
    let i = post(&s, &co, BASE, &body).json();
    let id = i["id"].as_str().unwrap().to_string();
    let at = format!("{BASE}/{id}");
    assert_eq!(i["breached"], false);
    assert!(i["sla"]["remaining_secs"].as_i64().unwrap() > 50 * 60);
    // Skipping ahead: 409 naming from and to.
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"state":"recovered"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json()["error"]["details"],
        json!({"from": "detected", "to": "recovered"})
    );
    // Triage without a responder: 400 naming assignee.
    let r = call(&s, "PATCH", &at, Some(&co), Some(r#"{"state":"triaged"}"#));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (400, json!("assignee"))
    );
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"state":"triaged","assignee":"grace","severity":"critical"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert_eq!(t["status"], "triaged");
    assert_eq!(t["severity"], "critical");
    assert_eq!(t["breached"], false);
    assert!(t["sla"]["responded_at"].is_string());
    // Unknown PATCH field: 422 naming it.
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"status":"contained"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (422, json!("status"))
    );
    // Timeline: neither before detection nor in the future.
    let tl = format!("{at}/timeline");
    for when in [
        now - chrono::Duration::hours(1),
        now + chrono::Duration::hours(1),
    ] {
        let r = post(&s, &co, &tl, &json!({"text": "x", "at": fmt(when)}));
        assert_eq!(
            (r.status, r.json()["error"]["details"]["field"].clone()),
            (400, json!("at")),
            "{}",
            r.text()
        );
    }
    let r = post(
        &s,
        &co,
        &tl,
        &json!({"text": "Failed over to the replica", "at": fmt(now - chrono::Duration::minutes(2))}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let e = r.json()["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(e["text"], "Failed over to the replica");
    assert_eq!(e["by"].as_str().map(|b| !b.is_empty()), Some(true));
    // Who may: auditors read, not write; ingest nothing.
    assert_eq!(call(&s, "GET", &at, Some(&auditor), None).status, 200);
    assert_eq!(post(&s, &auditor, &tl, &json!({"text": "x"})).status, 403);
    assert_eq!(call(&s, "GET", BASE, Some(&ingest), None).status, 403);
    assert_eq!(
        call(&s, "POST", BASE, Some(&ingest), Some(SEED_003_BODY)).status,
        403
    );
    // Every change was a ledger event.
    let actions: Vec<String> = s
        .leaves()
        .iter()
        .filter_map(|l| l["action"].as_str().map(str::to_string))
        .filter(|a| a.starts_with("incident."))
        .collect();
    assert_eq!(
        actions,
        ["incident.opened", "incident.triaged", "incident.noted"]
    );
    // Metrics: open incidents by severity.
    let m = call_h(&s, "GET", "/metrics", &[], None).text();
    assert!(
        m.contains("vouch_incidents_open{severity=\"critical\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("vouch_incidents_open{severity=\"medium\"} 0"),
        "{m}"
    );
    assert!(
        m.contains("vouch_incidents_open{severity=\"low\"} 0"),
        "{m}"
    );
    assert!(
        m.contains("\nvouch_incident_response_breaches_total 0\n"),
        "{m}"
    );
    // The seed's (breached) incident, then filters.
    call(&s, "POST", BASE, Some(&co), Some(SEED_003_BODY));
    let list = |q: &str| {
        let r = call(&s, "GET", &format!("{BASE}{q}"), Some(&auditor), None);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list("").len(), 2);
    assert_eq!(
        list("?breached=true"),
        ["Suspicious login activity detected"]
    );
    assert_eq!(list("?breached=false"), ["Database outage"]);
    assert_eq!(list("?status=triaged"), ["Database outage"]);
    assert_eq!(list("?status=open").len(), 2);
    assert_eq!(
        list("?severity=medium"),
        ["Suspicious login activity detected"]
    );
    assert_eq!(
        list("?period=2025-01"),
        ["Suspicious login activity detected"]
    );
    for (q, param) in [
        ("?breached=yes", "breached"),
        ("?severity=urgent", "severity"),
        ("?status=gone", "status"),
        ("?period=soon", "period"),
        ("?colour=red", "colour"),
    ] {
        let r = call(&s, "GET", &format!("{BASE}{q}"), Some(&auditor), None);
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert_eq!(r.json()["error"]["details"]["parameter"], param, "{q}");
    }
    // Closing needs the lessons learned; then the gauge drops.
    for st in ["contained", "eradicated", "recovered"] {
        let r = call(
            &s,
            "PATCH",
            &at,
            Some(&co),
            Some(&json!({"state": st}).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = call(&s, "PATCH", &at, Some(&co), Some(r#"{"state":"closed"}"#));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (400, json!("lessons_learned"))
    );
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"state":"closed","lessons_learned":"Automate the failover"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"state":"contained"}"#),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["error"]["details"],
        json!({"from": "closed", "to": "contained"})
    );
    // Other changes to a closed incident name the field (not "closed to closed").
    let r = call(
        &s,
        "PATCH",
        &at,
        Some(&co),
        Some(r#"{"severity":"low","note":"re-rated"}"#),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], "incident_ended", "{e}");
    assert_eq!(e["details"]["field"], "severity", "{e}");
    assert_eq!(e["details"]["status"], "closed", "{e}");
    assert!(
        !e["message"].as_str().unwrap().contains("closed to closed"),
        "{e}"
    );
    let m = call_h(&s, "GET", "/metrics", &[], None).text();
    assert!(
        m.contains("vouch_incidents_open{severity=\"critical\"} 0"),
        "{m}"
    );
    assert_eq!(
        call(&s, "GET", &format!("{BASE}/0000"), Some(&co), None).status,
        400
    );
    assert_eq!(
        call(
            &s,
            "GET",
            &format!("{BASE}/01a20000-0000-7000-8000-000000000000"),
            Some(&co),
            None
        )
        .status,
        404
    );
});

on_both!(automatic_incidents_from_posted_events, |kind| {
    let s = Server::start_with(kind, |t| t.push_str(RULES));
    let ingest = token(&s, Role::Ingest, None);
    let co = token(&s, Role::ComplianceOfficer, None);
    let now = chrono::Utc::now();
    let failure = |ip: &str, secs_ago: i64, k: usize| {
        json!({"action": "user.login", "category": "authentication", "result": "failure",
            "actor": {"id": format!("usr_{k}"), "ip": ip},
            "timestamp": (now - chrono::Duration::seconds(secs_ago)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)})
    };
    let ingest_events = |events: Vec<Value>| {
        let r = call(
            &s,
            "POST",
            "/api/compliance/audit-logs",
            Some(&ingest),
            Some(&Value::Array(events).to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    };
    // Five failures from one address: not yet.
    let r = ingest_events(
        (0..5)
            .map(|k| failure("203.0.113.9", 120 - k as i64, k))
            .collect(),
    );
    assert!(r.get("incidents_opened").is_none(), "{r}");
    // The sixth, in its own request.
    let r = ingest_events(vec![failure("203.0.113.9", 30, 5)]);
    let opened = r["incidents_opened"]
        .as_array()
        .expect("an incident")
        .clone();
    assert_eq!(opened.len(), 1);
    let i = call(
        &s,
        "GET",
        &format!("{BASE}/{}", opened[0].as_str().unwrap()),
        Some(&co),
        None,
    )
    .json();
    assert_eq!(i["source"], "rule");
    assert_eq!(i["severity"], "high");
    assert_eq!(i["trigger"]["rule"], "login-burst");
    assert_eq!(i["trigger"]["key"], "203.0.113.9");
    assert_eq!(i["trigger"]["count"], 6);
    // In parallel: eight requests each with a security failure; one incident.
    let bodies: Vec<String> = (0..8)
        .map(|k| json!([{"action": "ids.alert", "category": "security", "result": "failure",
            "actor": {"id": "ids"}, "timestamp": (now - chrono::Duration::seconds(10 + k)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)}]).to_string())
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = bodies
            .iter()
            .map(|b| {
                sc.spawn(|| {
                    call(
                        &s,
                        "POST",
                        "/api/compliance/audit-logs",
                        Some(&ingest),
                        Some(b),
                    )
                    .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|st| *st == 201), "{statuses:?}");
    let open = call(&s, "GET", &format!("{BASE}?status=open"), Some(&co), None).json();
    let rules: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["trigger"]["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules.iter().filter(|r| **r == "security-failure").count(),
        1,
        "{open}"
    );
    assert_eq!(
        rules.iter().filter(|r| **r == "login-burst").count(),
        1,
        "{open}"
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM incidents"), 2);
    // Matches while an incident is open are on its timeline: one entry per request
    // (with its count), not one per event.
    let timeline_of = |rule: &str| -> Vec<Value> {
        let open = call(&s, "GET", &format!("{BASE}?status=open"), Some(&co), None).json();
        let id = open
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["trigger"]["rule"] == rule)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let i = call(&s, "GET", &format!("{BASE}/{id}"), Some(&co), None).json();
        i["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "rule_matched")
            .cloned()
            .collect()
    };
    let security = timeline_of("security-failure");
    assert_eq!(security.len(), 7, "{security:#?}");
    assert!(security
        .iter()
        .all(|e| e["text"].as_str().unwrap().contains("1 more matching")));
    assert!(timeline_of("login-burst").is_empty());
    let r = ingest_events(
        (0..3)
            .map(|k| failure("203.0.113.9", 5 - k as i64, 10 + k))
            .collect(),
    );
    assert!(r.get("incidents_opened").is_none(), "{r}");
    let burst = timeline_of("login-burst");
    assert_eq!(burst.len(), 1, "{burst:#?}");
    let text = burst[0]["text"].as_str().unwrap();
    assert!(text.contains("3 more matching events"), "{text}");
    assert_eq!(burst[0]["by"], "vouch");
    assert_eq!(s.count("SELECT COUNT(*) FROM incidents"), 2);
});
