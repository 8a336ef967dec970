//! Scheduled jobs: the schedule with each job's latest run, a job's history, run one now.

use super::{blocking, period_param, PeriodParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Params, Path};
use crate::App;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

/// `GET /jobs`: every job, its schedule and latest run.
pub async fn jobs_list(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let v = blocking(move || {
        let mut out = Vec::new();
        for j in vouch_engine::jobs::JOBS {
            let last = vouch_engine::jobs::runs(&store, Some(j.name), 1)?.into_iter().next();
            out.push(json!({"name": j.name, "schedule": j.schedule, "description": j.description, "last_run": last}));
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(json!(v)))
}

/// `GET /jobs/{name}/runs`: a job's last 100 runs.
pub async fn job_runs(
    State(app): State<App>,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if vouch_engine::jobs::job(&name).is_none() {
        return Err(ApiError::not_found(format!("no job `{name}`")));
    }
    let store = app.store.clone();
    Ok(axum::Json(json!(
        blocking(move || Ok(vouch_engine::jobs::runs(&store, Some(&name), 100)?)).await?
    )))
}

/// `POST /jobs/{name}/run`: run a job now (once, no retries), for a period if given.
pub async fn job_run(
    State(app): State<App>,
    Path(name): Path<String>,
    Params(p): Params<PeriodParams>,
) -> ApiResult<impl IntoResponse> {
    if vouch_engine::jobs::job(&name).is_none() {
        return Err(ApiError::not_found(format!("no job `{name}`")));
    }
    let period = p
        .period
        .as_deref()
        .map(|given| period_param("period", Some(given)))
        .transpose()?;
    let a = app.clone();
    let run = blocking(move || {
        let runner = vouch_engine::jobs::Runner {
            config: &a.config,
            store: a.store.clone(),
            keys: &a.keys,
            ledger: &a.ledger,
            clock: &vouch_engine::jobs::SystemClock,
            worker: crate::worker_name(),
            max_attempts: 1,
            backoff: chrono::Duration::minutes(1),
            not_before: None,
        };
        Ok(runner.run_now(&name, period)?)
    })
    .await?;
    Ok(axum::Json(run))
}
