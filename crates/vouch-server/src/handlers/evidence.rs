//! Evidence items: list, one item, an export for criteria and a period (JSON, CSV or a
//! signed PDF), and a control's (or Trust Services Criterion's) status and evidence.

use super::{blocking, csv_field, period_between, period_param, PeriodParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{int_param, required_param, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /evidence` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only items of this evidence definition.
    pub evidence_id: Option<String>,
    /// Only items whose period lies inside this one.
    pub period: Option<String>,
    /// Most items returned (default 100, at most 1000).
    pub limit: Option<String>,
}

impl QueryParams for ListParams {}

/// `GET /evidence`: evidence items' records (at most 1,000; 100 by default).
pub async fn evidence_list(
    State(app): State<App>,
    Params(p): Params<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let period = p
        .period
        .as_deref()
        .map(|given| period_param("period", Some(given)))
        .transpose()?;
    let limit = int_param("limit", p.limit.as_deref())?
        .unwrap_or(100)
        .min(1000);
    let store = app.store.clone();
    let id = p.evidence_id;
    let items = blocking(move || {
        vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: id,
                period,
                limit: Some(limit),
            },
        )
        .map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    Ok(axum::Json(json!(items
        .iter()
        .map(|i| &i.record)
        .collect::<Vec<_>>())))
}

/// `GET /evidence/{id}`: one item's record and the ledger entry that holds it.
pub async fn evidence_get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    let item = blocking(move || {
        vouch_engine::evidence::get(&store, &id).map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    let mut v = item.record.clone();
    v["ledger_seq"] = json!(item.ledger_seq);
    Ok(axum::Json(v))
}

/// `GET /evidence/export` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Comma-separated criteria or control ids; all when absent.
    pub criteria: Option<String>,
    /// First day of the period (required).
    pub period_start: Option<String>,
    /// Last day of the period, inclusive (required).
    pub period_end: Option<String>,
    /// `json` (default), `csv` or `pdf`.
    pub format: Option<String>,
}

impl QueryParams for ExportParams {}

/// `GET /evidence/export`: the items supporting some criteria (all by default) in a
/// period, as JSON, CSV or a signed PDF (signature in `X-Evidence-Signature`).
pub async fn evidence_export(
    State(app): State<App>,
    Params(p): Params<ExportParams>,
) -> ApiResult<Response> {
    // The format first: a bad one is named even when the period is missing too.
    let format = p.format.unwrap_or_else(|| "json".into());
    if !["json", "csv", "pdf"].contains(&format.as_str()) {
        return Err(ApiError::bad(format!(
            "format must be json, csv or pdf, not `{}`",
            format.chars().take(64).collect::<String>()
        ))
        .details(json!({"parameter": "format"})));
    }
    let start = required_param("period_start", p.period_start)?;
    let end = required_param("period_end", p.period_end)?;
    let period = period_between(&start, &end)
        .map_err(|e| ApiError::bad(format!("period_start/period_end: {e}")))?;
    let criteria: Vec<String> = p
        .criteria
        .map(|c| {
            c.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for c in &criteria {
        if vouch_core::tsc::criterion(c).is_none() {
            return Err(
                ApiError::bad(format!("`{c}` is not a Trust Services Criterion"))
                    .details(json!({"parameter": "criteria"})),
            );
        }
    }
    let (period_label, period_start, period_end) = (
        period.label.clone(),
        vouch_core::event::format_timestamp(&period.start),
        vouch_core::event::format_timestamp(&period.end),
    );
    let store = app.store.clone();
    let items = blocking(move || {
        vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: None,
                period: Some(period),
                limit: None,
            },
        )
        .map_err(|e| vouch_engine::Error::from(e).into())
    })
    .await?;
    let items: Vec<&Value> = items
        .iter()
        .map(|i| &i.record)
        .filter(|r| {
            criteria.is_empty()
                || r["criteria"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| criteria.iter().any(|x| c == x.as_str())))
        })
        .collect();
    match format.as_str() {
        "json" => Ok(axum::Json(json!(items)).into_response()),
        "pdf" => {
            let period = json!({"label": period_label, "start": period_start, "end": period_end});
            export_pdf(&app, period, &criteria, &items).await
        }
        _ => Ok(([(header::CONTENT_TYPE, "text/csv")], export_csv(&items)).into_response()),
    }
}

/// What produced an evidence item, in one line: its query, URL, glob, upload or command.
fn operation_text(r: &Value) -> String {
    let op = vouch_engine::evidence::Operation::of_record(r);
    let command = op.command();
    op.query
        .or(op.url)
        .or(op.glob)
        .or(op.upload)
        .or(command)
        .unwrap_or_default()
}

/// A signed PDF, as packets are: the signature of these bytes in `X-Evidence-Signature`.
async fn export_pdf(
    app: &App,
    period: Value,
    criteria: &[String],
    items: &[&Value],
) -> ApiResult<Response> {
    let now = chrono::Utc::now();
    let doc = json!({
        "organization": app.config.settings.organization.name,
        "period": period,
        "criteria": criteria,
        "generated_at": vouch_core::event::format_timestamp(&now),
        "vouch_version": vouch_engine::VERSION,
        "items": items.iter().map(|r| json!({
            "evidence_id": r["evidence_id"], "title": r["title"], "criteria": r["criteria"],
            "source": {"kind": r["source"]["kind"], "name": r["source"]["name"]},
            "operation": operation_text(r),
            "effective_at": r["effective_at"], "count": r["count"], "sha256": r["sha256"],
        })).collect::<Vec<_>>(),
    });
    let keys = app.keys.clone();
    let (pdf, sig) = blocking(move || {
        let bytes = vouch_core::canonical::to_vec(&doc);
        let pdf = vouch_engine::packet::pdf::render_evidence_export(&bytes, now)
            .map_err(ApiError::internal)?;
        let sig = vouch_engine::packet::sign::sign_b64(&keys.signing, &pdf);
        Ok((pdf, sig))
    })
    .await?;
    let mut resp = ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response();
    resp.headers_mut().insert(
        "x-evidence-signature",
        HeaderValue::from_str(&sig).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

/// The items as CSV, one row each.
fn export_csv(items: &[&Value]) -> String {
    let mut out = String::from(
        "id,evidence_id,title,criteria,source,status,period,effective_at,count,sha256\n",
    );
    for r in items {
        let row = [
            r["id"].clone(),
            r["evidence_id"].clone(),
            r["title"].clone(),
            json!(r["criteria"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()),
            r["source"]["name"].clone(),
            r["status"].clone(),
            r["period"]["label"].clone(),
            r["effective_at"].clone(),
            r["count"].clone(),
            r["sha256"].clone(),
        ];
        out.push_str(&row.iter().map(csv_field).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// `GET /controls/{id}/evidence`: a control's status, checks and evidence for a period;
/// for a Trust Services Criterion (seed 003 asks for `CC6.1`), the controls mapped to it
/// and the evidence collected for it.
pub async fn control_evidence(
    State(app): State<App>,
    Path(id): Path<String>,
    Params(p): Params<PeriodParams>,
) -> ApiResult<impl IntoResponse> {
    let period = period_param("period", p.period.as_deref())?;
    let (config, store) = (app.config.clone(), app.store.clone());
    let (controls, items) = blocking(move || {
        let controls = vouch_engine::checks::controls::evaluate(
            &config,
            &store,
            &period,
            chrono::Utc::now(),
            None,
        )?;
        let items = vouch_engine::evidence::list(
            &store,
            &vouch_engine::evidence::ListFilter {
                evidence_id: None,
                period: Some(period.clone()),
                limit: None,
            },
        )
        .map_err(vouch_engine::Error::from)?;
        Ok((controls, (period.label.clone(), items)))
    })
    .await?;
    if let Some(c) = controls.iter().find(|c| c["id"] == id.as_str()) {
        return Ok(axum::Json(c.clone()));
    }
    // Seed 003 asks by Trust Services Criterion (`CC6.1`): the controls mapped to it
    // and the evidence items collected for it.
    let Some(crit) = vouch_core::tsc::criterion(&id) else {
        return Err(ApiError::not_found(format!(
            "no control or Trust Services Criterion `{id}`"
        )));
    };
    let mapped: Vec<&Value> = controls
        .iter()
        .filter(|c| {
            c["criteria"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == crit.id))
        })
        .collect();
    let (label, items) = items;
    let evidence: Vec<&Value> = items
        .iter()
        .map(|i| &i.record)
        .filter(|r| {
            r["criteria"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == crit.id))
        })
        .collect();
    let status = vouch_engine::checks::controls::rollup(
        mapped
            .iter()
            .map(|c| c["status"].as_str().unwrap_or("error")),
    );
    Ok(axum::Json(json!({
        "id": crit.id, "criterion": crit.id, "category": crit.category, "title": crit.topic,
        "period": label, "status": status,
        "controls": mapped, "evidence": evidence,
    })))
}
