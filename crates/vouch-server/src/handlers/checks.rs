//! Run the checks for a period now.

use super::{blocking, period_param, PeriodParams};
use crate::error::ApiResult;
use crate::extract::Params;
use crate::App;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

/// `POST /checks/run`: evaluate every check for a period (`last-month` by default);
/// results and control statuses.
pub async fn run_checks(
    State(app): State<App>,
    Params(p): Params<PeriodParams>,
) -> ApiResult<impl IntoResponse> {
    let period = period_param("period", p.period.as_deref())?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let checker = vouch_engine::checks::Checker::new(&config, store, &ledger);
        let r = checker.run(&period, &[], chrono::Utc::now())?;
        Ok(json!({"period": r.period.label, "checks": r.results, "controls": r.controls}))
    })
    .await?;
    Ok(axum::Json(v))
}
