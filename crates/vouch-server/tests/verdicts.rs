//! `no_evidence` through the HTTP service (issue 12), on SQLite and PostgreSQL: a control
//! with nothing collected rolls GET /api/compliance/status up to `no_evidence` (never
//! `pass`), every status is counted, and /metrics prints `vouch_controls` for each.

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

fn get(addr: std::net::SocketAddr, path: &str, token: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let req = ureq::http::Request::builder()
        .method("GET")
        .uri(format!("http://{addr}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let mut resp = agent.run(req).unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn run(pg: Option<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    vouch_engine::init::init(dir.path(), Some("Acme"), Some("acme.example/vouch/audit")).unwrap();
    std::fs::write(dir.path().join("checks.toml"), CATALOG).unwrap();
    let main = dir.path().join("vouch.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("include = [\"checks.toml\"]\n{text}")).unwrap();
    let mut config = vouch_engine::Config::load(dir.path()).unwrap();
    if let Some((url, schema)) = &pg {
        config.settings.database.url = url.clone();
        config.settings.database.schema = schema.clone();
    }
    let store = vouch_engine::open(&config).unwrap().0;
    let token = vouch_server::auth::create_token(&store, "auditor-verdicts", Role::Auditor, None)
        .unwrap()
        .1;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    rt.spawn(async move {
        vouch_server::serve(config, "127.0.0.1:0".parse().unwrap(), Some(tx))
            .await
            .unwrap();
    });
    let addr = rt.block_on(rx).unwrap();

    let (code, body) = get(addr, "/api/compliance/status?period=last-month", &token);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["overall_status"], "no_evidence", "{v}");
    assert_eq!(
        v["controls"],
        serde_json::json!({"fail": 0, "error": 0, "no_evidence": 1, "not_tested": 0, "pass": 0, "not_applicable": 0}),
        "{v}"
    );

    let (code, metrics) = get(addr, "/metrics", &token);
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
    drop(rt);
    if let Some((url, schema)) = pg {
        let _ = std::process::Command::new("psql")
            .args([
                &url,
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ])
            .output();
    }
}

#[test]
fn no_evidence_in_status_and_metrics_sqlite() {
    run(None);
}

#[test]
fn no_evidence_in_status_and_metrics_postgres() {
    let url = match std::env::var("VOUCH_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but VOUCH_TEST_DATABASE_URL is not set")
        }
        _ => return,
    };
    let schema = format!("vouch_test_verdicts_{}", std::process::id());
    run(Some((url, schema)));
}

// Issue 12: no organisation control configured, two login events in October. The
// status says `not_assessed` (the rule `vouch status` shares) and the packet for
// the same state is `no_evidence`, not `pass`: a verified ledger alone passes no control
// and no criterion.
fn run_no_controls(pg: Option<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    vouch_engine::init::init(dir.path(), Some("Acme"), Some("acme.example/vouch/audit")).unwrap();
    let mut config = vouch_engine::Config::load(dir.path()).unwrap();
    if let Some((url, schema)) = &pg {
        config.settings.database.url = url.clone();
        config.settings.database.schema = schema.clone();
    }
    let (store, _keys, ledger) = vouch_engine::open(&config).unwrap();
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
    let token = vouch_server::auth::create_token(&store, "auditor-nocontrols", Role::Auditor, None)
        .unwrap()
        .1;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    rt.spawn(async move {
        vouch_server::serve(config, "127.0.0.1:0".parse().unwrap(), Some(tx))
            .await
            .unwrap();
    });
    let addr = rt.block_on(rx).unwrap();
    let (code, body) = get(addr, "/api/compliance/status?period=2026-10", &token);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["overall_status"], "not_assessed", "{v}");
    let (code, body) = get(
        addr,
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
    drop(rt);
    if let Some((url, schema)) = pg {
        let _ = std::process::Command::new("psql")
            .args([
                &url,
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ])
            .output();
    }
}

#[test]
fn ledger_alone_is_no_pass_through_the_api_sqlite() {
    run_no_controls(None);
}

#[test]
fn ledger_alone_is_no_pass_through_the_api_postgres() {
    let url = match std::env::var("VOUCH_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but VOUCH_TEST_DATABASE_URL is not set")
        }
        _ => return,
    };
    let schema = format!("vouch_test_nocontrols_{}", std::process::id());
    run_no_controls(Some((url, schema)));
}
