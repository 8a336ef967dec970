//! Access reviews over HTTP: create (bad input names the field), decide as a reviewer
//! (own account refused, auditors refused), completion refused with the undecided count,
//! the signed document verified with the server's public key.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::Role;

const CATALOG: &str = r#"

[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "team.members"
title = "Members of the compliance group"
source = "directory"
argv = ["cat", "{{pack_dir}}/members.json"]
population = true
account_key = "login"
privileged_key = "admin"
"#;

fn named(s: &Server, name: &str, role: Role) -> String {
    vouch_server::auth::create_token(&s.store, name, role, None)
        .unwrap()
        .1
}

on_both!(access_review_over_http, |kind| {
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let dir = s.data.dir.path();
    std::fs::write(
        dir.join("members.json"),
        json!([{"login": "alice", "admin": true}, {"login": "bob", "admin": false}]).to_string(),
    )
    .unwrap();
    // Collect as the job does (another process appending to the same ledger).
    let config = s.data.config();
    {
        let (store, _keys, ledger) = vouch_engine::open(&config).unwrap();
        let period = vouch_core::period::Period::parse("2026-10", chrono::Utc::now()).unwrap();
        let items = vouch_engine::evidence::Collector::new(&config, store, &ledger)
            .collect(&["team.members".into()], &period, &mut |_| {})
            .unwrap();
        assert!(items[0].ok(), "{:?}", items[0].record);
    }
    let officer = named(&s, "officer", Role::ComplianceOfficer);
    let alice = named(&s, "alice", Role::TeamLead);
    let dave = named(&s, "dave", Role::TeamLead);
    let auditor = named(&s, "auditor", Role::Auditor);
    let base = "/api/compliance/access-reviews";

    // Bad input names the field.
    let r = call(&s, "POST", base, Some(&officer), Some(r#"{"title": "Q4"}"#));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["details"]["field"], "populations");
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(
            r#"{"title": "Q4", "populations": [{"evidence": "nope", "reviewers": ["token:dave"]}]}"#,
        ),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("populations[0].evidence")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(
            r#"{"title": "Q4", "populations": [{"evidence": "team.members", "reviewers": "token:dave"}]}"#,
        ),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("populations[0].reviewers")),
        "{}",
        r.text()
    );
    // Auditors read, never manage.
    let body = r#"{"title": "Q4 compliance group", "populations": [{"evidence": "team.members", "reviewers": ["token:alice", {"id": "token:dave", "accounts": []}]}]}"#;
    assert_eq!(
        call(&s, "POST", base, Some(&auditor), Some(body)).status,
        403
    );

    let r = call(&s, "POST", base, Some(&officer), Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let id = v["campaign"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["campaign"]["status"], "in_progress");
    assert_eq!(v["entries"][0]["flags"], json!(["privileged"]));

    let decide = |token: &str, account: &str, decision: &str| {
        call(&s, "POST", &format!("{base}/{id}/decisions"), Some(token), Some(&json!({"population": "team.members", "account": account, "decision": decision, "note": "checked with HR"}).to_string()))
    };
    let r = decide(&alice, "alice", "keep");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "self_review");
    assert_eq!(r.json()["error"]["details"]["field"], "account");
    assert_eq!(decide(&auditor, "bob", "keep").status, 403);
    let r = decide(&dave, "bob", "maybe");
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("decision"))
    );
    assert_eq!(decide(&dave, "alice", "keep").status, 200);

    let r = call(
        &s,
        "POST",
        &format!("{base}/{id}/complete"),
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "undecided_entries");
    assert_eq!(r.json()["error"]["details"]["undecided"], 1);

    let r = decide(&alice, "bob", "revoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["finding_id"].is_string());
    let r = call(
        &s,
        "POST",
        &format!("{base}/{id}/complete"),
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let shown = call(&s, "GET", &format!("{base}/{id}"), Some(&auditor), None).json();
    assert_eq!(shown["campaign"]["status"], "completed");
    let pem = call(&s, "GET", "/api/compliance/public-key", None, None).text();
    let pem = pem[pem.find("-----BEGIN PUBLIC KEY-----").unwrap()..]
        .split_inclusive("-----END PUBLIC KEY-----")
        .next()
        .unwrap()
        .to_string();
    vouch_engine::signoff::review::verify(
        &pem,
        shown["document"].as_str().unwrap().as_bytes(),
        shown["signature"].as_str().unwrap(),
    )
    .unwrap();
    let list: Value = call(
        &s,
        "GET",
        &format!("{base}?status=completed"),
        Some(&auditor),
        None,
    )
    .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = call(
        &s,
        "GET",
        &format!("{base}?status=done"),
        Some(&auditor),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("status"))
    );
    // Every step is in the ledger, by who did it.
    let leaves = s.leaves();
    let by = |action: &str| {
        leaves
            .iter()
            .filter(|l| l["action"] == action)
            .map(|l| l["actor"]["id"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("access_review.started"), vec!["token:officer"]);
    assert_eq!(
        by("access_review.decided"),
        vec!["token:dave", "token:alice"]
    );
    assert_eq!(by("access_review.completed"), vec!["token:officer"]);
});
