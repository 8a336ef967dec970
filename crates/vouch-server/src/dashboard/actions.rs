//! The dashboard's forms. Each POST route has the permission of the API route it
//! mirrors (in `routes.rs`, so the guard and the roles matrix cover it), checks the
//! form's CSRF token, and calls that API route's handler with the form's fields as its
//! JSON body: one code path, one set of rules and ledger events. Success redirects
//! (303) to the page that shows the result; a refusal is an HTML page with the API's
//! status and message.

use super::{see_other, url, DashError, Form, ROOT};
use crate::extract::{Caller, JsonBody, Params, Path};
use crate::handlers::{self, PeriodParams};
use crate::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// The form (CSRF checked) or the refusal.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Form, DashError> {
    let f = Form::parse(body)?;
    f.check_csrf(headers)?;
    Ok(f)
}

/// The named fields that were filled in, as a JSON object.
fn object(f: &Form, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = f.get(k) {
            m.insert((*k).to_string(), Value::String(v));
        }
    }
    Value::Object(m)
}

/// `POST /admin/compliance/findings/{id}` — `PATCH /api/compliance/findings/{id}`.
pub async fn update_finding(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = form(&headers, &body)?;
    let patch = object(&f, &["status", "severity", "owner", "note"]);
    if patch.as_object().is_some_and(Map::is_empty) {
        return Err(crate::error::ApiError::bad(
            "change at least one field (status, severity, owner or a note)",
        )
        .details(json!({"field": "status"}))
        .into());
    }
    let r =
        handlers::findings::findings_update(State(app), caller, Path(id.clone()), JsonBody(patch))
            .await?;
    drop(r);
    Ok(see_other(&format!(
        "{ROOT}/findings/{}?ok=finding-updated",
        url(&id)
    )))
}

/// `POST /admin/compliance/checks/run` — `POST /api/compliance/checks/run`.
pub async fn run_checks(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = form(&headers, &body)?;
    let period = f.get("period");
    let back = period.clone().unwrap_or_else(|| "last-month".into());
    let r = handlers::checks::run_checks(State(app), Params(PeriodParams { period })).await?;
    drop(r);
    Ok(see_other(&format!(
        "{ROOT}?period={}&ok=checks-run",
        url(&back)
    )))
}

/// `POST /admin/compliance/jobs/{name}/run` — `POST /api/compliance/jobs/{name}/run`.
pub async fn run_job(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = form(&headers, &body)?;
    let period = f.get("period");
    let r =
        handlers::jobs::job_run(State(app), Path(name), Params(PeriodParams { period })).await?;
    drop(r);
    Ok(see_other(&format!("{ROOT}?ok=job-run#h-jobs")))
}

/// `POST /admin/compliance/attestations/{id}/sign` — `POST
/// /api/compliance/attestations/{id}/sign` (the domain also checks the signer role).
pub async fn sign_attestation(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = form(&headers, &body)?;
    let r = handlers::attestations::sign(
        State(app),
        caller,
        Path(id),
        JsonBody(object(&f, &["opinion"])),
    )
    .await?;
    drop(r);
    Ok(see_other(&format!("{ROOT}/timeline?ok=attestation-signed")))
}

/// `POST /admin/compliance/access-reviews/{id}/decisions` — `POST
/// /api/compliance/access-reviews/{id}/decisions`.
pub async fn decide(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DashError> {
    let f = form(&headers, &body)?;
    let r = handlers::access_reviews::decide(
        State(app),
        caller,
        Path(id.clone()),
        JsonBody(object(&f, &["population", "account", "decision", "note"])),
    )
    .await?;
    drop(r);
    Ok(see_other(&format!(
        "{ROOT}/access-reviews/{}?ok=decided",
        url(&id)
    )))
}
