//! The compliance dashboard at /admin/compliance (issue 17), on SQLite and PostgreSQL,
//! over real loopback HTTP: a local user logs in with the form and gets the API's
//! session cookie; every page answers 200 with its content and the strict CSP; without a
//! session a browser is sent to the login page (API clients keep the JSON 401); an
//! auditor (token login) sees no action form and is refused by the roles matrix if
//! they post one; a form without (or with a wrong) CSRF token is refused and changes
//! nothing; a finding updated through the form shows in GET /findings and the ledger.

use crate::common::*;
use serde_json::{json, Value};
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

const PASSWORD: &str = "correct horse battery staple 42";

fn server(kind: Kind) -> Server {
    Server::on(
        Data::new(kind, |t| {
            t.push('\n');
            t.push_str(CATALOG)
        }),
        None,
    )
}

/// A request that does not follow redirects, with these headers and an optional body.
fn req(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut r = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", s.addr));
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let mut resp = match body {
        Some(b) => agent.run(r.body(b.to_string()).unwrap()),
        None => agent.run(r.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Resp {
        status: resp.status().as_u16(),
        body: resp.body_mut().read_to_vec().unwrap(),
        headers,
    }
}

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A browser GET with a session cookie.
fn page(s: &Server, path: &str, cookie: &str) -> Resp {
    req(
        s,
        "GET",
        path,
        &[("Accept", HTML.into()), ("Cookie", cookie.into())],
        None,
    )
}

/// A browser form POST with a session cookie.
fn post(s: &Server, path: &str, cookie: &str, form: &str) -> Resp {
    req(
        s,
        "POST",
        path,
        &[
            ("Accept", HTML.into()),
            ("Cookie", cookie.into()),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        Some(form),
    )
}

/// Self-audit events are appended in the background: wait for one (at most 10 s).
fn eventually(s: &Server, what: &str, f: impl Fn(&Value) -> bool) {
    for _ in 0..100 {
        if s.leaves().iter().any(&f) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no ledger event: {what}");
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `vouch_session=…` from a response's Set-Cookie, checking its attributes.
fn session_cookie(r: &Resp) -> String {
    let c = r
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no Set-Cookie: {} {}", r.status, r.text()));
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(c.contains(attr), "{c} lacks {attr}");
    }
    c.split(';').next().unwrap().to_string()
}

/// Log a local user in through the dashboard's form.
fn login(s: &Server, user: &str) -> String {
    let r = req(
        s,
        "POST",
        "/admin/compliance/login",
        &[
            ("Accept", HTML.into()),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        Some(&format!(
            "username={user}&password={}&totp_code=&next=%2Fadmin%2Fcompliance%2Ffindings",
            enc(PASSWORD)
        )),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/admin/compliance/findings"));
    session_cookie(&r)
}

/// The CSRF token a page's forms carry.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..html[at..].find('"').unwrap() + at].to_string()
}

fn assert_headers(r: &Resp, what: &str) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    // Nothing inline that the CSP would block (and that would hide a missing asset).
    let body = r.text();
    assert!(!body.contains("<script"), "{what} has a script");
    assert!(!body.contains(" style=\""), "{what} has an inline style");
    // A table's scroll box is a named keyboard stop (axe: scrollable-region-focusable).
    assert_eq!(
        body.matches("<div class=\"scroll\"").count(),
        body.matches("<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"")
            .count(),
        "{what}: a scroll box without tabindex, role and name"
    );
}

fn open_finding(s: &Server, admin: &str) -> String {
    let r = call(
        s,
        "POST",
        "/api/compliance/findings",
        Some(admin),
        Some(&json!({"title": "MFA <not> enforced & \"bypassed\"", "severity": "high", "control_id": "REV-1", "due_date": "2020-01-31"}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

on_both!(dashboard_pages_for_a_session, |kind| {
    let s = server(kind);
    vouch_server::auth::add_user(&s.store, "officer", Role::ComplianceOfficer, PASSWORD).unwrap();
    let admin = token(&s, Role::Admin, None);
    let fid = open_finding(&s, &admin);
    let cookie = login(&s, "officer");

    // The overview matches GET /status for the same period.
    let status = call(
        &s,
        "GET",
        "/api/compliance/status?period=last-month",
        Some(&admin),
        None,
    )
    .json();
    let r = page(&s, "/admin/compliance", &cookie);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_headers(&r, "overview");
    let body = r.text();
    assert!(
        body.contains(&format!(
            "data-testid=\"overall-status\" data-status=\"{}\"",
            status["overall_status"].as_str().unwrap()
        )),
        "{body}"
    );
    assert!(
        body.contains("data-criterion=\"CC6.2\" data-status=\"no_evidence\""),
        "{body}"
    );
    assert!(body.contains("data-testid=\"category-security\""));
    // The finding: escaped, overdue, high.
    assert!(
        body.contains(&format!("data-finding-id=\"{fid}\" data-overdue=\"true\"")),
        "{body}"
    );
    assert!(
        body.contains("MFA &lt;not&gt; enforced &amp; &quot;bypassed&quot;"),
        "{body}"
    );
    assert!(!body.contains("MFA <not>"));
    assert!(
        body.contains("data-testid=\"severity-high\" data-count=\"1\""),
        "{body}"
    );
    assert!(body.contains("data-testid=\"tree-size\""));
    assert!(body.contains("data-testid=\"events-per-day\""));
    assert!(
        body.contains("data-evidence-id=\"review\" data-state=\"missing\""),
        "{body}"
    );
    assert!(body.contains("data-job=\"verify-ledger\""));
    assert!(
        body.contains("data-action=\"run-checks\""),
        "an officer may run checks"
    );

    for (path, expect) in [
        (
            "/admin/compliance?period=2026-Q3",
            "Compliance status for 2026-Q3",
        ),
        (
            "/admin/compliance/effectiveness",
            "data-testid=\"effectiveness-grid\"",
        ),
        (
            "/admin/compliance/effectiveness",
            "data-testid=\"effectiveness-row\" data-control=\"REV-1\"",
        ),
        ("/admin/compliance/timeline", "data-testid=\"timeline\""),
        ("/admin/compliance/timeline", "data-kind=\"audit-end\""),
        (
            "/admin/compliance/findings",
            &format!("data-finding-id=\"{fid}\""),
        ),
        (
            &format!("/admin/compliance/findings/{fid}"),
            "data-testid=\"finding-history\" data-count=\"1\"",
        ),
        ("/admin/compliance/packets", "data-testid=\"packets\""),
        ("/admin/compliance/criteria/CC6.2", "data-control=\"REV-1\""),
        (
            "/admin/compliance/controls/REV-1",
            "data-testid=\"control-status\"",
        ),
        (
            "/admin/compliance/controls/REV-1",
            &format!("data-finding-id=\"{fid}\""),
        ),
    ] {
        let r = page(&s, path, &cookie);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_headers(&r, path);
        assert!(
            r.text().contains(expect),
            "{path} lacks {expect}: {}",
            r.text()
        );
    }
    // Unknown ids are 404 pages, bad periods 400 — never 500.
    assert_eq!(
        page(&s, "/admin/compliance/criteria/XX9.9", &cookie).status,
        404
    );
    assert_eq!(
        page(&s, "/admin/compliance/controls/nope", &cookie).status,
        404
    );
    assert_eq!(
        page(&s, "/admin/compliance/evidence/0000000000000000", &cookie).status,
        404
    );
    assert_eq!(
        page(&s, "/admin/compliance?period=nonsense", &cookie).status,
        400
    );
    // Assets are embedded and public.
    let css = req(
        &s,
        "GET",
        "/admin/compliance/assets/dashboard.css",
        &[],
        None,
    );
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    let icon = req(&s, "GET", "/admin/compliance/assets/favicon.svg", &[], None);
    assert_eq!(icon.status, 200);
    assert!(icon.text().starts_with("<svg"));

    // Logging out (with the CSRF token) ends the session.
    let html = page(&s, "/admin/compliance", &cookie).text();
    let r = post(
        &s,
        "/admin/compliance/logout",
        &cookie,
        &format!("csrf={}", enc(&csrf(&html))),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let r = page(&s, "/admin/compliance", &cookie);
    assert_eq!(r.status, 303);
});

on_both!(dashboard_without_a_session_goes_to_login, |kind| {
    let s = server(kind);
    for path in [
        "/admin/compliance",
        "/admin/compliance/findings?status=open",
        "/admin/compliance/effectiveness",
    ] {
        let r = req(&s, "GET", path, &[("Accept", HTML.into())], None);
        assert_eq!(r.status, 303, "{path}");
        let loc = r.header("location").unwrap();
        assert!(
            loc.starts_with("/admin/compliance/login?next=%2Fadmin%2Fcompliance"),
            "{loc}"
        );
        assert_headers(&r, path);
        // The login page it names answers, with the next target kept (escaped).
        let l = req(&s, "GET", loc, &[("Accept", HTML.into())], None);
        assert_eq!(l.status, 200);
        assert_headers(&l, "login");
        assert!(
            l.text().contains("name=\"next\" value=\"/admin/compliance"),
            "{}",
            l.text()
        );
        assert!(l.text().contains("<label for=\"password\">"));
        // An API client keeps the JSON 401.
        let j = req(
            &s,
            "GET",
            path,
            &[("Accept", "application/json".into())],
            None,
        );
        assert_eq!(j.status, 401);
        assert!(j.json()["error"]["code"].is_string());
    }
    // A bad password re-renders the form with 401 and sets no cookie.
    vouch_server::auth::add_user(&s.store, "officer", Role::ComplianceOfficer, PASSWORD).unwrap();
    let r = req(
        &s,
        "POST",
        "/admin/compliance/login",
        &[
            ("Accept", HTML.into()),
            ("Content-Type", "application/x-www-form-urlencoded".into()),
        ],
        Some("username=officer&password=wrong-password-123"),
    );
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert!(r.text().contains("data-testid=\"login-error\""));
    // A login naming another site as next lands on the dashboard.
    let r = req(
        &s,
        "POST",
        "/admin/compliance/login",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        Some(&format!(
            "username=officer&password={}&next=https%3A%2F%2Fevil.example%2F",
            enc(PASSWORD)
        )),
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/compliance"));
    // Login CSRF: a log-in form (password or token) posted from another site is refused
    // and sets no cookie; the same form from the dashboard's own origin works.
    let form = format!("username=officer&password={}", enc(PASSWORD));
    for (path, body) in [
        ("/admin/compliance/login", form.as_str()),
        ("/admin/compliance/token-login", "token=vch_whatever"),
    ] {
        for cross in [
            ("Origin", "https://evil.example".to_string()),
            ("Sec-Fetch-Site", "cross-site".to_string()),
            ("Origin", "null".to_string()),
        ] {
            let r = req(
                &s,
                "POST",
                path,
                &[
                    ("Content-Type", "application/x-www-form-urlencoded".into()),
                    cross.clone(),
                ],
                Some(body),
            );
            assert_eq!(r.status, 403, "{path} with {cross:?}: {}", r.text());
            assert!(r.header("set-cookie").is_none(), "{path} with {cross:?}");
        }
    }
    let r = req(
        &s,
        "POST",
        "/admin/compliance/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Origin", format!("http://{}", s.addr)),
            ("Sec-Fetch-Site", "same-origin".into()),
        ],
        Some(&form),
    );
    assert_eq!(r.status, 303, "same-origin login: {}", r.text());
    // The login is in the ledger like the API's (failures after the first of a window
    // are aggregated by the limiter, as for the API: the success is checked here).
    eventually(&s, "successful login", |l| {
        l["action"] == "auth.login"
            && l["result"] == "success"
            && l["actor"]["id"] == "user:officer"
    });
});

on_both!(dashboard_auditor_sees_no_action_forms, |kind| {
    let s = server(kind);
    vouch_server::auth::add_user(&s.store, "officer", Role::ComplianceOfficer, PASSWORD).unwrap();
    let admin = token(&s, Role::Admin, None);
    let fid = open_finding(&s, &admin);
    let auditor = token(&s, Role::Auditor, None);
    // Token login: the pasted token becomes the HttpOnly session cookie.
    let r = req(
        &s,
        "POST",
        "/admin/compliance/token-login",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        Some(&format!(
            "token={}&next=%2Fadmin%2Fcompliance",
            enc(&auditor)
        )),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = session_cookie(&r);
    let pages = [
        "/admin/compliance".to_string(),
        "/admin/compliance/timeline".into(),
        "/admin/compliance/findings".into(),
        format!("/admin/compliance/findings/{fid}"),
        "/admin/compliance/controls/REV-1".into(),
        "/admin/compliance/effectiveness".into(),
        "/admin/compliance/packets".into(),
    ];
    for p in &pages {
        let r = page(&s, p, &cookie);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        let body = r.text();
        assert!(
            !body.contains("data-action="),
            "{p} shows an action form to an auditor"
        );
        assert!(
            !body.contains("method=\"post\" action=\"/admin/compliance/findings"),
            "{p}"
        );
        assert!(body.contains("data-testid=\"who\">token:auditor-"), "{p}");
    }
    // The officer sees the update form on the same finding.
    let officer = login(&s, "officer");
    let body = page(&s, &format!("/admin/compliance/findings/{fid}"), &officer).text();
    assert!(body.contains("data-action=\"update-finding\""), "{body}");
    // An auditor posting the form anyway (valid CSRF token) is refused by the roles
    // matrix (403 page) and nothing changes.
    let html = page(&s, "/admin/compliance", &cookie).text();
    let r = post(
        &s,
        &format!("/admin/compliance/findings/{fid}"),
        &cookie,
        &format!("csrf={}&status=resolved", enc(&csrf(&html))),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let f = call(&s, "GET", "/api/compliance/findings", Some(&admin), None).json();
    assert_eq!(f[0]["status"], "open");
    // A wrong or ingest-only token gets no session.
    let r = req(
        &s,
        "POST",
        "/admin/compliance/token-login",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        Some("token=vch_nope"),
    );
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    let ingest = token(&s, Role::Ingest, None);
    let r = req(
        &s,
        "POST",
        "/admin/compliance/token-login",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        Some(&format!("token={}", enc(&ingest))),
    );
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());
});

/// POST the token-login form with `token`.
fn token_login(s: &Server, token: &str) -> Resp {
    req(
        s,
        "POST",
        "/admin/compliance/token-login",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        Some(&format!("token={}&next=%2Fadmin%2Fcompliance", enc(token))),
    )
}

// The pasted token is exchanged for a server-side session: the cookie carries only a
// session id (never the token, which would otherwise sit in the browser's cookie jar
// and every request's headers), the session works for pages and the API, logging out
// ends it, and revoking the token ends every session made from it.
on_both!(dashboard_token_login_is_a_server_side_session, |kind| {
    let s = server(kind);
    let auditor = token(&s, Role::Auditor, None);
    let secret = auditor.strip_prefix("vch_").unwrap();
    let r = token_login(&s, &auditor);
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(!set.contains(secret), "the token is in the cookie: {set}");
    let cookie = session_cookie(&r);
    assert!(cookie.starts_with("vouch_session=vss_"), "{cookie}");
    let home = page(&s, "/admin/compliance", &cookie);
    assert_eq!(home.status, 200, "{}", home.text());
    assert!(home.text().contains("data-testid=\"who\">token:auditor-"));
    assert!(!home.text().contains(secret), "the token is in the page");
    // The session is the token's: the API sees the token's actor and role.
    let me = call_h(
        &s,
        "GET",
        "/api/compliance/auth/whoami",
        &[("Cookie", cookie.clone())],
        None,
    );
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["role"], "auditor", "{}", me.text());
    assert!(me.json()["actor"]
        .as_str()
        .unwrap()
        .starts_with("token:auditor-"));
    // Logging out ends this session (the token itself stays valid).
    let r = post(
        &s,
        "/admin/compliance/logout",
        &cookie,
        &format!("csrf={}", enc(&csrf(&home.text()))),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(page(&s, "/admin/compliance", &cookie).status, 303);
    // Two sessions from the same token; revoking the token ends both.
    let a = session_cookie(&token_login(&s, &auditor));
    let b = session_cookie(&token_login(&s, &auditor));
    assert_ne!(a, b);
    for c in [&a, &b] {
        assert_eq!(page(&s, "/admin/compliance", c).status, 200);
    }
    let name = vouch_server::auth::list_tokens(&s.store)
        .unwrap()
        .iter()
        .find(|t| t["role"] == "auditor")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .unwrap();
    vouch_server::auth::revoke_token(&s.store, &name).unwrap();
    for c in [&a, &b] {
        let r = page(&s, "/admin/compliance", c);
        assert_eq!(r.status, 303, "a revoked token's session still works");
        assert!(r
            .header("location")
            .unwrap()
            .starts_with("/admin/compliance/login"));
    }
    // A token that expires soon gives a session no longer than the token.
    let short = token(
        &s,
        Role::Auditor,
        Some(chrono::Utc::now() + chrono::Duration::seconds(2)),
    );
    let r = token_login(&s, &short);
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").unwrap().to_string();
    let max_age: u64 = set
        .split(';')
        .find_map(|a| a.trim().strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 2, "{set}");
    let c = session_cookie(&r);
    assert_eq!(page(&s, "/admin/compliance", &c).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(page(&s, "/admin/compliance", &c).status, 303);
});

on_both!(
    dashboard_forms_need_the_csrf_token_and_reach_the_ledger,
    |kind| {
        let s = server(kind);
        vouch_server::auth::add_user(&s.store, "officer", Role::ComplianceOfficer, PASSWORD)
            .unwrap();
        vouch_server::auth::add_user(&s.store, "other", Role::ComplianceOfficer, PASSWORD).unwrap();
        let admin = token(&s, Role::Admin, None);
        let fid = open_finding(&s, &admin);
        let cookie = login(&s, "officer");
        let html = page(&s, &format!("/admin/compliance/findings/{fid}"), &cookie).text();
        let good = csrf(&html);
        let other = login(&s, "other");
        let foreign = csrf(&page(&s, "/admin/compliance", &other).text());
        assert_ne!(good, foreign, "tokens are per session");
        let path = format!("/admin/compliance/findings/{fid}");
        let form = "status=accepted&owner=alice%40acme.example&note=risk+accepted+until+Q1";
        // Without a token, with a wrong one, with another session's: refused, unchanged.
        for bad in [
            form.to_string(),
            format!("csrf=AAAA&{form}"),
            format!("csrf={}&{form}", enc(&foreign)),
            format!("csrf=&{form}"),
        ] {
            let r = post(&s, &path, &cookie, &bad);
            assert_eq!(r.status, 400, "{bad}: {}", r.text());
            assert!(
                r.text().contains("data-code=\"bad_request\""),
                "{}",
                r.text()
            );
            assert!(r.text().contains("CSRF"));
        }
        let before = call(&s, "GET", "/api/compliance/findings", Some(&admin), None).json();
        assert_eq!(before[0]["status"], "open");
        assert!(!s.leaves().iter().any(|l| l["action"] == "finding.updated"));
        // With the right token: 303 to the finding, the change in GET /findings and the ledger.
        let r = post(&s, &path, &cookie, &format!("csrf={}&{form}", enc(&good)));
        assert_eq!(r.status, 303, "{}", r.text());
        assert_eq!(
            r.header("location").unwrap(),
            format!("/admin/compliance/findings/{fid}?ok=finding-updated")
        );
        let after: Value = call(
            &s,
            "GET",
            "/api/compliance/findings?status=accepted",
            Some(&admin),
            None,
        )
        .json();
        assert_eq!(after.as_array().unwrap().len(), 1, "{after}");
        assert_eq!(after[0]["id"], fid.as_str());
        assert_eq!(after[0]["owner"], "alice@acme.example");
        let leaves = s.leaves();
        let ev = leaves
            .iter()
            .find(|l| {
                l["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("finding."))
                    && l["action"] != "finding.opened"
                    && l.to_string().contains(&fid)
            })
            .unwrap_or_else(|| panic!("no finding event in the ledger"));
        assert_eq!(ev["actor"]["id"], "user:officer", "{ev}");
        // The guard's own record of the form post, as for the API.
        eventually(&s, "the form post's self-audit", |l| {
            l["action"] == "api.POST /admin/compliance/findings/{id}" && l["result"] == "success"
        });
        // The page shows the new version and a fixed confirmation.
        let body = page(
            &s,
            &format!("/admin/compliance/findings/{fid}?ok=finding-updated"),
            &cookie,
        )
        .text();
        assert!(
            body.contains("data-testid=\"finding-history\" data-count=\"2\""),
            "{body}"
        );
        assert!(body.contains("data-testid=\"flash\""));
        // Running checks through the form works the same way.
        let r = post(
            &s,
            "/admin/compliance/checks/run",
            &cookie,
            &format!("csrf={}&period=2026-10", enc(&good)),
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let r = post(
            &s,
            "/admin/compliance/checks/run",
            &cookie,
            "period=2026-10",
        );
        assert_eq!(r.status, 400);
    }
);

// The evidence page's offline-verification hint: its key command, run by the real shell
// and curl against this server, prints the log's verifier key (the one `vouch keys show`
// prints), not a line of the packet-signing PEM that is the route's body.
on_both!(dashboard_verify_hint_command_prints_the_log_key, |kind| {
    let s = server(kind);
    let cmd = vouch_server::dashboard::drill::VERIFIER_KEY_CMD
        .replace("{BASE}", &format!("http://{}", s.addr));
    let out = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd}: {out:?}");
    let got = String::from_utf8(out.stdout).unwrap();
    let want = vouch_engine::Keys::load(&s.data.config())
        .unwrap()
        .log_verifier()
        .to_vkey();
    assert_eq!(got.trim_end_matches('\n'), want, "{cmd}");
});
