//! The auditor's side over real loopback HTTP, on SQLite and PostgreSQL: the auditor
//! commits and draws, the company takes the population and answers, each side only
//! with its own permissions; bad input names the field; every step is a ledger event.

use crate::common::*;
use serde_json::{json, Value};
use sha2::Digest;
use vouch_server::roles::Role;

const POPULATION: &str = r#"
[[population]]
id = "role-grants"
control = "CC6.2"
action = "role.granted"
"#;

fn post(s: &Server, t: &str, path: &str, body: &Value) -> Resp {
    call(s, "POST", path, Some(t), Some(&body.to_string()))
}

on_both!(auditor_and_company_over_http, |kind| {
    let s = Server::start_with(kind, |t| t.push_str(POPULATION));
    let ingest = token(&s, Role::Ingest, None);
    let auditor = token(&s, Role::Auditor, None);
    let officer = token(&s, Role::ComplianceOfficer, None);
    let events: Vec<Value> = (0..40)
        .map(|i| json!({"actor": {"id": format!("admin{i}")}, "action": "role.granted", "category": "authorization",
            "resource": {"type": "role", "id": format!("r{i}")}, "result": "success",
            "timestamp": format!("2026-10-{:02}T09:00:00Z", 1 + i % 28)}))
        .collect();
    let r = post(&s, &ingest, "/api/compliance/audit-logs", &json!(events));
    assert!(r.status < 300, "{}", r.text());

    let nonce = "ab".repeat(32);
    let commitment = hex::encode(sha2::Sha256::digest(hex::decode(&nonce).unwrap()));
    let body = json!({"population": "role-grants", "period": "2026-10", "commitment": commitment});
    // Only the auditor commits; bad input names the field.
    assert_eq!(
        post(&s, &officer, "/api/compliance/samples/commitments", &body).status,
        403
    );
    let r = post(
        &s,
        &auditor,
        "/api/compliance/samples/commitments",
        &json!({"population": "role-grants", "period": "2026-10", "commitment": "xyz"}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (400, json!("commitment")),
        "{}",
        r.text()
    );
    let r = post(
        &s,
        &auditor,
        "/api/compliance/samples/commitments",
        &json!({"population": "nope", "period": "2026-10", "commitment": commitment}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post(&s, &auditor, "/api/compliance/samples/commitments", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let cid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        post(&s, &auditor, "/api/compliance/samples/commitments", &body).status,
        409
    );
    // An overlapping period is refused too, naming the commitment that covers it.
    let r = post(
        &s,
        &auditor,
        "/api/compliance/samples/commitments",
        &json!({"population": "role-grants", "period": "2026-Q4", "commitment": commitment}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains(&cid), "{}", r.text());
    // Admin holds Operate (takes populations): it may not commit or draw as well.
    let admin = token(&s, Role::Admin, None);
    let r = post(
        &s,
        &admin,
        "/api/compliance/samples/commitments",
        &json!({"population": "role-grants", "period": "2026-11", "commitment": commitment}),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Before the population is taken no nonce is examined: 409, not a nonce error.
    let r = post(
        &s,
        &auditor,
        "/api/compliance/samples",
        &json!({"commitment": cid, "nonce": "cd".repeat(32)}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // Only the company takes populations.
    let take = json!({"population": "role-grants", "period": "2026-10"});
    assert_eq!(
        post(&s, &auditor, "/api/compliance/populations", &take).status,
        403
    );
    let r = post(&s, &officer, "/api/compliance/populations", &take);
    assert_eq!(r.status, 201, "{}", r.text());
    let pop = r.json();
    assert_eq!(pop["size"], 40);
    let pid = pop["id"].as_str().unwrap();
    let csv = call(
        &s,
        "GET",
        &format!("/api/compliance/populations/{pid}/export?format=csv"),
        Some(&auditor),
        None,
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text().lines().count(), 41);
    let nd = call(
        &s,
        "GET",
        &format!("/api/compliance/populations/{pid}/export"),
        Some(&auditor),
        None,
    );
    assert_eq!(nd.text().lines().count(), 40);
    // The draw: a wrong nonce is 400 naming it; the company cannot draw.
    let r = post(
        &s,
        &auditor,
        "/api/compliance/samples",
        &json!({"commitment": cid, "nonce": "cd".repeat(32)}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (400, json!("nonce")),
        "{}",
        r.text()
    );
    let draw = json!({"commitment": cid, "nonce": nonce});
    assert_eq!(
        post(&s, &officer, "/api/compliance/samples", &draw).status,
        403
    );
    assert_eq!(
        post(&s, &admin, "/api/compliance/samples", &draw).status,
        403
    );
    let r = post(&s, &auditor, "/api/compliance/samples", &draw);
    assert_eq!(r.status, 201, "{}", r.text());
    let sample = r.json();
    let sid = sample["id"].as_str().unwrap().to_string();
    // 6–50 items: 5.
    assert_eq!(sample["indices"].as_array().unwrap().len(), 5);
    let export = call(
        &s,
        "GET",
        &format!("/api/compliance/samples/{sid}"),
        Some(&officer),
        None,
    )
    .json();
    assert_eq!(export["format"], "vouch-sample@v1");
    assert_eq!(export["items"].as_array().unwrap().len(), 5);
    // PBC: the auditor requests; the company answers with an evidence item.
    let idx = sample["indices"][0].as_u64().unwrap();
    let req_path = format!("/api/compliance/samples/{sid}/requests");
    assert_eq!(
        post(
            &s,
            &officer,
            &req_path,
            &json!({"item": idx, "text": "approval"})
        )
        .status,
        403
    );
    let r = post(
        &s,
        &auditor,
        &req_path,
        &json!({"item": "x", "text": "approval"}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = post(
        &s,
        &auditor,
        &req_path,
        &json!({"item": idx, "text": "The approval for this grant"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let rid = r.json()["id"].as_str().unwrap().to_string();
    let item = {
        let config = s.data.config();
        let (store, _keys, ledger) = vouch_engine::open(&config).unwrap();
        let f = s.data.dir.path().join("approval.txt");
        std::fs::write(&f, "approved").unwrap();
        let period = vouch_core::period::Period::parse("2026-10", chrono::Utc::now()).unwrap();
        vouch_engine::evidence::Collector::new(&config, store, &ledger)
            .upload(&f, "pbc", None, "officer", &period)
            .unwrap()
            .id()
            .to_string()
    };
    let answer = json!({"evidence_item": item, "note": "ticket CHG-1"});
    assert_eq!(
        post(
            &s,
            &auditor,
            &format!("/api/compliance/pbc/{rid}/answer"),
            &answer
        )
        .status,
        403
    );
    let r = post(
        &s,
        &officer,
        &format!("/api/compliance/pbc/{rid}/answer"),
        &answer,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        &s,
        &auditor,
        &format!("/api/compliance/pbc/{rid}/return"),
        &json!({}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].clone()),
        (400, json!("comment")),
        "{}",
        r.text()
    );
    assert_eq!(
        post(
            &s,
            &officer,
            &format!("/api/compliance/pbc/{rid}/accept"),
            &json!({})
        )
        .status,
        403
    );
    let r = post(
        &s,
        &auditor,
        &format!("/api/compliance/pbc/{rid}/return"),
        &json!({"comment": "unsigned"}),
    );
    assert_eq!(r.json()["status"], "returned", "{}", r.text());
    assert_eq!(
        post(
            &s,
            &officer,
            &format!("/api/compliance/pbc/{rid}/answer"),
            &answer
        )
        .status,
        200
    );
    let r = post(
        &s,
        &auditor,
        &format!("/api/compliance/pbc/{rid}/accept"),
        &json!({"comment": "ok"}),
    );
    assert_eq!(r.json()["status"], "accepted", "{}", r.text());
    assert_eq!(
        post(
            &s,
            &auditor,
            &format!("/api/compliance/pbc/{rid}/accept"),
            &json!({})
        )
        .status,
        409
    );
    let list = call(
        &s,
        "GET",
        &format!("/api/compliance/pbc?sample={sid}"),
        Some(&auditor),
        None,
    )
    .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let actions: Vec<String> = s
        .leaves()
        .iter()
        .filter_map(|l| l["action"].as_str().map(str::to_string))
        .filter(|a| {
            a.starts_with("sample.") || a.starts_with("population.") || a.starts_with("pbc.")
        })
        .collect();
    assert_eq!(
        actions,
        [
            "sample.nonce_committed",
            "population.taken",
            "sample.drawn",
            "pbc.requested",
            "pbc.answered",
            "pbc.returned",
            "pbc.answered",
            "pbc.accepted"
        ]
    );
});

// Two commitments for overlapping periods of one population posted at the same instant
// (a quarter and a month of it): exactly one is accepted, the other is 409. The overlap
// check and the insert are serialised per population; a read-then-insert alone lets
// both through on PostgreSQL. Repeated over many pairs (each pair its own year) so that
// a race that is lost only sometimes still shows.
on_both!(overlapping_commitments_posted_together_admit_one, |kind| {
    let s = Server::start_with(kind, |t| t.push_str(POPULATION));
    let auditor = token(&s, Role::Auditor, None);
    let commitment = hex::encode(sha2::Sha256::digest([7u8; 32]));
    let mut both_accepted = Vec::new();
    for year in 2001..2025 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let answers: Vec<(u16, String)> = std::thread::scope(|sc| {
            let handles: Vec<_> = [format!("{year}-Q4"), format!("{year}-10")]
                .into_iter()
                .map(|period| {
                    let (s, auditor, barrier) = (&s, &auditor, barrier.clone());
                    let body = json!({"population": "role-grants", "period": period, "commitment": commitment});
                    sc.spawn(move || {
                        barrier.wait();
                        let r = post(s, auditor, "/api/compliance/samples/commitments", &body);
                        (r.status, r.text())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
        statuses.sort();
        if statuses == [201, 201] {
            both_accepted.push(year);
            continue;
        }
        assert_eq!(statuses, [201, 409], "{year}: {answers:?}");
        let refused = &answers.iter().find(|a| a.0 == 409).unwrap().1;
        assert!(refused.contains("overlapping"), "{refused}");
    }
    assert!(
        both_accepted.is_empty(),
        "overlapping commitments both accepted for {both_accepted:?}"
    );
    // One commitment per year, each recorded in the ledger once.
    let committed = s
        .leaves()
        .iter()
        .filter(|l| l["action"] == "sample.nonce_committed")
        .count();
    assert_eq!(committed, 24);
});
