//! The audit-log query through the index (migration 0018) against the former query
//! (the engine's JSON functions over every leaf, `query::run_baseline`): the same bytes
//! for every filter, combination, range and page on a mixed ledger, and pruned entries
//! returned as `archived` stubs naming their archive.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::query::{self, AuditParams};
use vouch_server::roles::Role;

/// A ledger with many actors, orgs, actions, resource types, categories and results,
/// optional fields left out, strings that need JSON escaping, and vouch's own events
/// (the self-audit of the API calls below, and the ingest's records).
fn mixed(s: &Server) -> Vec<Value> {
    let ingest = token(s, Role::Ingest, None);
    let cats = vouch_core::event::CATEGORIES;
    let results = vouch_core::event::RESULTS;
    let mut events = Vec::new();
    const ACTIONS: [&str; 5] = [
        "user.login",
        "role.assign",
        "record.read",
        "config.change",
        "act \"q\" ü",
    ];
    const TYPES: [&str; 4] = ["user", "role", "db", "é\\x"];
    for i in 0..400usize {
        let mut e = json!({
            "timestamp": format!("2026-0{}-{:02}T{:02}:00:00Z", 1 + i % 6, 1 + i % 28, i % 24),
            "action": ACTIONS[i % 5],
            "category": cats[i % cats.len()],
            "result": results[(i / 3) % results.len()],
        });
        if i % 4 != 0 {
            e["organization_id"] = json!(format!("org_{}", i % 3));
        }
        if i % 5 != 0 {
            e["actor"] = json!({"id": format!("usr_{:04}", i % 17), "email": "a@x.example"});
        }
        if i % 6 != 0 {
            e["resource"] = json!({"type": TYPES[i % 4], "id": format!("r{i}")});
        }
        events.push(e);
    }
    for chunk in events.chunks(97) {
        let r = call(
            s,
            "POST",
            "/api/compliance/audit-logs",
            Some(&ingest),
            Some(&Value::from(chunk.to_vec()).to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    events
}

/// Every single filter, every pair of them, with and without a range, on a page and
/// with a cursor.
fn queries() -> Vec<AuditParams> {
    let values: [(&str, &[&str]); 6] = [
        ("organization_id", &["org_1", "org_9"]),
        ("actor_id", &["usr_0003", "vouch"]),
        (
            "action",
            &["role.assign", "act \"q\" ü", "ledger.checkpoint"],
        ),
        ("resource_type", &["db", "é\\x"]),
        ("category", &["security", "system"]),
        ("result", &["denied", "success"]),
    ];
    let set = |p: &mut AuditParams, k: &str, v: &str| {
        let v = Some(v.to_string());
        match k {
            "organization_id" => p.organization_id = v,
            "actor_id" => p.actor_id = v,
            "action" => p.action = v,
            "resource_type" => p.resource_type = v,
            "category" => p.category = v,
            _ => p.result = v,
        }
    };
    let mut base: Vec<AuditParams> = vec![AuditParams::default()];
    for (i, (k, vs)) in values.iter().enumerate() {
        for v in *vs {
            let mut p = AuditParams::default();
            set(&mut p, k, v);
            base.push(p);
            for (k2, vs2) in &values[i + 1..] {
                let mut p = AuditParams::default();
                set(&mut p, k, v);
                set(&mut p, k2, vs2[0]);
                base.push(p);
            }
        }
    }
    // Three and more filters: the query chooses among the pair indexes (migration 0023)
    // and the actor's list by counting.
    for combo in [
        &[0usize, 2, 5][..],
        &[2, 3, 4],
        &[0, 1, 5],
        &[1, 2, 4],
        &[0, 2, 3, 4, 5],
        &[0, 1, 2, 3, 4, 5],
    ] {
        for pick in 0..2 {
            let mut p = AuditParams::default();
            for &i in combo {
                let (k, vs) = values[i];
                set(&mut p, k, vs[pick.min(vs.len() - 1)]);
            }
            base.push(p);
        }
    }
    let mut out = Vec::new();
    for p in base {
        for (start, end) in [
            (None, None),
            (Some("2026-02-01"), Some("2026-04-30")),
            (Some("2026-03-05T10:00:00Z"), None),
        ] {
            for (page, per_page, cursor) in [
                (None, None, None),
                (Some("2"), Some("7"), None),
                (None, Some("5"), Some("120")),
            ] {
                out.push(AuditParams {
                    organization_id: p.organization_id.clone(),
                    actor_id: p.actor_id.clone(),
                    action: p.action.clone(),
                    resource_type: p.resource_type.clone(),
                    category: p.category.clone(),
                    result: p.result.clone(),
                    start_date: start.map(str::to_string),
                    end_date: end.map(str::to_string),
                    page: page.map(str::to_string),
                    per_page: per_page.map(str::to_string),
                    cursor: cursor.map(str::to_string),
                    format: None,
                });
            }
        }
    }
    out
}

/// `query::run` or `query::run_baseline`: one page and the next cursor.
type QueryFn = fn(
    &vouch_store::Store,
    &query::Query,
    u64,
) -> vouch_server::error::ApiResult<(Vec<Value>, Option<u64>)>;

fn page(f: QueryFn, s: &Server, p: &AuditParams) -> String {
    let q = query::parse(p).unwrap();
    let (data, next) =
        f(&s.store, &q, q.per_page).unwrap_or_else(|e| panic!("{p:?}: {}", e.message));
    serde_json::to_string(&json!({"data": data, "next_cursor": next})).unwrap()
}

on_both!(
    audit_log_index_query_equals_the_json_function_query,
    |kind| {
        let s = Server::start(kind);
        mixed(&s);
        let reader = token(&s, Role::Auditor, None);
        let mut nonempty = 0;
        let all = queries();
        let total = all.len();
        for p in all {
            let new = page(query::run, &s, &p);
            let old = page(query::run_baseline, &s, &p);
            assert_eq!(new, old, "{p:?}");
            // Every access the SQLite planner can choose (the table, each filter's and
            // pair's index, the actor's covering index) gives the same page: the cost
            // model picks one per ledger, so each must be right on every ledger.
            let q = query::parse(&p).unwrap();
            for (access, (data, next)) in
                vouch_engine::ledger::query::run_each_access(&s.store, &q, q.per_page).unwrap()
            {
                let got =
                    serde_json::to_string(&json!({"data": data, "next_cursor": next})).unwrap();
                assert_eq!(got, old, "{access}: {p:?}");
            }
            if !new.starts_with(r#"{"data":[]"#) {
                nonempty += 1;
            }
        }
        // The comparison is not vacuous: most queries match something (rare values, later
        // pages and cursors leave the rest empty; 259 of 423 when this was written).
        assert!(nonempty * 2 > total, "{nonempty} of {total}");
        // Over HTTP too: the body is the baseline's page.
        let q = "actor_id=usr_0003&category=security&start_date=2026-01-01&end_date=2026-06-30&per_page=3";
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs?{q}"),
            Some(&reader),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let p = AuditParams {
            actor_id: Some("usr_0003".into()),
            category: Some("security".into()),
            start_date: Some("2026-01-01".into()),
            end_date: Some("2026-06-30".into()),
            per_page: Some("3".into()),
            ..Default::default()
        };
        let qq = query::parse(&p).unwrap();
        let (data, next) = query::run_baseline(&s.store, &qq, 3).unwrap();
        assert!(!data.is_empty());
        assert_eq!(
            r.json(),
            json!({"data": data, "page": 1, "per_page": 3, "next_cursor": next})
        );
        // Every event is reachable through the index (the export streams them all).
        let r = call(
            &s,
            "GET",
            "/api/compliance/audit-logs/export?format=ndjson",
            Some(&token(&s, Role::Admin, None)),
            None,
        );
        assert_eq!(r.status, 200);
        let head = s.store.head().unwrap().size as usize;
        assert!(
            r.text().lines().count() >= head - 2,
            "{} of {head}",
            r.text().lines().count()
        );
    }
);

on_both!(audit_log_query_marks_pruned_entries_archived, |kind| {
    let s = Server::start(kind);
    let ingest = token(&s, Role::Ingest, None);
    let admin = token(&s, Role::Admin, None);
    let old = (chrono::Utc::now() - chrono::Duration::days(200))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let older = (chrono::Utc::now() - chrono::Duration::days(210))
        .format("%Y-%m-%d")
        .to_string();
    let recent = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let events = json!([
        {"action": "app.debug", "category": "system", "result": "success", "retention": "application", "timestamp": old,
         "organization_id": "org_1", "actor": {"id": "usr_0012"}, "resource": {"type": "job", "id": "j1"}},
        {"action": "user.login", "category": "authentication", "result": "success", "timestamp": recent, "organization_id": "org_1", "actor": {"id": "usr_0012"}},
    ]);
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(&events.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let seq = r.json()["seqs"][0].as_u64().unwrap();
    let r = call(
        &s,
        "POST",
        "/api/compliance/jobs/retention/run",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outputs"]["rows_archived"], 1, "{}", r.text());
    let destination = r.json()["outputs"]["destination"].clone();
    let run_id = r.json()["outputs"]["run_id"].clone();
    // The issue's 500: a filtered query over a range that includes the pruned entry.
    let today = chrono::Utc::now().format("%Y-%m-%d");
    for q in [
        format!("actor_id=usr_0012&start_date={older}&end_date={today}"),
        "organization_id=org_1".to_string(),
        "action=app.debug".to_string(),
        "resource_type=job&category=system".to_string(),
    ] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs?{q}"),
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let data = r.json()["data"].as_array().unwrap().clone();
        let stub = data
            .iter()
            .find(|e| e["seq"] == seq)
            .unwrap_or_else(|| panic!("{q}: {data:?}"));
        assert_eq!(
            stub,
            &json!({"seq": seq, "id": stub["id"], "timestamp": stub["timestamp"], "organization_id": "org_1",
                    "actor": {"id": "usr_0012"}, "action": "app.debug", "resource": {"type": "job"},
                    "category": "system", "result": "success",
                    "archived": {"run_id": run_id, "destination": destination}}),
            "{q}"
        );
        assert!(stub["timestamp"].as_str().unwrap().starts_with(&old[..10]));
        // Apart from the stub, exactly what the former query returns.
        let rest: Vec<&Value> = data.iter().filter(|e| !query::is_archived(e)).collect();
        let mut p = AuditParams::default();
        for kv in q.split('&') {
            let (k, v) = kv.split_once('=').unwrap();
            let v = Some(v.to_string());
            match k {
                "actor_id" => p.actor_id = v,
                "organization_id" => p.organization_id = v,
                "action" => p.action = v,
                "resource_type" => p.resource_type = v,
                "category" => p.category = v,
                "start_date" => p.start_date = v,
                _ => p.end_date = v,
            }
        }
        let (old_data, _) = query::run_baseline(&s.store, &query::parse(&p).unwrap(), 100).unwrap();
        assert_eq!(
            serde_json::to_string(&rest).unwrap(),
            serde_json::to_string(&old_data).unwrap(),
            "{q}"
        );
    }
    // The export carries events only, as before.
    for f in ["ndjson", "csv"] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs/export?format={f}&actor_id=usr_0012"),
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.text().contains("user.login") && !r.text().contains("app.debug"),
            "{f}: {}",
            r.text()
        );
    }
    // And the ledger, its index and the counters still verify.
    let r = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/verify",
        Some(&admin),
        None,
    );
    assert_eq!(r.json()["valid"], true, "{}", r.text());
});
