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
    let store2 = store.clone();
    let v = blocking(move || {
        let checker = vouch_engine::checks::Checker::new(&config, store, &ledger);
        let now = chrono::Utc::now();
        let r = checker.run(&period, &[], now)?;
        let opened = vouch_engine::incidents::auto::on_check_results(
            &store2, &ledger, &config, &r.results, now,
        )?;
        let mut v = json!({"period": r.period.label, "checks": r.results, "controls": r.controls});
        if !opened.is_empty() {
            v["incidents_opened"] = json!(opened.iter().map(|i| &i.id).collect::<Vec<_>>());
        }
        Ok(v)
    })
    .await?;
    Ok(axum::Json(v))
}
