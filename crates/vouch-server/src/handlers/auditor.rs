//! The auditor's side (issue 18): populations (the company takes them), nonce
//! commitments and draws (the auditor), sample exports, and PBC requests (the auditor
//! requests, accepts and returns; the company answers). The engine work is
//! `vouch_engine::auditor`; every change is a ledger event there.

use super::{blocking, period_param};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Fields, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_engine::auditor::{pbc, population, sample, AuditError, Ctx};

/// A bad value is 400 naming the field, an unknown id 404, a state that does not allow
/// the step 409; storage failures as everywhere.
impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid { field, message } => {
                ApiError::bad(format!("{field}: {message}")).details(json!({"field": field}))
            }
            AuditError::NotFound(m) => ApiError::not_found(format!("no {m}")),
            AuditError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AuditError::Store(e) => e.into(),
            AuditError::Ledger(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

fn with_ctx<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&Ctx<'_>) -> Result<T, AuditError> + Send + 'static,
) -> impl std::future::Future<Output = ApiResult<T>> {
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    blocking(move || {
        let ctx = Ctx {
            config: &config,
            store: &store,
            ledger: &ledger,
        };
        f(&ctx).map_err(ApiError::from)
    })
}

/// A non-negative integer field that must be given.
fn required_u64(f: &Fields<'_>, k: &str) -> ApiResult<u64> {
    match f.0.get(k) {
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        None | Some(Value::Null) => {
            Err(ApiError::bad(format!("`{k}` is required")).details(json!({"field": k})))
        }
        Some(_) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("`{k}` must be a non-negative integer"),
        )
        .details(json!({"field": k}))),
    }
}

/// `GET /populations` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationParams {
    /// Only populations of this definition.
    pub population: Option<String>,
}
impl QueryParams for PopulationParams {}

/// `GET /populations`: populations taken, newest first, with the definitions declared.
pub async fn populations_list(
    State(app): State<App>,
    Params(p): Params<PopulationParams>,
) -> ApiResult<impl IntoResponse> {
    let v = with_ctx(&app, move |ctx| {
        Ok(json!({
            "definitions": population::definitions(ctx.config),
            "populations": population::list(ctx.store, p.population.as_deref())?,
        }))
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /populations` `{"population", "period"}`: take it (201).
pub async fn populations_take(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["population", "period"])?;
    let def = f.required("population")?;
    let period = f.required("period")?;
    let period =
        period_param("period", Some(&period)).map_err(|e| e.details(json!({"field": "period"})))?;
    let v = with_ctx(&app, move |ctx| {
        population::take(ctx, &def, &period, &who.actor, chrono::Utc::now())
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /populations/{id}`: one population's record.
pub async fn populations_get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let v = with_ctx(&app, move |ctx| population::get(ctx.store, &id)).await?;
    Ok(axum::Json(v))
}

/// `GET /populations/{id}/export` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `ndjson` (default: each line one Merkle leaf) or `csv`.
    pub format: Option<String>,
}
impl QueryParams for ExportParams {}

/// `GET /populations/{id}/export`: the items as NDJSON or CSV.
pub async fn populations_export(
    State(app): State<App>,
    Path(id): Path<String>,
    Params(p): Params<ExportParams>,
) -> ApiResult<Response> {
    let csv = match p.format.as_deref() {
        None | Some("ndjson") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad("format must be ndjson or csv")
                .details(json!({"parameter": "format"})))
        }
    };
    let body = with_ctx(&app, move |ctx| {
        let pop = population::get(ctx.store, &id)?;
        if csv {
            population::export_csv(ctx.config, &pop)
        } else {
            population::export_ndjson(ctx.config, &pop)
        }
    })
    .await?;
    let media = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

/// `POST /samples/commitments` `{"population", "period", "commitment"}`: the auditor's
/// commitment, the hex SHA-256 of a nonce only the auditor knows (201).
pub async fn commitments_create(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["population", "period", "commitment"])?;
    let def = f.required("population")?;
    let period = f.required("period")?;
    let commitment = f.required("commitment")?;
    let period =
        period_param("period", Some(&period)).map_err(|e| e.details(json!({"field": "period"})))?;
    let v = with_ctx(&app, move |ctx| {
        sample::commit(
            ctx,
            &def,
            &period,
            &commitment,
            &who.actor,
            chrono::Utc::now(),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /samples`: commitments and samples, newest first.
pub async fn samples_list(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let v = with_ctx(&app, move |ctx| {
        Ok(json!({"commitments": sample::commitments(ctx.store)?, "samples": sample::list(ctx.store)?}))
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /samples` `{"commitment", "nonce"}`: reveal the nonce and draw (201).
pub async fn samples_draw(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["commitment", "nonce"])?;
    let commitment = f.required("commitment")?;
    let nonce = f.required("nonce")?;
    let v = with_ctx(&app, move |ctx| {
        sample::draw(ctx, &commitment, &nonce, &who.actor, chrono::Utc::now())
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /samples/{id}`: the sample's export — everything `verify_sample.py` checks.
pub async fn samples_get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let v = with_ctx(&app, move |ctx| sample::export(ctx, &id)).await?;
    Ok(axum::Json(v))
}

/// `POST /samples/{id}/requests` `{"item", "text"}`: a PBC request on a sampled item (201).
pub async fn pbc_request(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["item", "text"])?;
    let item = required_u64(&f, "item")?;
    let text = f.required("text")?;
    let v = with_ctx(&app, move |ctx| {
        pbc::request(ctx, &id, item, &text, &who.actor, chrono::Utc::now())
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /pbc` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbcParams {
    /// Only requests of this sample.
    pub sample: Option<String>,
}
impl QueryParams for PbcParams {}

/// `GET /pbc`: requests, oldest first.
pub async fn pbc_list(
    State(app): State<App>,
    Params(p): Params<PbcParams>,
) -> ApiResult<impl IntoResponse> {
    let v = with_ctx(&app, move |ctx| pbc::list(ctx.store, p.sample.as_deref())).await?;
    Ok(axum::Json(v))
}

/// `POST /pbc/{id}/answer` `{"evidence_item", "note"?}`: the company's answer.
pub async fn pbc_answer(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["evidence_item", "note"])?;
    let item = f.required("evidence_item")?;
    let note = f.text("note")?;
    let v = with_ctx(&app, move |ctx| {
        pbc::answer(
            ctx,
            &id,
            &item,
            note.as_deref(),
            &who.actor,
            chrono::Utc::now(),
        )
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /pbc/{id}/accept` `{"comment"?}`.
pub async fn pbc_accept(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    decide(app, who.actor, id, body, true).await
}

/// `POST /pbc/{id}/return` `{"comment"}`.
pub async fn pbc_return(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    decide(app, who.actor, id, body, false).await
}

async fn decide(
    app: App,
    by: String,
    id: String,
    body: JsonBody,
    accept: bool,
) -> ApiResult<axum::Json<pbc::Request>> {
    let f = body.fields(&["comment"])?;
    let comment = f.text("comment")?;
    let v = with_ctx(&app, move |ctx| {
        pbc::decide(
            ctx,
            &id,
            accept,
            comment.as_deref(),
            &by,
            chrono::Utc::now(),
        )
    })
    .await?;
    Ok(axum::Json(v))
}
