//! Incidents (seed 003): log one (seed 003's body), list with filters, read one, move it
//! along its lifecycle, add timeline entries. The engine work is
//! `vouch_engine::incidents`; every change is a ledger event there.

use super::{blocking, period_param};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Fields, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_engine::incidents as inc;

/// `GET /incidents` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A status, or `open` (any but closed and dismissed).
    pub status: Option<String>,
    /// A severity.
    pub severity: Option<String>,
    /// Detected in this period (`2026-10`, `2026-Q3`, `START..END`).
    pub period: Option<String>,
    /// `true`: only breached response deadlines; `false`: only the others.
    pub breached: Option<String>,
}

impl QueryParams for ListParams {}

/// `GET /incidents`: incidents, oldest detection first, each with `breached`.
pub async fn incidents_list(
    State(app): State<App>,
    Params(p): Params<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let period = p
        .period
        .as_deref()
        .map(|given| period_param("period", Some(given)))
        .transpose()?;
    let breached = match p.breached.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad("breached must be true or false")
                .details(json!({"parameter": "breached"})))
        }
    };
    let filter = inc::Filter {
        status: p.status,
        severity: p.severity,
        period,
        breached,
    };
    let store = app.store.clone();
    let v = blocking(move || {
        let now = chrono::Utc::now();
        let list = inc::list(&store, &filter, now).map_err(|e| match e {
            // A filter's bad value names the query parameter, not a body field.
            inc::IncidentError::Invalid { field, message } => {
                ApiError::bad(format!("{field}: {message}")).details(json!({"parameter": field}))
            }
            other => other.into(),
        })?;
        Ok(list.iter().map(|i| i.view(now)).collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(json!(v)))
}

/// `GET /incidents/{id}`: one incident with its timeline and SLA.
pub async fn incidents_get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let v = blocking(move || Ok(inc::get(&store, &id)?.view(chrono::Utc::now()))).await?;
    Ok(axum::Json(v))
}

/// A list of strings: absent or null → empty; anything else but an array of strings is
/// 422 naming the field.
fn strings(f: &Fields<'_>, k: &str) -> ApiResult<Vec<String>> {
    let bad = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("`{k}` must be an array of strings"),
        )
        .details(json!({"field": k}))
    };
    match f.0.get(k) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// `POST /incidents`: seed 003's body → 201 with the incident, its id and its
/// `response_deadline`.
pub async fn incidents_open(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&[
        "title",
        "severity",
        "description",
        "affected_systems",
        "detected_at",
        "detected_by",
    ])?;
    let n = inc::NewIncident {
        title: f.required("title")?,
        severity: f.required("severity")?,
        description: f.text("description")?,
        affected_systems: strings(&f, "affected_systems")?,
        detected_at: f.text("detected_at")?,
        detected_by: f.text("detected_by")?,
    };
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let now = chrono::Utc::now();
        Ok(inc::open(&store, &ledger, &config, &n, &who.actor, now)?.view(now))
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `PATCH /incidents/{id}`: `state`, `severity`, `assignee` (with `reason` to dismiss,
/// `lessons_learned` to close, and an optional `note`); 409 naming from and to when
/// the lifecycle does not allow the step.
pub async fn incidents_update(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&[
        "state",
        "severity",
        "assignee",
        "reason",
        "lessons_learned",
        "note",
    ])?;
    let u = inc::Update {
        state: f.text("state")?,
        severity: f.text("severity")?,
        assignee: f.text("assignee")?,
        reason: f.text("reason")?,
        lessons_learned: f.text("lessons_learned")?,
        note: f.text("note")?,
    };
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let now = chrono::Utc::now();
        Ok(inc::update(&store, &ledger, &config, &id, &u, &who.actor, now)?.view(now))
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /incidents/{id}/timeline`: `{"text", "at"?}`: an entry by the caller (201).
pub async fn incidents_timeline(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["text", "at"])?;
    let text = f.required("text")?;
    let at = f.text("at")?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let now = chrono::Utc::now();
        Ok(inc::note(
            &store,
            &ledger,
            &config,
            &id,
            &text,
            at.as_deref(),
            &who.actor,
            now,
        )?
        .view(now))
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}
