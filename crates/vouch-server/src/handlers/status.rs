//! Compliance status: controls by status and by Trust Services category, open findings,
//! the ledger's size and latest checkpoint, the next scheduled evidence run.

use super::{blocking, period_param, PeriodParams};
use crate::error::ApiResult;
use crate::extract::Params;
use crate::App;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

/// Seed 003's five categories, in its order.
pub const CATEGORIES: &[&str] = &[
    "security",
    "availability",
    "processing_integrity",
    "confidentiality",
    "privacy",
];

/// The next run of the monthly evidence job (seed 000: the 1st at 03:00 UTC).
fn next_audit(now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let job = vouch_engine::jobs::job("generate-soc2-evidence")?;
    let cron = vouch_engine::jobs::cron::Cron::parse(job.schedule).ok()?;
    use chrono::Timelike;
    let mut t = now.with_second(0)?.with_nanosecond(0)? + chrono::Duration::minutes(1);
    for _ in 0..(62 * 24 * 60) {
        if cron.matches(t) {
            return Some(t.format("%Y-%m-%d").to_string());
        }
        t += chrono::Duration::minutes(1);
    }
    None
}

/// `GET /status`: the compliance status for a period (`last-month` by default).
pub async fn status(
    State(app): State<App>,
    Params(p): Params<PeriodParams>,
) -> ApiResult<impl IntoResponse> {
    let period = period_param("period", p.period.as_deref())?;
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    let v = blocking(move || {
        let now = chrono::Utc::now();
        let controls = vouch_engine::checks::controls::evaluate(&config, &store, &period, now, None)?;
        let open = vouch_engine::checks::findings::list(&store, Some("open"))?;
        let cp = ledger.latest_checkpoint()?;
        let mut counts = serde_json::Map::new();
        for s in vouch_engine::checks::controls::STATUSES {
            counts.insert((*s).into(), json!(controls.iter().filter(|c| c["status"] == *s).count()));
        }
        let mut criteria = serde_json::Map::new();
        for cat in CATEGORIES {
            let statuses: Vec<&str> = controls
                .iter()
                .filter(|c| {
                    c["criteria"].as_array().is_some_and(|a| {
                        a.iter().any(|x| {
                            x.as_str()
                                .and_then(vouch_core::tsc::criterion)
                                .is_some_and(|k| k.category == *cat)
                        })
                    })
                })
                .map(|c| c["status"].as_str().unwrap_or("error"))
                .collect();
            criteria.insert(
                cat.to_string(),
                json!({
                    "status": vouch_engine::checks::controls::overall_status(&statuses),
                    "controls_passed": statuses.iter().filter(|s| **s == "pass").count(),
                    "controls_total": statuses.len(),
                }),
            );
        }
        // The latest evaluation of any check behind these controls.
        let last_assessment = controls
            .iter()
            .flat_map(|c| c["checks"].as_array().into_iter().flatten())
            .filter_map(|k| k["evaluated_at"].as_str())
            .max()
            .map(str::to_string);
        let all: Vec<&str> = controls.iter().map(|c| c["status"].as_str().unwrap_or("error")).collect();
        Ok(json!({
            "period": period.label, "overall_status": vouch_engine::checks::controls::overall_status(&all),
            "criteria": criteria,
            "controls": counts, "open_findings": open.len(),
            "last_assessment": last_assessment,
            "next_audit": next_audit(now),
            "ledger": {"tree_size": store.head()?.size, "latest_checkpoint": cp.map(|c| json!({"size": c.size, "created_at": c.created_at}))},
        }))
    })
    .await?;
    Ok(axum::Json(v))
}
