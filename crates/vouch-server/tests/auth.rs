//! Authentication that holds (seed 003's rules), on SQLite and PostgreSQL: lockout under
//! concurrent failures, TOTP changes that need the password and a code, sessions ended
//! by password/MFA changes and logout, one-time TOTP codes, login events naming the
//! account tried, failed authentications rate-limited and aggregated, JWT `nbf`,
//! refusal to start without the JWT secret, the password policy and session limits.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::Role;

const PW: &str = "Correct horse battery 9";

fn login(s: &Server, user: &str, pw: &str, code: Option<&str>) -> Resp {
    call(
        s,
        "POST",
        "/api/compliance/auth/login",
        None,
        Some(&json!({"username": user, "password": pw, "totp_code": code}).to_string()),
    )
}

fn session(s: &Server, user: &str, pw: &str, code: Option<&str>) -> String {
    let r = login(s, user, pw, code);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_string()
}

fn whoami(s: &Server, t: &str) -> u16 {
    call(s, "GET", "/api/compliance/auth/whoami", Some(t), None).status
}

fn post(s: &Server, path: &str, t: &str, body: Value) -> Resp {
    call(
        s,
        "POST",
        &format!("/api/compliance/auth/{path}"),
        Some(t),
        Some(&body.to_string()),
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

on_both!(concurrent_wrong_passwords_lock_the_account, |kind| {
    let s = Server::start(kind);
    vouch_server::auth::add_user(&s.store, "carol", Role::Auditor, PW).unwrap();
    let sr = &s;
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..40)
            .map(|i| {
                sc.spawn(move || login(sr, "carol", &format!("Wrong password {i}!"), None).status)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|c| *c == 401), "{statuses:?}");
    let row = &s
        .store
        .query(
            "SELECT failed_attempts, locked_until FROM users WHERE username = 'carol'",
            &[],
        )
        .unwrap()[0];
    assert!(
        row.int(0) >= 5 && row.opt_text(1).is_some(),
        "every concurrent failure counts and the account is locked: failed_attempts {}, locked_until {:?}",
        row.int(0),
        row.opt_text(1)
    );
    let r = login(&s, "carol", PW, None);
    assert_eq!(
        r.status,
        401,
        "the right password must not get in while locked: {}",
        r.text()
    );
    // A locked account answers exactly like a wrong password and like an unknown name,
    // so the lockout does not reveal which accounts exist.
    let unknown = login(&s, "nobody-here", PW, None);
    let wrong = login(&s, "carol", "Wrong password 99!", None);
    assert_eq!((unknown.status, unknown.json()), (r.status, r.json()));
    assert_eq!((wrong.status, wrong.json()), (r.status, r.json()));
    for i in 0..6 {
        let u = login(&s, "nobody-here", &format!("Wrong password {i}!"), None);
        assert_eq!((u.status, u.json()), (r.status, r.json()));
    }
    // The lock itself is in the ledger for admins, once, though the answers hide it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let locks: Vec<String> = s
        .leaves()
        .iter()
        .filter(|l| l["action"] == "auth.account_locked")
        .map(|l| l["actor"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        locks,
        ["user:carol"],
        "one lock event for the one locked account"
    );
});

on_both!(
    mfa_and_password_changes_need_credentials_and_end_other_sessions,
    |kind| {
        let s = Server::start(kind);
        vouch_server::auth::add_user(&s.store, "dana", Role::Auditor, PW).unwrap();
        let a = session(&s, "dana", PW, None);
        let b = session(&s, "dana", PW, None);
        // Enrolling needs the password.
        let r = post(&s, "totp/enroll", &a, json!({}));
        assert_eq!(r.status, 400, "{}", r.text());
        let r = post(
            &s,
            "totp/enroll",
            &a,
            json!({"password": "Not the password 1"}),
        );
        assert_eq!(r.status, 401, "{}", r.text());
        let r = post(&s, "totp/enroll", &a, json!({"password": PW, "extra": 1}));
        assert_eq!(
            (r.status, r.json()["error"]["details"]["field"].as_str()),
            (422, Some("extra"))
        );
        let e = post(&s, "totp/enroll", &a, json!({"password": PW}));
        assert_eq!(e.status, 200, "{}", e.text());
        let raw = base32_decode(e.json()["secret"].as_str().unwrap());
        assert_eq!(whoami(&s, &b), 200, "pending enrolment changes nothing yet");
        let code = vouch_server::auth::totp(&raw, now());
        assert_eq!(
            post(&s, "totp/verify", &a, json!({"code": code})).status,
            200
        );
        assert_eq!(whoami(&s, &a), 200, "the session that changed MFA stays");
        assert_eq!(
            whoami(&s, &b),
            401,
            "every other session ends when MFA changes"
        );

        // With TOTP on, a new enrolment needs a current code too; without one nothing changes.
        let r = post(&s, "totp/enroll", &a, json!({"password": PW}));
        assert_eq!(r.status, 401, "{}", r.text());
        // (Each refusal above counted towards the lockout: four so far, one short of it.)
        // Switching it off: the password and a fresh code; other sessions end.
        let c = plant_session(&s, "dana");
        assert_eq!(whoami(&s, &c), 200);
        let r = post(&s, "totp/disable", &a, json!({"password": PW}));
        assert_eq!(r.status, 401, "{}", r.text());
        let r = post(
            &s,
            "totp/disable",
            &a,
            json!({"password": PW, "code": code}),
        );
        assert_eq!(r.status, 401, "the enrolment's code is spent");
        let next = vouch_server::auth::totp(&raw, now() + 30);
        let r = post(
            &s,
            "totp/disable",
            &a,
            json!({"password": PW, "code": next}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            whoami(&s, &c),
            401,
            "every other session ends when MFA is switched off"
        );
        assert_eq!(whoami(&s, &a), 200);
        assert_eq!(login(&s, "dana", PW, None).status, 200);
    }
);

/// A session made directly in the database (as another device's login would).
fn plant_session(s: &Server, user: &str) -> String {
    use sha2::Digest;
    let token = format!("vss_planted{}", uuid::Uuid::new_v4().simple());
    let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let at = vouch_core::event::format_timestamp(&chrono::Utc::now());
    let exp =
        vouch_core::event::format_timestamp(&(chrono::Utc::now() + chrono::Duration::hours(1)));
    let user = user.to_string();
    s.store
        .write(&mut |sql| {
            sql.execute(
                "INSERT INTO sessions (token_sha256, user_id, created_at, expires_at, mfa) SELECT $1, id, $2, $3, 0 FROM users WHERE username = $4",
                &[hash.clone().into(), at.clone().into(), exp.clone().into(), user.clone().into()],
            )?;
            Ok(())
        })
        .unwrap();
    token
}

on_both!(password_change_logout_history_and_session_limit, |kind| {
    let s = Server::start_with(kind, |t| {
        *t = t.replace("max_sessions = 5", "max_sessions = 2");
    });
    vouch_server::auth::add_user(&s.store, "erin", Role::Auditor, PW).unwrap();
    let a = session(&s, "erin", PW, None);
    let b = session(&s, "erin", PW, None);
    let c = session(&s, "erin", PW, None);
    assert_eq!(
        (whoami(&s, &a), whoami(&s, &b), whoami(&s, &c)),
        (401, 200, 200),
        "at most two sessions: the oldest ended"
    );
    // Policy and history.
    for (new, why) in [
        ("short", "12"),
        ("alllowercaseletters", "three of"),
        ("Erin-the-admin-1", "username"),
        (PW, "recently"),
    ] {
        let r = post(
            &s,
            "password",
            &c,
            json!({"current_password": PW, "new_password": new}),
        );
        assert_eq!(r.status, 400, "{new}: {}", r.text());
        assert!(
            r.json()["error"]["message"].as_str().unwrap().contains(why),
            "{new}: {}",
            r.text()
        );
    }
    let r = post(
        &s,
        "password",
        &c,
        json!({"current_password": "Wrong one 123!", "new_password": "Another good one 2"}),
    );
    assert_eq!(r.status, 401);
    // Ten changes: none of the last ten may come back.
    let mut current = PW.to_string();
    for i in 0..10 {
        let next = format!("Rotated password {i}!");
        let r = post(
            &s,
            "password",
            &c,
            json!({"current_password": current, "new_password": next}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        current = next;
    }
    assert_eq!(
        whoami(&s, &b),
        401,
        "a password change ends every other session"
    );
    assert_eq!(whoami(&s, &c), 200);
    let r = post(
        &s,
        "password",
        &c,
        json!({"current_password": current, "new_password": "Rotated password 3!"}),
    );
    assert_eq!(r.status, 400, "one of the last ten");
    let r = post(
        &s,
        "password",
        &c,
        json!({"current_password": current, "new_password": PW}),
    );
    assert_eq!(
        r.status,
        200,
        "eleven changes ago is allowed again: {}",
        r.text()
    );
    // Logout ends the session and clears the cookie.
    let r = post(&s, "logout", &c, json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
    assert_eq!(whoami(&s, &c), 401);
    let t = token(&s, Role::Admin, None);
    assert_eq!(
        post(&s, "logout", &t, json!({})).status,
        400,
        "API tokens are revoked, not logged out"
    );
});

on_both!(a_totp_code_is_good_once, |kind| {
    let s = Server::start(kind);
    vouch_server::auth::add_user(&s.store, "finn", Role::Auditor, PW).unwrap();
    let a = session(&s, "finn", PW, None);
    let raw = base32_decode(
        post(&s, "totp/enroll", &a, json!({"password": PW})).json()["secret"]
            .as_str()
            .unwrap(),
    );
    let first = vouch_server::auth::totp(&raw, now());
    assert_eq!(
        post(&s, "totp/verify", &a, json!({"code": first})).status,
        200
    );
    let next = vouch_server::auth::totp(&raw, now() + 30);
    assert_eq!(login(&s, "finn", PW, Some(&next)).status, 200);
    let again = login(&s, "finn", PW, Some(&next));
    assert_eq!(
        again.status, 401,
        "the same code within its window is refused"
    );
    assert_eq!(login(&s, "finn", PW, Some(&first)).status, 401);
});

on_both!(
    login_events_name_the_account_tried_never_the_password,
    |kind| {
        let s = Server::start_with(kind, |t| {
            *t = t.replace("failure_window_secs = 60", "failure_window_secs = 1");
        });
        vouch_server::auth::add_user(&s.store, "gale", Role::Auditor, PW).unwrap();
        assert_eq!(login(&s, "gale", PW, None).status, 200);
        assert_eq!(login(&s, "mallory", "Secret-Guess-1234", None).status, 401);
        std::thread::sleep(std::time::Duration::from_millis(1300));
        assert_eq!(login(&s, "gale", "Secret-Guess-5678", None).status, 401);
        std::thread::sleep(std::time::Duration::from_millis(800));
        let leaves = s.leaves();
        let logins: Vec<(String, String)> = leaves
            .iter()
            .filter(|l| l["action"] == "auth.login")
            .map(|l| {
                (
                    l["actor"]["id"].as_str().unwrap().to_string(),
                    l["result"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            logins.contains(&("user:gale".into(), "success".into())),
            "{logins:?}"
        );
        assert!(
            logins.contains(&("user:mallory".into(), "failure".into())),
            "{logins:?}"
        );
        assert!(
            logins.contains(&("user:gale".into(), "failure".into())),
            "{logins:?}"
        );
        assert!(!logins.iter().any(|(a, _)| a == "anonymous"), "{logins:?}");
        let all = serde_json::to_string(&leaves).unwrap();
        assert!(
            !all.contains("Secret-Guess") && !all.contains(PW),
            "a password reached the ledger"
        );
    }
);

on_both!(
    failed_authentications_are_rate_limited_and_aggregated,
    |kind| {
        let s = Server::start_with(kind, |t| {
            *t = t
                .replace("failure_window_secs = 60", "failure_window_secs = 2")
                .replace("failures_per_window = 300", "failures_per_window = 100");
        });
        let before = s.store.head().unwrap().size;
        const N: usize = 3000;
        let started = std::time::Instant::now();
        let (mut unauthorized, mut limited) = (0, 0);
        let results: Vec<(u16, Option<String>)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    sc.spawn(|| {
                        let agent = agent();
                        (0..N / 4)
                            .map(|_| {
                                let mut r = agent
                                    .get(format!("http://{}/api/compliance/status", s.addr))
                                    .header("Authorization", "Bearer vch_not-a-real-token")
                                    .call()
                                    .unwrap();
                                let _ = r.body_mut().read_to_vec();
                                (
                                    r.status().as_u16(),
                                    r.headers()
                                        .get("retry-after")
                                        .map(|v| v.to_str().unwrap().to_string()),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let elapsed = started.elapsed().as_secs_f64();
        for (status, retry) in &results {
            match status {
                401 => unauthorized += 1,
                429 => {
                    limited += 1;
                    assert!(retry
                        .as_deref()
                        .is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(unauthorized + limited, N);
        assert!(
            limited > 0,
            "3000 failures in {elapsed:.1}s must hit the limit of 100 per 2 s"
        );
        // Let the last window close and its count be written.
        std::thread::sleep(std::time::Duration::from_millis(3500));
        let rows: Vec<Value> = s
            .leaves()
            .into_iter()
            .skip(before as usize)
            .filter(|l| l["category"] == "authentication" && l["result"] == "failure")
            .collect();
        let windows = (elapsed / 2.0).ceil() as usize + 2;
        assert!(
            rows.len() <= 2 * windows,
            "{} ledger rows for {N} failures over {elapsed:.1}s",
            rows.len()
        );
        let counted: u64 = rows
            .iter()
            .map(|r| r["metadata"]["count"].as_u64().unwrap_or(1))
            .sum();
        assert_eq!(counted, N as u64, "every failure is counted: {rows:?}");
        assert!(rows.iter().any(|r| r["action"] == "auth.failures"
            && r["metadata"]["rate_limited"].as_u64().unwrap_or(0) > 0));
    }
);

on_both!(jwt_nbf_and_errors_without_library_internals, |kind| {
    let s = Server::start(kind);
    let exp = now() + 600;
    let early = jwt(
        json!({"sub": "a", "role": "ADMIN", "exp": exp, "nbf": now() + 300}),
        JWT_SECRET,
    );
    let r = call(&s, "GET", "/api/compliance/auth/whoami", Some(&early), None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["error"]["message"],
        "the token is not valid yet (nbf)"
    );
    for bad in [
        "a.b.c",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
        "e30.e30.e30",
    ] {
        let r = call(&s, "GET", "/api/compliance/auth/whoami", Some(bad), None);
        assert_eq!(r.status, 401, "{bad}");
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        for leak in [
            "Base64", "base64", "JSON", "json", "line", "column", "Utf8", "Error(",
        ] {
            assert!(!m.contains(leak), "{bad}: `{m}` shows library internals");
        }
    }
});

on_both!(
    serve_refuses_to_start_without_the_jwt_secret_or_key,
    |kind| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let d = Data::new(kind, |t| {
            *t = t
                .replace("jwt_algorithm = \"\"", "jwt_algorithm = \"HS256\"")
                .replace(
                    "jwt_secret_env = \"VOUCH_JWT_SECRET\"",
                    "jwt_secret_env = \"VOUCH_TEST_NO_SUCH_SECRET\"",
                )
        });
        let e = rt
            .block_on(vouch_server::serve(
                d.config(),
                "127.0.0.1:0".parse().unwrap(),
                None,
            ))
            .unwrap_err()
            .to_string();
        assert!(e.contains("VOUCH_TEST_NO_SUCH_SECRET"), "{e}");
        let d = Data::new(kind, |t| {
            *t = t
                .replace("jwt_algorithm = \"\"", "jwt_algorithm = \"ES256\"")
                .replace("jwt_public_key = \"\"", "jwt_public_key = \"missing.pem\"")
        });
        let e = rt
            .block_on(vouch_server::serve(
                d.config(),
                "127.0.0.1:0".parse().unwrap(),
                None,
            ))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }
);

#[test]
fn password_policy() {
    use vouch_server::auth::password_policy as p;
    assert!(p("bob", "Sh0rt!").unwrap_err().contains("12"));
    assert!(p("bob", "alllowercaseletters")
        .unwrap_err()
        .contains("three"));
    assert!(p("bob", "ALLUPPER AND SPACES").is_err());
    assert!(p("robert", "Robert's password 1")
        .unwrap_err()
        .contains("username"));
    assert!(p("bob", "Correct horse battery 9").is_ok());
    assert!(p("bob", "correct-horse-battery-9").is_ok());
}
