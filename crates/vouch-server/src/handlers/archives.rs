//! Archived (sealed) evidence collections.

use super::{blocking, period_param, PeriodParams};
use crate::error::ApiResult;
use crate::extract::Params;
use crate::App;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

/// `GET /collections`: archived collections, all or one period's.
pub async fn collections(
    State(app): State<App>,
    Params(p): Params<PeriodParams>,
) -> ApiResult<impl IntoResponse> {
    let label = p
        .period
        .as_deref()
        .map(|given| period_param("period", Some(given)).map(|x| x.label))
        .transpose()?;
    let store = app.store.clone();
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::seal::collections(&store, label.as_deref())?)).await?
    )))
}
