//! The compliance dashboard at `/admin/compliance` (seed 003, issue 17): server-rendered
//! HTML, no JavaScript, assets embedded in the binary (it works offline and air-gapped).
//!
//! * Every page is a row of the route table (`routes.rs`) with the permission of the API
//!   route it mirrors, so the guard authenticates and authorizes it exactly like the API
//!   and the roles-matrix test covers it. [`browser`] turns the guard's JSON 401 into a
//!   redirect to the login page for a browser (a request that accepts `text/html`) and
//!   its 403 into an HTML page, and puts the security headers (strict CSP, no framing)
//!   on every dashboard response.
//! * Actions are HTML forms posted to dashboard routes that carry the permission of the
//!   corresponding API route and call the API handler itself ([`actions`]); each form
//!   carries a CSRF token derived from the caller's credential ([`csrf_for`]), checked
//!   on every state-changing POST.
//! * Pages read stored results, counts and aggregates; none scans ledger leaves.
//!
//! One file per page: [`login`], [`overview`], [`effectiveness`], [`timeline`],
//! [`drill`] (criterion → control → evidence item → proof; findings; packets), and
//! [`actions`].

pub mod actions;
pub mod drill;
pub mod effectiveness;
pub mod login;
pub mod overview;
pub mod timeline;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::roles::{self, Perm};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Where the dashboard lives (seed 003).
pub const ROOT: &str = "/admin/compliance";

const CSS: &str = include_str!("assets/dashboard.css");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The Content-Security-Policy of every dashboard response: nothing inline, nothing
/// from elsewhere, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// ---------------------------------------------------------------- HTML

/// Text escaped for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything but RFC 3986's unreserved characters is encoded.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A query-string or path component, percent-encoded (then safe in an attribute too).
pub fn url(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// A JSON value's text (strings without quotes, null empty), escaped.
pub fn jtext(v: &serde_json::Value) -> String {
    esc(&match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A status as a badge: the word is always shown (never colour alone).
pub fn badge(status: &str) -> String {
    let s = esc(status);
    format!(
        "<span class=\"badge s-{s}\" data-status=\"{s}\">{}</span>",
        esc(&status.replace('_', " "))
    )
}

/// An RFC 3339 time shortened for people (`2026-10-05 14:03 UTC`); other text as is.
pub fn when(t: &str) -> String {
    match vouch_core::period::parse_instant(t) {
        Some(d) => d.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => esc(t),
    }
}

/// A duration for people: `3 d 4 h`, `2 h 10 min`, `45 s`.
pub fn human(secs: i64) -> String {
    let a = secs.abs();
    let (d, h, m) = (a / 86_400, (a % 86_400) / 3600, (a % 3600) / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{a} s")
    }
}

/// Who is looking, and the CSRF token of their credential.
pub struct Viewer {
    /// The caller.
    pub who: Principal,
    /// The token every form of theirs carries.
    pub csrf: String,
}

impl Viewer {
    /// The viewer of a request the guard authenticated.
    pub fn new(who: Principal, headers: &HeaderMap) -> Viewer {
        let csrf = credential(headers)
            .map(|c| csrf_for(&c))
            .unwrap_or_default();
        Viewer { who, csrf }
    }
    /// Whether the viewer's role holds `perm` (the roles matrix of the API).
    pub fn can(&self, perm: Perm) -> bool {
        roles::allows(self.who.role, perm)
    }
    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.csrf)
        )
    }
}

const NAV: &[(&str, &str, &str)] = &[
    ("overview", "", "Overview"),
    ("effectiveness", "/effectiveness", "Effectiveness"),
    ("timeline", "/timeline", "Audit timeline"),
    ("findings", "/findings", "Findings"),
    ("packets", "/packets", "Packets & archives"),
];

/// Fixed messages shown after an action (`?ok=`): never text from the request.
fn flash(code: &str) -> Option<&'static str> {
    Some(match code {
        "finding-updated" => "The finding was updated and the change recorded in the ledger.",
        "checks-run" => "The checks were evaluated; results and control statuses are stored.",
        "job-run" => "The job ran; its run is in the job history below.",
        "attestation-signed" => "The attestation is signed and recorded in the ledger.",
        "decided" => "The decision is recorded.",
        "logged-out" => "You are logged out.",
        _ => return None,
    })
}

/// A whole page: skip link, header with navigation and the viewer, `<main>`.
pub fn page(
    title: &str,
    viewer: Option<&Viewer>,
    active: &str,
    ok: Option<&str>,
    body: &str,
) -> String {
    let mut h = String::with_capacity(body.len() + 2048);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} — vouch compliance</title>\
<link rel=\"stylesheet\" href=\"{ROOT}/assets/dashboard.css\">\
<link rel=\"icon\" type=\"image/svg+xml\" href=\"{ROOT}/assets/favicon.svg\">\
</head><body><a class=\"skip\" href=\"#main\">Skip to main content</a>\
<header class=\"top\"><a class=\"brand\" href=\"{ROOT}\">vouch <span>compliance</span></a>",
        t = esc(title)
    );
    if let Some(v) = viewer {
        h.push_str("<nav aria-label=\"Dashboard\"><ul>");
        for (key, path, label) in NAV {
            let current = if *key == active {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                h,
                "<li><a href=\"{ROOT}{path}\"{current} data-testid=\"nav-{key}\">{label}</a></li>"
            );
        }
        let _ = write!(
            h,
            "</ul></nav><div class=\"who\"><span data-testid=\"who\">{} <span class=\"role\">({})</span></span>\
<form method=\"post\" action=\"{ROOT}/logout\" class=\"inline\" data-testid=\"logout-form\">{}\
<button type=\"submit\" class=\"link\">Log out</button></form></div>",
            esc(&v.who.actor),
            esc(v.who.role.as_str()),
            v.csrf_field()
        );
    }
    let _ = write!(
        h,
        "</header><main id=\"main\" tabindex=\"-1\"><h1>{}</h1>",
        esc(title)
    );
    if let Some(msg) = ok.and_then(flash) {
        let _ = write!(
            h,
            "<p class=\"flash\" role=\"status\" data-testid=\"flash\">{msg}</p>"
        );
    }
    h.push_str(body);
    let _ = write!(
        h,
        "</main><footer><p>vouch {} · every figure links to the stored evidence and ledger proof behind it · times in UTC</p></footer></body></html>",
        esc(vouch_engine::VERSION)
    );
    h
}

/// An HTML response with the dashboard's headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A `303 See Other` to a dashboard path (after a form, to the login page).
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An error as a page (status kept; the message is the API's, meant for people).
pub struct DashError(pub ApiError);

impl From<ApiError> for DashError {
    fn from(e: ApiError) -> Self {
        DashError(e)
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        error_page(&self.0)
    }
}

/// The HTML page for an API error.
pub fn error_page(e: &ApiError) -> Response {
    let title = match e.status.as_u16() {
        400 | 422 => "The request was refused",
        403 => "Not allowed",
        404 => "Not found",
        409 => "Conflict",
        429 => "Too many attempts",
        _ => "Something went wrong",
    };
    let body = format!(
        "<p class=\"error\" role=\"alert\" data-testid=\"error\" data-code=\"{}\">{}</p><p><a href=\"{ROOT}\">Back to the overview</a></p>",
        esc(e.code),
        esc(&e.message)
    );
    html(e.status, page(title, None, "", None, &body))
}

/// A dashboard page's result.
pub type Page = Result<Response, DashError>;

/// Run synchronous engine work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, DashError> {
    crate::handlers::blocking(f).await.map_err(DashError)
}

// ---------------------------------------------------------------- assets

/// `GET /admin/compliance/assets/dashboard.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /admin/compliance/assets/favicon.svg`.
pub async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

// ---------------------------------------------------------------- the browser layer

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Around every route: for dashboard paths, a browser that the guard refused gets the
/// login page (401) or an HTML page (403) instead of JSON, and every dashboard answer
/// carries the security headers. API clients (no `text/html` in `Accept`) keep the JSON
/// errors the roles-matrix test checks.
pub async fn browser(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path != ROOT && !path.starts_with(&format!("{ROOT}/")) {
        return next.run(req).await;
    }
    let browser = wants_html(req.headers());
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let mut resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if browser && is_json {
        match resp.status() {
            StatusCode::UNAUTHORIZED => {
                resp = if get {
                    see_other(&format!("{ROOT}/login?next={}", url(&target)))
                } else {
                    see_other(&format!("{ROOT}/login"))
                };
            }
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::TOO_MANY_REQUESTS => {
                let status = resp.status();
                let e = ApiError::new(
                    status,
                    "refused",
                    match status {
                        StatusCode::FORBIDDEN => "Your role may not see or do this.",
                        StatusCode::NOT_FOUND => "There is no such page.",
                        _ => "Too many failed attempts from this address; try again later.",
                    },
                );
                resp = error_page(&e);
            }
            _ => {}
        }
    }
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !path.starts_with(&format!("{ROOT}/assets/")) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

// ---------------------------------------------------------------- CSRF

/// The credential a request authenticates with, in the guard's order: the bearer
/// token, else the `vouch_session` cookie.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_string()
        });
    bearer
        .or_else(|| {
            headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|c| {
                    c.split(';')
                        .find_map(|kv| kv.trim().strip_prefix("vouch_session=").map(str::to_string))
                })
        })
        .filter(|c| !c.is_empty())
}

const CSRF_LABEL: &[u8] = b"vouch-dashboard-csrf-v1";

/// The synchronizer token of a credential: HMAC-SHA-256 keyed with the (secret,
/// HttpOnly) session credential. A page can carry it without revealing the credential,
/// another site cannot compute it, it holds across servers, and it ends with the session.
pub fn csrf_for(credential: &str) -> String {
    use base64::Engine;
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(credential.as_bytes())
        .expect("HMAC takes any key length");
    m.update(CSRF_LABEL);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// Whether `given` is the CSRF token of the request's credential (constant time).
pub fn csrf_ok(headers: &HeaderMap, given: Option<&str>) -> bool {
    use base64::Engine;
    let (Some(cred), Some(given)) = (credential(headers), given) else {
        return false;
    };
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(given) else {
        return false;
    };
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(cred.as_bytes()).expect("HMAC takes any key length");
    m.update(CSRF_LABEL);
    m.verify_slice(&tag).is_ok()
}

/// A submitted form: `application/x-www-form-urlencoded` fields, each at most once.
pub struct Form(pub HashMap<String, String>);

impl Form {
    /// Parse a form body; malformed encoding or a repeated field is a 400.
    pub fn parse(body: &[u8]) -> Result<Form, ApiError> {
        let text = std::str::from_utf8(body).map_err(|_| ApiError::bad("the form is not UTF-8"))?;
        Ok(Form(crate::extract::pairs(text)?))
    }
    /// A field's text, `None` when absent or blank.
    pub fn get(&self, k: &str) -> Option<String> {
        self.0
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
    /// Refuse the form unless it carries the caller's CSRF token (400 naming `csrf`).
    pub fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if csrf_ok(headers, self.0.get("csrf").map(String::as_str)) {
            Ok(())
        } else {
            Err(ApiError::bad(
                "the form's CSRF token is missing or wrong; reload the page and submit it again",
            )
            .details(serde_json::json!({"field": "csrf"})))
        }
    }
}

/// Query parameters of a page (`period`, `ok`, `status`): unknown ones are ignored
/// (a bookmarked URL keeps working).
pub fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    crate::extract::pairs(uri.query().unwrap_or("")).unwrap_or_default()
}

// ---------------------------------------------------------------- periods

/// The audit period: vouch has no setting for it yet, so the calendar year of `now`
/// (Type II periods are usually twelve months; `?audit=START..END` chooses another).
pub fn audit_period(
    q: &HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<vouch_core::period::Period, ApiError> {
    match q.get("audit").filter(|s| !s.is_empty()) {
        Some(t) => vouch_core::period::Period::parse(t, now).map_err(|e| {
            ApiError::bad(format!("audit: {e}")).details(serde_json::json!({"parameter": "audit"}))
        }),
        None => {
            use chrono::Datelike;
            vouch_core::period::Period::parse(&now.year().to_string(), now)
                .map_err(|e| ApiError::bad(e.to_string()))
        }
    }
}

/// The period choices of the overview's selector: last month (the default, as
/// `GET /status`), this month, this and last quarter, the audit period.
pub fn period_choices(now: chrono::DateTime<chrono::Utc>) -> Vec<(String, String)> {
    use chrono::Datelike;
    let last = vouch_core::period::Period::last_month(now);
    let this = vouch_core::period::Period::month_of(now);
    let q = (now.month() - 1) / 3 + 1;
    let (py, pq) = if q == 1 {
        (now.year() - 1, 4)
    } else {
        (now.year(), q - 1)
    };
    vec![
        (last.label.clone(), format!("Last month ({})", last.label)),
        (this.label.clone(), format!("This month ({})", this.label)),
        (
            format!("{}-Q{q}", now.year()),
            format!("This quarter ({}-Q{q})", now.year()),
        ),
        (format!("{py}-Q{pq}"), format!("Last quarter ({py}-Q{pq})")),
        (
            now.year().to_string(),
            format!("Audit period ({})", now.year()),
        ),
    ]
}

/// The period selector (a GET form: works without JavaScript).
pub fn period_form(action: &str, current: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut h = format!(
        "<form method=\"get\" action=\"{}\" class=\"period\" data-testid=\"period-form\"><label for=\"period\">Period</label><select id=\"period\" name=\"period\">",
        esc(action)
    );
    let mut found = false;
    for (value, label) in period_choices(now) {
        let sel = if value == current {
            found = true;
            " selected"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(&value),
            esc(&label)
        );
    }
    if !found {
        let _ = write!(
            h,
            "<option value=\"{0}\" selected>{0}</option>",
            esc(current)
        );
    }
    h.push_str("</select><button type=\"submit\">Show</button></form>");
    h
}

// ---------------------------------------------------------------- daily counts

pub use vouch_store::DailyCount;

/// Events per day, category and result in `[from_day, to_day]` (inclusive dates), from
/// the counters every append maintains (the audit-log index): no leaf is read.
pub fn daily_counts(
    store: &vouch_store::Store,
    from_day: &str,
    to_day: &str,
) -> Result<Vec<DailyCount>, vouch_store::StoreError> {
    store.daily_counts(from_day, to_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_every_html_special() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url("a b/&?"), "a%20b%2F%26%3F");
    }

    #[test]
    fn csrf_token_is_bound_to_the_credential() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; vouch_session=vss_abc"),
        );
        let t = csrf_for("vss_abc");
        assert!(csrf_ok(&h, Some(&t)));
        assert!(!csrf_ok(&h, Some(&csrf_for("vss_abd"))));
        assert!(!csrf_ok(&h, None));
        assert!(!csrf_ok(&h, Some("")));
        assert!(!csrf_ok(&HeaderMap::new(), Some(&t)));
    }
}
