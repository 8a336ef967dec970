//! Findings: list (by status), open (seed 003's body), update.

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `GET /findings` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only findings with this status.
    pub status: Option<String>,
}

impl QueryParams for ListParams {}

/// `GET /findings`: all findings, or those with one status.
pub async fn findings_list(
    State(app): State<App>,
    Params(p): Params<ListParams>,
) -> ApiResult<impl IntoResponse> {
    if let Some(s) = &p.status {
        if !vouch_engine::checks::findings::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad("status must be open, accepted or resolved")
                .details(json!({"parameter": "status"})));
        }
    }
    let store = app.store.clone();
    let status = p.status;
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::checks::findings::list(
            &store,
            status.as_deref()
        )?))
        .await?
    )))
}

/// `POST /findings`: open a finding (201); `control` is the older name of `control_id`.
pub async fn findings_open(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&[
        "control_id",
        "control",
        "title",
        "severity",
        "description",
        "remediation_plan",
        "due_date",
    ])?;
    let title = f.required("title")?;
    let severity = f.text("severity")?.unwrap_or_else(|| "medium".into());
    let control = match (f.text("control_id")?, f.text("control")?) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "conflicting_fields",
                "`control_id` and `control` differ; give one",
            )
            .details(json!({"field": "control_id"})))
        }
        (a, b) => a.or(b),
    };
    let description = f.text("description")?;
    let plan = f.text("remediation_plan")?;
    let due = f.text("due_date")?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let f = blocking(move || {
        Ok(vouch_engine::checks::findings::open_planned(
            &store,
            &ledger,
            &config,
            &vouch_engine::checks::findings::NewFinding {
                title: &title,
                severity: &severity,
                control: control.as_deref(),
                description: description.as_deref(),
                remediation_plan: plan.as_deref(),
                due_date: due.as_deref(),
            },
            &who.actor,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(f)).into_response())
}

/// `PATCH /findings/{id}`: change status, severity, owner or add a note; a field that is
/// not a string is 422 naming it.
pub async fn findings_update(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["status", "severity", "owner", "note"])?;
    let u = vouch_engine::checks::findings::Update {
        status: f.text("status")?,
        severity: f.text("severity")?,
        owner: f.text("owner")?,
        note: f.text("note")?,
    };
    let (store, ledger) = (app.store.clone(), app.ledger.clone());
    Ok(axum::Json(
        blocking(move || {
            Ok(vouch_engine::checks::findings::update(
                &store, &ledger, &id, &u, &who.actor,
            )?)
        })
        .await?,
    ))
}
