//! The HTTP service on real loopback HTTP: the whole roles matrix (every route × every
//! role × no token, a bad token, an expired token), ingest and query, JWT, local users
//! with lockout and TOTP, self-audit, and bad input answered with JSON 4xx.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::{allows, Perm, Role, ROLES};
use vouch_server::routes::ROUTES;

fn concrete(path: &str) -> String {
    path.replace("{id}", "01a20000-0000-7000-8000-000000000000")
        .replace("{*path}", "0/000")
        .replace("{name}", "attestation-draft")
}

on_both!(roles_matrix_every_route_every_role, |kind| {
    // Every route with four bad credentials (and HEAD) from one address is more failed
    // authentications than the default per-address limit allows.
    let s = Server::start_with(kind, |t| {
        assert!(t.contains("failures_per_window = 300"));
        *t = t.replace("failures_per_window = 300", "failures_per_window = 100000")
    });
    let tokens: Vec<(Role, String)> = ROLES.iter().map(|r| (*r, token(&s, *r, None))).collect();
    let expired = token(
        &s,
        Role::Admin,
        Some(chrono::Utc::now() - chrono::Duration::hours(1)),
    );
    let mut unexpected = Vec::new();
    for r in ROUTES {
        let path = concrete(r.path);
        let body = if r.body { Some("{}") } else { None };
        if r.perm == Perm::Public {
            let resp = call(&s, r.method, &path, None, body);
            if resp.status == 401 || resp.status == 403 || resp.status >= 500 {
                unexpected.push(format!("{} {} public → {}", r.method, r.path, resp.status));
            }
            continue;
        }
        for (who, t) in [
            ("no token", None),
            ("bad token", Some("vch_not-a-real-token")),
            ("expired token", Some(expired.as_str())),
            ("garbage", Some("x.y")),
        ] {
            let resp = call(&s, r.method, &path, t, body);
            if resp.status != 401 {
                unexpected.push(format!(
                    "{} {} with {who} → {} (want 401)",
                    r.method, r.path, resp.status
                ));
            }
            assert!(resp.json()["error"]["code"].is_string());
        }
        if r.method == "GET" {
            // axum serves HEAD with the GET handler: it needs the same credentials and
            // permission (it once skipped the guard: a route-table lookup missed HEAD).
            let resp = call(&s, "HEAD", &path, None, None);
            if resp.status != 401 {
                unexpected.push(format!(
                    "HEAD {} with no token → {} (want 401)",
                    r.path, resp.status
                ));
            }
            for (role, t) in &tokens {
                if !allows(*role, r.perm) {
                    let resp = call(&s, "HEAD", &path, Some(t), None);
                    if resp.status != 403 {
                        unexpected.push(format!(
                            "HEAD {} as {} → {} (want 403)",
                            r.path,
                            role.as_str(),
                            resp.status
                        ));
                    }
                }
            }
        }
        for (role, t) in &tokens {
            let resp = call(&s, r.method, &path, Some(t), body);
            let allowed = allows(*role, r.perm);
            let ok = if allowed {
                resp.status != 401 && resp.status != 403 && resp.status < 500
            } else {
                resp.status == 403
            };
            if !ok {
                unexpected.push(format!(
                    "{} {} as {} → {} ({}) {}",
                    r.method,
                    r.path,
                    role.as_str(),
                    resp.status,
                    if allowed {
                        "should be allowed"
                    } else {
                        "should be 403"
                    },
                    String::from_utf8_lossy(&resp.body)
                ));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "unexpected outcomes:\n{}",
        unexpected.join("\n")
    );
    // The matrix itself: ingest may only append; auditors are read-only but may open findings.
    assert!(allows(Role::Ingest, Perm::Ingest) && !allows(Role::Ingest, Perm::ReadLedger));
    assert!(
        allows(Role::Auditor, Perm::OpenFinding)
            && !allows(Role::Auditor, Perm::Operate)
            && !allows(Role::Auditor, Perm::Ingest)
    );
    assert!(
        allows(Role::TeamLead, Perm::ExportLedger)
            && !allows(Role::ComplianceOfficer, Perm::ExportLedger)
    );
    // Attestations: auditors read and sign nothing, officers (and team leads, for
    // collection sign-offs) sign, ingest tokens do nothing.
    assert!(
        allows(Role::Auditor, Perm::ReadEvidence)
            && !allows(Role::Auditor, Perm::SignOff)
            && allows(Role::ComplianceOfficer, Perm::SignOff)
            && allows(Role::TeamLead, Perm::SignOff)
            && !allows(Role::Ingest, Perm::SignOff)
            && !allows(Role::Ingest, Perm::ReadEvidence)
    );
});

on_both!(ingest_query_export_proofs_and_self_audit, |kind| {
    let s = Server::start(kind);
    let ingest = token(&s, Role::Ingest, None);
    let auditor = token(&s, Role::Auditor, None);
    let lead = token(&s, Role::TeamLead, None);
    // Seed 000's curl example: one event.
    let one = r#"{"organization_id":"org-1","actor":{"id":"user-1","email":"a@x.example","ip":"10.0.0.1"},"action":"user.login","category":"authentication","resource":{"type":"session","id":"s1","name":null},"result":"success","timestamp":"2026-10-05T10:00:00Z"}"#;
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(one),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["seqs"], json!([0]));
    // A batch; all or nothing with each bad item's index and field.
    let batch: Vec<Value> = (0..50).map(|i| json!({"organization_id": "org-1", "actor": {"id": format!("user-{}", i % 5)}, "action": if i % 2 == 0 { "role.assign" } else { "data.export" }, "category": "authorization", "resource": {"type": "role", "id": "admin"}, "result": "success", "timestamp": format!("2026-10-{:02}T12:00:00Z", 1 + i % 28)})).collect();
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(&json!(batch).to_string()),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["seqs"].as_array().unwrap().len(), 50);
    let mut bad = batch.clone();
    bad[3]["category"] = json!("nope");
    bad[7]["timestamp"] = json!("yesterday");
    // Every bad field of an event is listed, not only the first.
    bad[9]["action"] = json!("");
    bad[9]["category"] = json!("nope");
    bad[9]["result"] = json!(7);
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(&json!(bad).to_string()),
    );
    assert_eq!(r.status, 422);
    let errs = r.json()["error"]["details"]["errors"].clone();
    assert_eq!(
        errs.as_array()
            .unwrap()
            .iter()
            .map(|e| (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string()
            ))
            .collect::<Vec<_>>(),
        vec![
            (3, "category".to_string()),
            (7, "timestamp".to_string()),
            (9, "action".to_string()),
            (9, "category".to_string()),
            (9, "result".to_string())
        ]
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("3 invalid event(s)"),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some("{not json"),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/compliance/audit-logs",
            Some(&ingest),
            Some(&json!(too_many).to_string())
        )
        .status,
        413
    );

    // Query with seed 003's filters, pages and a cursor.
    let q = call(
        &s,
        "GET",
        "/api/compliance/audit-logs?actor_id=user-1&action=role.assign&per_page=3",
        Some(&auditor),
        None,
    );
    assert_eq!(q.status, 200, "{}", String::from_utf8_lossy(&q.body));
    let v = q.json();
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["id"] == "user-1" && e["action"] == "role.assign"));
    let mut seen = v["data"].as_array().unwrap().len();
    let mut cursor = v["next_cursor"].clone();
    while let Some(c) = cursor.as_u64() {
        let v = call(&s, "GET", &format!("/api/compliance/audit-logs?actor_id=user-1&action=role.assign&per_page=3&cursor={c}"), Some(&auditor), None).json();
        seen += v["data"].as_array().unwrap().len();
        cursor = v["next_cursor"].clone();
    }
    assert_eq!(seen, 5, "50 events, every 5th actor, every other action");
    let q = call(&s, "GET", "/api/compliance/audit-logs?start_date=2026-10-05&end_date=2026-10-05&category=authentication", Some(&auditor), None).json();
    assert_eq!(q["data"].as_array().map(Vec::len), Some(1), "{q}");
    for bad in [
        "?start_date=yesterday",
        "?per_page=1001",
        "?nope=1",
        "?actor_id=1%27%20OR%201%3D1--",
        "?page=0",
        "?cursor=abc",
        "?a=1&a=2",
    ] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs{bad}"),
            Some(&auditor),
            None,
        );
        if bad.contains("OR") {
            assert_eq!(
                (r.status, r.json()["data"].as_array().unwrap().len()),
                (200, 0),
                "SQL metacharacters are plain values"
            );
        } else {
            assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
            assert!(r.json()["error"]["message"].is_string());
        }
    }
    // Exports (team lead), CSV and NDJSON.
    let csv = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/export?format=csv&action=data.export",
        Some(&lead),
        None,
    );
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.body.clone()).unwrap();
    assert_eq!(text.lines().count(), 26, "{text}");
    assert!(text.starts_with("seq,id,timestamp"));
    let nd = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/export",
        Some(&lead),
        None,
    );
    let lines: Vec<Value> = String::from_utf8(nd.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The 51 ingested events, plus vouch's own audit of the failed requests and the export
    // (and whatever the scheduler's first tick recorded meanwhile).
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["organization_id"] == "org-1")
            .count(),
        51
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["metadata"]["source"] == "vouch-serve" && l["result"] == "failure")
            .count(),
        3
    );

    // Verify, checkpoint, proofs, public key.
    let v = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/verify",
        Some(&auditor),
        None,
    )
    .json();
    assert_eq!(
        (v["valid"].as_bool(), v["broken_at"].clone()),
        (Some(true), Value::Null)
    );
    let cp = call(
        &s,
        "GET",
        "/api/compliance/ledger/checkpoint",
        Some(&auditor),
        None,
    );
    assert!(
        String::from_utf8_lossy(&cp.body).starts_with("acme.example/vouch/audit\n"),
        "{} {}",
        cp.status,
        String::from_utf8_lossy(&cp.body)
    );
    let pr = call(
        &s,
        "GET",
        "/api/compliance/ledger/proof?index=0",
        Some(&auditor),
        None,
    );
    assert_eq!(pr.status, 200, "{}", String::from_utf8_lossy(&pr.body));
    assert!(String::from_utf8_lossy(&pr.body).starts_with("c2sp.org/tlog-proof@v1"));
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/ledger/proof?index=99999",
            Some(&auditor),
            None
        )
        .status,
        400
    );
    let pk = call(
        &s,
        "GET",
        "/api/compliance/public-key",
        Some(&auditor),
        None,
    );
    assert!(String::from_utf8_lossy(&pk.body).contains("BEGIN PUBLIC KEY"));
    assert!(pk.header("x-request-id").is_some());

    // Self-audit: reads of evidence, failed authentication, changes of state.
    call(&s, "GET", "/api/compliance/evidence", Some(&auditor), None);
    call(&s, "GET", "/api/compliance/status", Some("vch_wrong"), None);
    call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&auditor),
        Some(r#"{"title":"Sampled PR lacked review","severity":"high"}"#),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let leaves: Vec<Value> = (0..s.store.head().unwrap().size)
        .map(|i| serde_json::from_str(&s.store.leaf(i).unwrap().unwrap()).unwrap())
        .collect();
    let audit: Vec<&Value> = leaves
        .iter()
        .filter(|l| l["metadata"]["source"] == "vouch-serve")
        .collect();
    assert!(audit
        .iter()
        .any(|l| l["action"] == "api.GET /api/compliance/evidence"
            && l["actor"]["id"]
                .as_str()
                .unwrap()
                .starts_with("token:auditor")
            && l["actor"]["ip"] == "127.0.0.1"));
    assert!(audit.iter().any(|l| l["category"] == "authentication"
        && l["result"] == "failure"
        && l["metadata"]["status"] == 401));
    assert!(audit
        .iter()
        .any(|l| l["action"] == "api.POST /api/compliance/findings" && l["result"] == "success"));
    assert!(
        !audit
            .iter()
            .any(|l| l["action"] == "api.POST /api/compliance/audit-logs"
                && l["result"] == "success"),
        "successful ingests are their own record"
    );
});

on_both!(jwt_users_lockout_totp_and_errors, |kind| {
    let s = Server::start(kind);
    let secret = "test-jwt-secret-of-enough-length-0123456789";
    let exp = chrono::Utc::now().timestamp() + 600;
    // Seed 000's role names map onto vouch's.
    let admin = jwt(json!({"sub": "alice", "role": "ADMIN", "exp": exp}), secret);
    let r = call(&s, "GET", "/api/compliance/auth/whoami", Some(&admin), None).json();
    assert_eq!(
        (r["role"].as_str(), r["actor"].as_str()),
        (Some("admin"), Some("jwt:alice"))
    );
    let co = jwt(
        json!({"sub": "carol", "role": "compliance-officer", "exp": exp}),
        secret,
    );
    assert_eq!(
        call(&s, "GET", "/api/compliance/auth/whoami", Some(&co), None).json()["role"],
        "compliance-officer"
    );
    assert_eq!(
        call(&s, "GET", "/api/compliance/status", Some(&co), None).status,
        200
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/status",
            Some(&jwt(
                json!({"sub": "m", "role": "ADMIN", "exp": exp}),
                "wrong-secret-wrong-secret-wrong-secret"
            )),
            None
        )
        .status,
        401
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/status",
            Some(&jwt(
                json!({"sub": "m", "role": "ADMIN", "exp": exp - 4000}),
                secret
            )),
            None
        )
        .json()["error"]["message"],
        "the token has expired"
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/status",
            Some(&jwt(
                json!({"sub": "m", "role": "janitor", "exp": exp}),
                secret
            )),
            None
        )
        .status,
        403
    );

    // Local users: short passwords refused; lockout after 5 failures; TOTP.
    assert!(
        vouch_server::auth::add_user(&s.store, "bob", Role::Auditor, "short")
            .unwrap_err()
            .contains("12")
    );
    vouch_server::auth::add_user(&s.store, "bob", Role::Auditor, "Correct horse battery 9")
        .unwrap();
    let login = |pw: &str, code: Option<&str>| {
        call(
            &s,
            "POST",
            "/api/compliance/auth/login",
            None,
            Some(&json!({"username": "bob", "password": pw, "totp_code": code}).to_string()),
        )
    };
    let r = login("Correct horse battery 9", None);
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").unwrap().contains("HttpOnly"));
    let session = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/auth/whoami",
            Some(&session),
            None
        )
        .json()["actor"],
        "user:bob"
    );
    let enroll = call(
        &s,
        "POST",
        "/api/compliance/auth/totp/enroll",
        Some(&session),
        Some(&json!({"password": "Correct horse battery 9"}).to_string()),
    )
    .json();
    let b32 = enroll["secret"].as_str().unwrap().to_string();
    assert!(enroll["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/vouch:bob?secret="));
    let raw = base32_decode(&b32);
    let code = vouch_server::auth::totp(&raw, chrono::Utc::now().timestamp());
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/compliance/auth/totp/verify",
            Some(&session),
            Some(&json!({"code": "000000"}).to_string())
        )
        .status,
        400
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/compliance/auth/totp/verify",
            Some(&session),
            Some(&json!({"code": code}).to_string())
        )
        .status,
        200
    );
    assert_eq!(
        login("Correct horse battery 9", None).status,
        401,
        "a code is now required"
    );
    // The enrolment's code is spent; the next step's (within the allowed drift) is not.
    assert_eq!(login("Correct horse battery 9", Some(&code)).status, 401);
    let code = vouch_server::auth::totp(&raw, chrono::Utc::now().timestamp() + 30);
    assert_eq!(login("Correct horse battery 9", Some(&code)).status, 200);
    for _ in 0..5 {
        assert_eq!(login("Wrong password 9!", None).status, 401);
    }
    let code = vouch_server::auth::totp(&raw, chrono::Utc::now().timestamp());
    let locked = login("Correct horse battery 9", Some(&code));
    assert_eq!(
        (locked.status, locked.json()["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "a locked account answers like a wrong password: {}",
        locked.text()
    );

    // Unknown routes, wrong methods, bad JSON bodies: JSON 4xx.
    let r = call(&s, "GET", "/api/compliance/nope", Some(&admin), None);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = call(&s, "DELETE", "/api/compliance/findings", Some(&admin), None);
    assert_eq!(r.status, 405);
    assert!(r.json()["error"]["message"].is_string());
    let r = call(
        &s,
        "PATCH",
        "/api/compliance/findings/not-an-id",
        Some(&admin),
        Some(r#"{"status":"resolved"}"#),
    );
    assert_eq!(r.status, 400);
    // A field of the wrong type is refused naming it, not silently ignored.
    let r = call(
        &s,
        "PATCH",
        "/api/compliance/findings/not-an-id",
        Some(&admin),
        Some(r#"{"status":1}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("status")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "GET",
        "/api/compliance/soc2-packet?startDate=2026-10-01&endDate=not-a-date",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 400);
    // Evidence export as a signed PDF.
    let pdf = call(&s, "GET", "/api/compliance/evidence/export?period_start=2026-10-01&period_end=2026-10-31&criteria=CC6.1&format=pdf", Some(&admin), None);
    assert_eq!(pdf.status, 200, "{}", String::from_utf8_lossy(&pdf.body));
    assert!(pdf.body.starts_with(b"%PDF-"));
    let sig = pdf.header("x-evidence-signature").unwrap().to_string();
    let pem = call(&s, "GET", "/api/compliance/public-key", Some(&admin), None).body;
    let pem = String::from_utf8(pem).unwrap();
    vouch_engine::packet::sign::verify_b64(&pem, &pdf.body, &sig).unwrap();
    assert_eq!(call(&s, "GET", "/api/compliance/evidence/export?period_start=2026-10-01&period_end=2026-10-31&format=docx", Some(&admin), None).status, 400);
    // OpenAPI lists every API route, and none of the dashboard's HTML routes.
    let doc = call(&s, "GET", "/openapi.json", None, None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let path = vouch_server::openapi::openapi_path(r.path);
        let api = !r.path.starts_with("/admin/compliance");
        assert_eq!(vouch_server::openapi::documented(r.path), api, "{}", r.path);
        assert_eq!(
            doc["paths"][path.as_str()][r.method.to_lowercase()].is_object(),
            api,
            "{} {}",
            r.method,
            r.path
        );
        assert!(
            !path.contains('*'),
            "OpenAPI paths have no catch-all syntax: {path}"
        );
    }
    assert_eq!(
        call(&s, "GET", "/healthz", None, None).json()["status"],
        "ok"
    );
});

// ES256 JWTs verified with a public key file (keys made by the real openssl).
on_both!(jwt_es256_with_a_public_key_file, |kind| {
    let data = Data::new(kind, |t| {
        *t = t
            .replace("jwt_algorithm = \"\"", "jwt_algorithm = \"ES256\"")
            .replace("jwt_public_key = \"\"", "jwt_public_key = \"jwt.pub.pem\"")
            .replace("jwt_issuer = \"\"", "jwt_issuer = \"https://idp.example\"")
    });
    let dir = data.dir.path().to_path_buf();
    let key = dir.join("jwt.key");
    let pubkey = dir.join("jwt.pub.pem");
    let pkcs8 = dir.join("jwt.pk8.pem");
    let sh = |args: &[&str]| {
        assert!(std::process::Command::new("openssl")
            .args(args)
            .status()
            .unwrap()
            .success())
    };
    sh(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        key.to_str().unwrap(),
    ]);
    sh(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        key.to_str().unwrap(),
        "-out",
        pkcs8.to_str().unwrap(),
    ]);
    sh(&[
        "ec",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        pubkey.to_str().unwrap(),
    ]);
    let s = Server::on(data, None);
    let enc = jsonwebtoken::EncodingKey::from_ec_pem(&std::fs::read(&pkcs8).unwrap()).unwrap();
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &enc,
        )
        .unwrap()
    };
    let exp = chrono::Utc::now().timestamp() + 600;
    let ok = sign(
        json!({"sub": "dana", "role": ["AUDITOR", "viewer"], "iss": "https://idp.example", "exp": exp}),
    );
    let r = call(&s, "GET", "/api/compliance/auth/whoami", Some(&ok), None).json();
    assert_eq!(
        (r["role"].as_str(), r["actor"].as_str(), r["via"].as_str()),
        (Some("auditor"), Some("jwt:dana"), Some("jwt"))
    );
    let wrong_iss =
        sign(json!({"sub": "dana", "role": "AUDITOR", "iss": "https://evil.example", "exp": exp}));
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/auth/whoami",
            Some(&wrong_iss),
            None
        )
        .status,
        401
    );
    // An HS256 token made with the public key as the secret (algorithm confusion) is refused.
    let confused = jwt(
        json!({"sub": "eve", "role": "ADMIN", "iss": "https://idp.example", "exp": exp}),
        &std::fs::read_to_string(&pubkey).unwrap(),
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/auth/whoami",
            Some(&confused),
            None
        )
        .status,
        401
    );
});

// `/metrics` counts requests by route template and status and exposes histograms with
// buckets (promtool checks the format in scripts/test).
on_both!(metrics_scrape, |kind| {
    let s = Server::start(kind);
    let ingest = token(&s, Role::Ingest, None);
    call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(
            r#"{"action":"a.b","category":"system","result":"success","timestamp":"2026-10-01T00:00:00Z"}"#,
        ),
    );
    call(&s, "GET", "/api/compliance/status", None, None);
    let r = call(&s, "GET", "/metrics", None, None);
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("vouch_http_requests_total{method=\"POST\",route=\"/api/compliance/audit-logs\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("vouch_http_requests_total{method=\"GET\",route=\"/api/compliance/status\",status=\"401\"} 1"));
    assert!(text.contains("vouch_ledger_append_latency_seconds_bucket{le=\"+Inf\"} 1"));
    assert!(text.contains("# TYPE vouch_ledger_append_latency_seconds histogram"));
    assert!(text
        .lines()
        .any(|l| l.starts_with("vouch_ledger_events_total ")));
});

// The scheduler inside `vouch serve` and the jobs API, on both stores.
on_both!(jobs_api_and_scheduler_in_serve, |kind| {
    let s = Server::start(kind);
    let admin = token(&s, Role::Admin, None);
    let r = call(
        &s,
        "POST",
        "/api/compliance/jobs/verify-ledger/run",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "succeeded", "{}", r.text());
    let runs = call(
        &s,
        "GET",
        "/api/compliance/jobs/verify-ledger/runs",
        Some(&admin),
        None,
    )
    .json();
    assert!(!runs.as_array().unwrap().is_empty());
    // Issue 12: a fresh install catches up nothing (every occurrence is before `init`),
    // so no packet of last month is made over an empty ledger.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let scheduled = |s: &Server, admin: &str| {
        let jobs = call(s, "GET", "/api/compliance/jobs", Some(admin), None).json();
        let n = jobs
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| {
                j["last_run"]["run_key"]
                    .as_str()
                    .is_some_and(|k| !k.contains(":manual-"))
            })
            .count();
        (n, jobs)
    };
    let (n, jobs) = scheduled(&s, &admin);
    assert_eq!(
        n, 0,
        "a fresh server caught up runs from before init: {jobs}"
    );
    assert_eq!(s.count("SELECT count(*) FROM packets"), 0);
    drop(s);

    // A server whose database was initialised long ago: its first tick catches up the
    // daily verification that it missed.
    let data = Data::new(kind, |_| {});
    let store = vouch_engine::open(&data.config()).unwrap().0;
    store
        .write(&mut |sql| {
            sql.execute(
                "UPDATE schema_migrations SET applied_at = '2025-01-01 00:00:00'",
                &[],
            )
            .map(|_| ())
        })
        .unwrap();
    drop(store);
    let s = Server::on(data, None);
    let admin = token(&s, Role::Admin, None);
    let start = std::time::Instant::now();
    loop {
        let (n, jobs) = scheduled(&s, &admin);
        if n > 0 {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "the scheduler ran nothing: {jobs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
});

on_both!(bad_format_first_and_basic_auth_named, |kind| {
    let s = Server::start(kind);
    let admin = token(&s, Role::Admin, None);
    // A bad `format` is named even when the period is missing too.
    let r = call(
        &s,
        "GET",
        "/api/compliance/evidence/export?format=xml",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["error"]["details"]["parameter"],
        "format",
        "{}",
        r.text()
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("xml"),
        "{}",
        r.text()
    );
    // HTTP Basic is not a scheme vouch accepts: say which one is expected.
    let r = call_h(
        &s,
        "GET",
        "/api/compliance/findings",
        &[("Authorization", "Basic YWxpY2U6c2VjcmV0".to_string())],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        m.contains("Authorization: Bearer <token>") && m.contains("Basic"),
        "{m}"
    );
    assert!(
        !m.contains("YWxpY2U6c2VjcmV0"),
        "the credentials are not echoed: {m}"
    );
});

// After a retention run has pruned leaves (their `leaf` is empty, the tree stays), the
// audit-log query lists them as archived stubs and the export skips them, instead of
// failing on the empty JSON (found by a new-user trial: 500 on every query, a cut
// export stream).
on_both!(audit_log_query_and_export_skip_pruned_entries, |kind| {
    let s = Server::start(kind);
    let ingest = token(&s, Role::Ingest, None);
    let admin = token(&s, Role::Admin, None);
    let old = (chrono::Utc::now() - chrono::Duration::days(200)).format("%Y-%m-%dT%H:%M:%SZ");
    let recent = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let events = json!([
        {"action": "app.debug", "category": "system", "result": "success", "retention": "application", "timestamp": old.to_string()},
        {"action": "user.login", "category": "authentication", "result": "success", "timestamp": recent.to_string()},
    ]);
    let r = call(
        &s,
        "POST",
        "/api/compliance/audit-logs",
        Some(&ingest),
        Some(&events.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call(
        &s,
        "POST",
        "/api/compliance/jobs/retention/run",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outputs"]["rows_archived"], 1, "{}", r.text());
    for q in ["", "?category=system", "?cursor=0", "?page=1"] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs{q}"),
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        // A pruned entry is listed as an archived stub (tests/audit_index.rs), never as
        // an event with content.
        let data = r.json()["data"].as_array().unwrap().clone();
        for e in data.iter().filter(|e| e["action"] == "app.debug") {
            assert!(
                e.get("archived").is_some() && e.get("retention").is_none(),
                "{q}: a pruned entry was returned as an event: {e}"
            );
        }
    }
    let r = call(
        &s,
        "GET",
        "/api/compliance/audit-logs?action=user.login",
        Some(&admin),
        None,
    );
    assert!(r.text().contains("user.login"), "{}", r.text());
    for f in ["ndjson", "csv"] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/audit-logs/export?format={f}"),
            Some(&admin),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("user.login"), "{f}: {}", r.text());
        assert!(!r.text().contains("app.debug"), "{f}: {}", r.text());
    }
    // An export streams everything: pages would skip events; only a cursor resumes.
    let r = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/export?page=2",
        Some(&admin),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["parameter"].as_str()),
        (400, Some("page")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "GET",
        "/api/compliance/audit-logs/export?cursor=0",
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
});
