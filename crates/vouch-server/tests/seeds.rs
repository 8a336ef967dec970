//! The API as the seeds write it (seed 000's public key curl, seed 003's findings body,
//! criterion evidence and status shape), strict bodies on ingest, limits answered with
//! the JSON error shape, storage that refuses writes answered 503, and error messages
//! that speak HTTP. On SQLite and PostgreSQL.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::Role;

on_both!(public_key_needs_no_token, |kind| {
    let s = Server::start(kind);
    // Seed 000: curl http://localhost:4000/api/compliance/public-key -o public_key.pem
    let r = call_h(&s, "GET", "/api/compliance/public-key", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("-----BEGIN PUBLIC KEY-----"),
        "{}",
        r.text()
    );
});

on_both!(findings_keep_seed_fields_and_refuse_unknown_ones, |kind| {
    let s = Server::start(kind);
    let co = token(&s, Role::ComplianceOfficer, None);
    // Seed 003's body, verbatim.
    let body = json!({
        "control_id": "CC6.1",
        "title": "MFA not enforced for admin accounts",
        "severity": "high",
        "description": "Admin accounts can bypass MFA requirement",
        "remediation_plan": "Update policy to require MFA for all admin roles",
        "due_date": "2025-02-01"
    });
    let r = call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&co),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let f = r.json();
    assert_eq!(f["control_id"], "CC6.1");
    assert_eq!(f["remediation_plan"], body["remediation_plan"]);
    assert_eq!(f["due_date"], "2025-02-01");
    let listed = call(&s, "GET", "/api/compliance/findings", Some(&co), None).json();
    let stored = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == f["id"])
        .cloned()
        .unwrap();
    assert_eq!(
        (
            stored["control_id"].clone(),
            stored["remediation_plan"].clone(),
            stored["due_date"].clone()
        ),
        (
            json!("CC6.1"),
            body["remediation_plan"].clone(),
            json!("2025-02-01")
        )
    );
    let mut extra = body.clone();
    extra["assignee"] = json!("bob");
    let r = call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&co),
        Some(&extra.to_string()),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["details"]["field"], "assignee");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("assignee"));
    let mut bad = body.clone();
    bad["due_date"] = json!("next week");
    let r = call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&co),
        Some(&bad.to_string()),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("due_date"));
    let mut bad = body.clone();
    bad["control_id"] = json!("CC99.9");
    let r = call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&co),
        Some(&bad.to_string()),
    );
    assert_eq!(r.status, 400);
});

on_both!(criterion_evidence_and_status_shape, |kind| {
    let s = Server::start(kind);
    let a = token(&s, Role::Auditor, None);
    let r = call(
        &s,
        "GET",
        "/api/compliance/controls/CC6.1/evidence",
        Some(&a),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["criterion"].as_str(), v["category"].as_str()),
        (Some("CC6.1"), Some("security"))
    );
    assert!(v["controls"].is_array() && v["evidence"].is_array());
    assert_eq!(
        v["status"], "no_evidence",
        "nothing checked is never a pass"
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/controls/NOPE-1/evidence",
            Some(&a),
            None
        )
        .status,
        404
    );
    let st = call(&s, "GET", "/api/compliance/status", Some(&a), None).json();
    for cat in [
        "security",
        "availability",
        "confidentiality",
        "processing_integrity",
        "privacy",
    ] {
        let c = &st["criteria"][cat];
        assert!(c["status"].is_string(), "{cat}: {st}");
        assert!(
            c["controls_passed"].is_u64() && c["controls_total"].is_u64(),
            "{cat}: {st}"
        );
        if c["controls_total"] == 0 {
            assert_eq!(
                c["status"], "not_assessed",
                "{cat}: nothing checked is not compliant"
            );
        }
    }
    assert!(st["open_findings"].is_u64());
    assert!(st.get("last_assessment").is_some());
    let next = st["next_audit"].as_str().unwrap();
    assert!(next.ends_with("-01") && next.len() == 10, "{next}");
    assert!(st["overall_status"].is_string());
});

on_both!(
    ingest_needs_json_unique_keys_and_one_form_per_field,
    |kind| {
        let s = Server::start(kind);
        let t = token(&s, Role::Ingest, None);
        let ev = r#"{"action":"user.login","category":"authentication","result":"success","timestamp":"2026-10-05T10:00:00Z"}"#;
        let path = "/api/compliance/audit-logs";
        let auth = ("Authorization", format!("Bearer {t}"));
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut h = vec![auth.clone()];
            if let Some(c) = ct {
                h.push(("Content-Type", c.to_string()));
            }
            let r = call_h(&s, "POST", path, &h, Some(ev));
            assert_eq!(r.status, 415, "{ct:?}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], "unsupported_media_type");
        }
        let r = call_h(
            &s,
            "POST",
            path,
            &[
                auth.clone(),
                ("Content-Type", "application/json; charset=utf-8".into()),
            ],
            Some(ev),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        // A key twice: the last would silently win.
        let dup = r#"{"action":"user.login","category":"authentication","result":"failure","result":"success","timestamp":"2026-10-05T10:00:00Z"}"#;
        let r = call(&s, "POST", path, Some(&t), Some(dup));
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`result`"));
        // The same field nested and flat.
        for (nested, flat) in [
            (json!({"actor": {"id": "u1"}}), json!({"actor_id": "u2"})),
            (
                json!({"resource": {"type": "role"}}),
                json!({"resource_type": "user"}),
            ),
        ] {
            let mut e: Value = serde_json::from_str(ev).unwrap();
            for (k, v) in nested
                .as_object()
                .unwrap()
                .iter()
                .chain(flat.as_object().unwrap())
            {
                e[k] = v.clone();
            }
            let r = call(&s, "POST", path, Some(&t), Some(&e.to_string()));
            assert_eq!(r.status, 422, "{e}: {}", r.text());
            let field = r.json()["error"]["details"]["errors"][0]["field"].clone();
            assert_eq!(
                field,
                json!(flat.as_object().unwrap().keys().next().unwrap())
            );
        }
    }
);

on_both!(limits_answer_with_the_json_error_shape, |kind| {
    let s = Server::start(kind);
    let t = token(&s, Role::Auditor, None);
    let long = format!("/api/compliance/audit-logs?action={}", "a".repeat(10_000));
    let r = call(&s, "GET", &long, Some(&t), None);
    assert_eq!(r.status, 414);
    assert_eq!(r.json()["error"]["code"], "uri_too_long");
    assert!(r.header("x-request-id").is_some());
    let mut req =
        format!("GET /api/compliance/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n");
    for i in 0..20 {
        req.push_str(&format!("X-Filler-{i}: {}\r\n", "b".repeat(1000)));
    }
    req.push_str("Connection: close\r\n\r\n");
    let (status, headers, body) = raw(&s, req.as_bytes());
    assert_eq!(status, 431, "{body}");
    let v: Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["error"]["code"], "headers_too_large");
    assert!(headers.iter().any(|(k, _)| k == "x-request-id"));
});

on_both!(api_errors_speak_http_not_cli_flags, |kind| {
    let s = Server::start(kind);
    let t = token(&s, Role::Auditor, None);
    let ing = token(&s, Role::Ingest, None);
    call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ing),
        Some(
            r#"[{"action":"a.b","category":"system","result":"success","timestamp":"2026-10-01T00:00:00Z"},{"action":"a.b","category":"system","result":"success","timestamp":"2026-10-01T00:00:01Z"}]"#,
        ),
    );
    let r = call(
        &s,
        "GET",
        "/api/compliance/ledger/consistency?from=2&to=1",
        Some(&t),
        None,
    );
    assert_eq!(r.status, 400);
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(!m.contains("--"), "{m}");
    assert!(m.contains("`from`") && m.contains("`to`"), "{m}");
});

/// A full disk: ingest answers 503 with Retry-After and nothing half-written, /readyz
/// reports not ready, and both recover once space is back. SQLite on a small tmpfs
/// (needs root to mount; skipped otherwise).
#[test]
fn ext_full_disk_is_503_with_retry_after_and_not_ready() {
    let mnt = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .is_ok_and(|s| s.success());
    // Skipped without root, except under CI=true, where it must run.
    if !vouch_test_support::ext::require(ok, "cannot mount a tmpfs (needs root)") {
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _u = Unmount(mnt.path().to_path_buf());
    let data_dir = mnt.path().join("data");
    vouch_engine::init::init(&data_dir, Some("Acme"), Some("acme.example/vouch/audit")).unwrap();
    let config = vouch_engine::Config::load(&data_dir).unwrap();
    let store = vouch_engine::open(&config).unwrap().0;
    let t = vouch_server::auth::create_token(&store, "ingest", Role::Ingest, None)
        .unwrap()
        .1;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    rt.spawn(async move {
        let _ = vouch_server::serve(config, "127.0.0.1:0".parse().unwrap(), Some(tx)).await;
    });
    let addr = rt.block_on(rx).unwrap();
    let get = |path: &str| {
        let mut r = agent().get(format!("http://{addr}{path}")).call().unwrap();
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (status, retry, r.body_mut().read_to_string().unwrap())
    };
    let post = |body: &str| {
        let mut r = agent()
            .post(format!("http://{addr}/api/compliance/audit-logs"))
            .header("Authorization", &format!("Bearer {t}"))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (status, retry, r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get("/readyz").0, 200);
    let batch = |n: usize, tag: &str| {
        json!((0..n)
            .map(|i| json!({"action": "bulk.write", "category": "system", "result": "success",
                "timestamp": "2026-10-05T10:00:00Z", "details": {"description": format!("{tag} {i} {}", "x".repeat(400))}}))
            .collect::<Vec<_>>())
        .to_string()
    };
    assert_eq!(post(&batch(10, "before")).0, 201);
    // Fill the disk.
    let filler = mnt.path().join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=64"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let size_before = store.head().unwrap().size;
    let (status, retry, body) = post(&batch(2000, "full"));
    assert_eq!(status, 503, "{body}");
    assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() > 0));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "storage_unavailable");
    assert_eq!(
        store.head().unwrap().size,
        size_before,
        "nothing half-written"
    );
    let (status, retry, _) = get("/readyz");
    assert_eq!(status, 503);
    assert!(retry.is_some());
    // Space comes back: so does the service.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(get("/readyz").0, 200);
    assert_eq!(post(&batch(10, "after")).0, 201);
    drop(rt);
}

/// PostgreSQL refusing writes (the server's role switched to read-only transactions, its
/// connections ended): ingest answers 503 with Retry-After, /readyz is not ready; both
/// recover when writes are allowed again.
#[test]
fn ext_postgres_read_only_is_503_and_not_ready() {
    let Some(url) = pg_url() else {
        eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
        return;
    };
    let psql = |sql: &str| {
        let o = std::process::Command::new("psql")
            .args([url.as_str(), "-qtAc", sql])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let role = format!(
        "vouch_ro_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let db = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    psql(&format!("CREATE ROLE {role} LOGIN"));
    psql(&format!("GRANT CREATE ON DATABASE {db} TO {role}"));
    struct DropRole(String, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            let _ = std::process::Command::new("psql")
                .args([
                    self.0.as_str(),
                    "-qc",
                    &format!(
                        "DROP OWNED BY {r} CASCADE; DROP ROLE IF EXISTS {r}",
                        r = self.1
                    ),
                ])
                .output();
        }
    }
    let _cleanup = DropRole(url.clone(), role.clone());
    let as_role = url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let data = Data::new(Kind::Postgres, |t| {
        *t = t.replacen(
            &format!("url = \"{url}\""),
            &format!("url = \"{as_role}\""),
            1,
        );
    });
    let s = Server::on(data, None);
    let t = token(&s, Role::Ingest, None);
    let ev = r#"{"action":"a.b","category":"system","result":"success","timestamp":"2026-10-05T10:00:00Z"}"#;
    let post = || call(&s, "POST", "/api/compliance/audit-logs", Some(&t), Some(ev));
    assert_eq!(post().status, 201);
    let end_sessions =
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
    psql(&format!(
        "ALTER ROLE {role} SET default_transaction_read_only = on"
    ));
    psql(&end_sessions);
    let schema = s.data.schema.clone().unwrap();
    let ingested = || {
        let o = std::process::Command::new("psql")
            .args([
                url.as_str(),
                "-qtAc",
                &format!("SELECT count(*) FROM {schema}.ledger_entries WHERE leaf LIKE '%\"action\":\"a.b\"%'"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(ingested(), 1);
    for _ in 0..3 {
        let r = post();
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "storage_unavailable");
        assert!(r.header("retry-after").is_some());
    }
    let r = call_h(&s, "GET", "/readyz", &[], None);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    psql(&format!(
        "ALTER ROLE {role} RESET default_transaction_read_only"
    ));
    psql(&end_sessions);
    let mut last = 0;
    for _ in 0..5 {
        last = post().status;
        if last == 201 {
            break;
        }
    }
    assert_eq!(last, 201, "writes work again");
    assert_eq!(call_h(&s, "GET", "/readyz", &[], None).status, 200);
    assert_eq!(ingested(), 2, "nothing of the refused requests was written");
    let v = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/verify",
        Some(&token_after(&s)),
        None,
    )
    .json();
    assert_eq!(v["valid"], json!(true), "{v}");
}

/// A reader token made once writes work again (the fixture's own connection was ended).
fn token_after(s: &Server) -> String {
    for _ in 0..3 {
        if let Ok((_, t)) = vouch_server::auth::create_token(
            &s.store,
            &format!("r-{}", uuid::Uuid::new_v4()),
            Role::Auditor,
            None,
        ) {
            return t;
        }
    }
    panic!("cannot create a token")
}

// Issue 12: a timestamp beyond `ledger.max_clock_skew` in the future, a leap second or a
// year past 9999 is refused with a 422 that names `timestamp`, and nothing is appended.
on_both!(
    ingest_refuses_timestamps_the_ledger_cannot_stand_behind,
    |kind| {
        let s = Server::start(kind);
        let t = token(&s, Role::Ingest, None);
        let path = "/api/compliance/audit-logs";
        let event = |ts: &str| {
            json!({"action": "user.login", "category": "authentication", "result": "success", "timestamp": ts})
            .to_string()
        };
        let future = (chrono::Utc::now() + chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        for ts in [
            future.as_str(),
            "2026-06-30T23:59:60Z",
            "10000-01-01T00:00:00Z",
        ] {
            let r = call(&s, "POST", path, Some(&t), Some(&event(ts)));
            assert_eq!(r.status, 422, "{ts}: {}", r.text());
            let body = r.json();
            assert_eq!(
                body["error"]["details"]["errors"][0]["field"], "timestamp",
                "{ts}: {body}"
            );
        }
        // Within the allowed skew (a minute ahead) is accepted.
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(60))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let r = call(&s, "POST", path, Some(&t), Some(&event(&soon)));
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["new"], 1, "{}", r.text());
    }
);

// vouch tells its own events (jobs, checks, the API's self-audit) from the audited
// systems' by their actor and source; a client posing as vouch is refused.
on_both!(ingest_refuses_events_posing_as_vouch, |kind| {
    let s = Server::start(kind);
    let t = token(&s, Role::Ingest, None);
    let base = json!({"action": "user.login", "category": "authentication", "result": "success",
        "timestamp": "2026-10-05T10:00:00Z"});
    for (extra, field) in [
        (json!({"actor": {"id": "vouch"}}), "actor.id"),
        (json!({"actor_id": "vouch"}), "actor_id"),
        (
            json!({"metadata": {"source": "vouch-serve"}}),
            "metadata.source",
        ),
    ] {
        let mut e = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        let r = call(
            &s,
            "POST",
            "/api/compliance/audit-logs",
            Some(&t),
            Some(&e.to_string()),
        );
        assert_eq!(r.status, 422, "{e}: {}", r.text());
        assert_eq!(
            r.json()["error"]["details"]["errors"][0]["field"],
            field,
            "{}",
            r.text()
        );
    }
    let mut ok = base.clone();
    ok["actor"] = json!({"id": "vouchsafe"});
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&t),
        Some(&ok.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
});
