//! Logging in and out of the dashboard.
//!
//! * A local user: username, password and (once enrolled) a TOTP code, checked by the
//!   API's own login ([`crate::handlers::session::login`]: lockout, session limits); the
//!   session is the API's `vouch_session` cookie (HttpOnly, Secure, SameSite=Strict).
//! * An auditor with an API token (or a JWT): the pasted token is checked like an
//!   `Authorization: Bearer` header and, if its role may read evidence, exchanged for a
//!   server-side session ([`crate::auth::start_token_session`]) in the same cookie. The
//!   cookie holds only the session's id, never the token; the session ends after
//!   `session_hours` (sooner if the token expires), at log-out, or when the token is
//!   revoked. Sending `Authorization: Bearer` directly works too.
//!
//! Both count failures in the API's limiter and write the same self-audit events as the
//! API's login (the guard does not see these public routes' outcomes).

use super::{esc, html, page, see_other, DashError, Form, ROOT};
use crate::error::ApiError;
use crate::extract::{Caller, JsonBody};
use crate::handlers::session::{AccountLocked, LoginAttempt};
use crate::roles::{self, Perm};
use crate::self_audit::audit;
use crate::App;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use std::net::SocketAddr;

/// A `next` target only if it is a dashboard path (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == ROOT
                || n.starts_with(&format!("{ROOT}/"))
                || n.starts_with(&format!("{ROOT}?")))
                && !n.contains(['\\', '\r', '\n'])
                && !n.starts_with(&format!("{ROOT}/login"))
                && !n.starts_with(&format!("{ROOT}/logout")) =>
        {
            n.to_string()
        }
        _ => ROOT.to_string(),
    }
}

fn form(next: &str, message: Option<&str>, ok: Option<&str>) -> String {
    let mut h = String::new();
    if let Some(m) = message {
        h.push_str(&format!(
            "<p class=\"error\" role=\"alert\" data-testid=\"login-error\">{}</p>",
            esc(m)
        ));
    }
    let _ = ok;
    h.push_str(&format!(
        "<div class=\"login\">\
<section aria-labelledby=\"h-user\" class=\"card\"><h2 id=\"h-user\">Local user</h2>\
<form method=\"post\" action=\"{ROOT}/login\" data-testid=\"login-form\">\
<input type=\"hidden\" name=\"next\" value=\"{n}\">\
<p><label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required></p>\
<p><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\
<p><label for=\"totp_code\">Authenticator code <span class=\"hint\">(once you have enrolled TOTP)</span></label>\
<input id=\"totp_code\" name=\"totp_code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" autocomplete=\"one-time-code\"></p>\
<p><button type=\"submit\">Log in</button></p></form></section>\
<section aria-labelledby=\"h-token\" class=\"card\"><h2 id=\"h-token\">Auditor token</h2>\
<p class=\"hint\">Paste the API token (vch_…) or JWT you were given; it is exchanged for a session and not kept in the browser.</p>\
<form method=\"post\" action=\"{ROOT}/token-login\" data-testid=\"token-login-form\">\
<input type=\"hidden\" name=\"next\" value=\"{n}\">\
<p><label for=\"token\">Token</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required></p>\
<p><button type=\"submit\">Use token</button></p></form></section></div>",
        n = esc(next)
    ));
    h
}

/// `GET /admin/compliance/login`.
pub async fn login_page(uri: Uri) -> Response {
    let q = super::query(&uri);
    let next = safe_next(q.get("next").map(String::as_str));
    let ok = q.get("ok").map(String::as_str);
    html(
        StatusCode::OK,
        page("Log in", None, "", ok, &form(&next, None, ok)),
    )
}

fn refused(status: StatusCode, next: &str, message: &str) -> Response {
    html(
        status,
        page("Log in", None, "", None, &form(next, Some(message), None)),
    )
}

fn too_many(secs: u64) -> Response {
    let mut r = refused(
        StatusCode::TOO_MANY_REQUESTS,
        ROOT,
        &format!("Too many failed logins from this address; try again in {secs} s."),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// The failed-login limiter, before a log-in is tried: `Some(429 page)` when this
/// address has failed too often (the first refusal of a window is recorded).
fn limited(app: &App, ip: &str, resource: &str) -> Option<Response> {
    let secs = app.limiter.retry_after(ip)?;
    if app.limiter.record(ip, None, true) {
        audit(
            app,
            "anonymous",
            ip,
            "auth.login",
            "session",
            resource,
            "failure",
            "authentication",
            429,
        );
    }
    Some(too_many(secs))
}

/// A failed log-in: counted by the limiter, recorded unless aggregated into its count.
fn failed(app: &App, ip: &str, tried: Option<&str>, actor: &str, resource: &str, status: u16) {
    if app.limiter.record(ip, tried, false) {
        audit(
            app,
            actor,
            ip,
            "auth.login",
            "session",
            resource,
            "failure",
            "authentication",
            status,
        );
    }
}

/// A login form posted from another site (login CSRF: an attacker logging the victim's
/// browser into the attacker's account or token). Browsers say so in `Sec-Fetch-Site`;
/// older ones send an `Origin` whose host is not ours. A request with neither (curl, a
/// test) is not a browser acting for another site.
fn cross_site(headers: &HeaderMap) -> bool {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (text("origin"), text("host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// `POST /admin/compliance/login`: the API's login with the form's fields; on success
/// its session cookie and a redirect to `next`.
pub async fn login_submit(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if cross_site(&headers) {
        return refused(
            StatusCode::FORBIDDEN,
            ROOT,
            "This log-in form was sent from another site; open the dashboard and log in there.",
        );
    }
    let ip = peer.ip().to_string();
    let f = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return super::error_page(&e),
    };
    let next = safe_next(f.get("next").as_deref());
    let (Some(user), Some(pw)) = (f.get("username"), f.0.get("password").cloned()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            &next,
            "Enter your username and password.",
        );
    };
    let resource = format!("{ROOT}/login");
    if let Some(r) = limited(&app, &ip, &resource) {
        return r;
    }
    let resp = crate::handlers::session::login(
        State(app.clone()),
        Ok(JsonBody(json!({
            "username": user, "password": pw, "totp_code": f.get("totp_code"),
        }))),
    )
    .await;
    let tried = resp.extensions().get::<LoginAttempt>().map(|a| a.0.clone());
    let actor = tried
        .as_deref()
        .map(|u| format!("user:{u}"))
        .unwrap_or_else(|| "anonymous".into());
    let status = resp.status();
    if resp.extensions().get::<AccountLocked>().is_some() {
        audit(
            &app,
            &actor,
            &ip,
            "auth.account_locked",
            "user",
            &actor,
            "failure",
            "authentication",
            status.as_u16(),
        );
    }
    if status.is_success() {
        audit(
            &app,
            &actor,
            &ip,
            "auth.login",
            "session",
            &resource,
            "success",
            "authentication",
            status.as_u16(),
        );
        let mut r = see_other(&next);
        if let Some(c) = resp.headers().get(header::SET_COOKIE) {
            r.headers_mut().insert(header::SET_COOKIE, c.clone());
        }
        return r;
    }
    failed(
        &app,
        &ip,
        tried.as_deref(),
        &actor,
        &resource,
        status.as_u16(),
    );
    if status == StatusCode::UNAUTHORIZED {
        refused(
            StatusCode::UNAUTHORIZED,
            &next,
            "The username, password or authenticator code is not right (or the account is locked).",
        )
    } else {
        refused(
            status,
            &next,
            "The login could not be completed; try again.",
        )
    }
}

/// `POST /admin/compliance/token-login`: an API token or JWT pasted by an auditor,
/// checked like a bearer header, exchanged for a server-side session whose id (never
/// the token) goes into the session cookie.
pub async fn token_login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if cross_site(&headers) {
        return refused(
            StatusCode::FORBIDDEN,
            ROOT,
            "This log-in form was sent from another site; open the dashboard and log in there.",
        );
    }
    let ip = peer.ip().to_string();
    let f = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return super::error_page(&e),
    };
    let next = safe_next(f.get("next").as_deref());
    let Some(token) = f.get("token") else {
        return refused(StatusCode::BAD_REQUEST, &next, "Paste your token.");
    };
    let resource = format!("{ROOT}/token-login");
    if let Some(r) = limited(&app, &ip, &resource) {
        return r;
    }
    let store = app.store.clone();
    let settings = app.config.settings.auth.clone();
    let dir = app
        .config
        .file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    // Check the token and, if its role may read the dashboard, start the session; the
    // token is dropped here and kept nowhere.
    let who = tokio::task::spawn_blocking(move || {
        let b = crate::auth::check_bearer(&store, &settings, &dir, &token)?;
        if !roles::allows(b.principal.role, Perm::ReadEvidence) {
            return Ok((b.principal, None));
        }
        let s = crate::auth::start_token_session(&store, &settings, &b)?;
        Ok::<_, ApiError>((b.principal, Some(s)))
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::internal(e)));
    match who {
        Ok((p, Some((session, expires)))) => {
            audit(
                &app,
                &p.actor,
                &ip,
                "auth.login",
                "session",
                &resource,
                "success",
                "authentication",
                200,
            );
            let max_age = (expires - chrono::Utc::now()).num_seconds().max(0);
            let mut r = see_other(&next);
            if let Ok(c) = HeaderValue::from_str(&format!(
                "vouch_session={session}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}"
            )) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r
        }
        Ok((p, None)) => {
            audit(
                &app,
                &p.actor,
                &ip,
                "auth.login",
                "session",
                &resource,
                "denied",
                "authorization",
                403,
            );
            refused(
                StatusCode::FORBIDDEN,
                &next,
                "This token's role may not read the dashboard.",
            )
        }
        Err(e) if e.status.is_server_error() => super::error_page(&e),
        Err(_) => {
            failed(&app, &ip, None, "anonymous", &resource, 401);
            refused(
                StatusCode::UNAUTHORIZED,
                &next,
                "That token is not valid (unknown, revoked or expired).",
            )
        }
    }
}

/// `POST /admin/compliance/logout`: end the session (a local user's or one made from a
/// token) and go to the login page.
pub async fn logout(
    State(app): State<App>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = Form::parse(&body)?;
    f.check_csrf(&headers)?;
    if let Some(session) = who.session.clone() {
        let store = app.store.clone();
        super::blocking(move || crate::auth::logout(&store, &session)).await?;
    }
    let mut r = see_other(&format!("{ROOT}/login?ok=logged-out"));
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "vouch_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
        ),
    );
    Ok(r)
}

/// What `vouch demo` prints to log in to the dashboard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoLogin {
    /// The local user (a compliance officer).
    pub username: String,
    /// Its password, when this call created the user (`None`: it existed already).
    pub password: Option<String>,
    /// A read-only auditor API token, created now.
    pub auditor_token: String,
}

/// The demo's dashboard logins: the local user `officer` (compliance officer) with a
/// random password if no such user exists, and a new auditor token. The caller records
/// the creation in the ledger.
pub fn demo_login(store: &vouch_store::Store) -> Result<DemoLogin, String> {
    use rand::Rng;
    let username = "officer";
    let exists = !store
        .query(
            "SELECT id FROM users WHERE username = $1",
            &[username.into()],
        )
        .map_err(|e| e.to_string())?
        .is_empty();
    let password = if exists {
        None
    } else {
        // 20 characters from an unambiguous alphabet: ~110 bits. The policy wants three
        // character classes, which a random draw lacks about one time in twenty (the
        // demo then failed): draw again until lower case, upper case and a digit are in.
        const A: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut rng = rand::thread_rng();
        let pw = loop {
            let pw: String = (0..20)
                .map(|_| A[rng.gen_range(0..A.len())] as char)
                .collect();
            if pw.chars().any(|c| c.is_ascii_lowercase())
                && pw.chars().any(|c| c.is_ascii_uppercase())
                && pw.chars().any(|c| c.is_ascii_digit())
            {
                break pw;
            }
        };
        crate::auth::add_user(store, username, roles::Role::ComplianceOfficer, &pw)?;
        Some(pw)
    };
    let name = format!(
        "demo-auditor-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let (_, auditor_token) = crate::auth::create_token(store, &name, roles::Role::Auditor, None)?;
    Ok(DemoLogin {
        username: username.into(),
        password,
        auditor_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(
            safe_next(Some("/admin/compliance/findings?status=open")),
            "/admin/compliance/findings?status=open"
        );
        assert_eq!(
            safe_next(Some("https://evil.example/admin/compliance")),
            ROOT
        );
        assert_eq!(safe_next(Some("//evil.example")), ROOT);
        assert_eq!(safe_next(Some("/admin/compliancex")), ROOT);
        assert_eq!(safe_next(Some("/admin/compliance/login")), ROOT);
        assert_eq!(safe_next(None), ROOT);
    }
}
