//! Signed SOC 2 evidence packets for a period (JSON or PDF), generated on first request
//! and then served from the data directory.

use super::{blocking, period_between};
use crate::error::{ApiError, ApiResult};
use crate::extract::{required_param, Params, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `GET /soc2-packet` parameters (seed 000's names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketParams {
    /// First day of the period (`startDate`, required).
    #[serde(rename = "startDate")]
    pub start_date: Option<String>,
    /// Last day of the period, inclusive (`endDate`, required).
    #[serde(rename = "endDate")]
    pub end_date: Option<String>,
    /// `json` (default) or `pdf`.
    pub format: Option<String>,
}

impl QueryParams for PacketParams {}

/// `GET /soc2-packet`: the packet's bytes, its signature in `X-Evidence-Signature`.
pub async fn packet(
    State(app): State<App>,
    Params(p): Params<PacketParams>,
) -> ApiResult<Response> {
    let start = required_param("startDate", p.start_date)?;
    let end = required_param("endDate", p.end_date)?;
    let pdf = match p.format.as_deref() {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(_) => return Err(ApiError::bad("format must be json or pdf")),
    };
    let period = period_between(&start, &end)
        .map_err(|e| ApiError::bad(format!("startDate/endDate: {e}")))?;
    let (config, keys, ledger) = (app.config.clone(), app.keys.clone(), app.ledger.clone());
    let (bytes, sig) = blocking(move || {
        let dir = config
            .data_dir
            .join("packets")
            .join(vouch_engine::packet::build::period_slug(&period));
        let file = if pdf {
            vouch_engine::packet::PDF_FILE
        } else {
            vouch_engine::packet::JSON_FILE
        };
        if !dir.join(file).exists() {
            let req = vouch_engine::packet::Request {
                period,
                generated_at: None,
                format: vouch_engine::packet::Format::Both,
                out: dir.clone(),
                force: true,
            };
            vouch_engine::packet::generate(&config, &keys, &ledger, &req)?;
        }
        let bytes = std::fs::read(dir.join(file)).map_err(ApiError::internal)?;
        let sig =
            std::fs::read_to_string(dir.join(format!("{file}.sig"))).map_err(ApiError::internal)?;
        Ok((bytes, sig.trim().to_string()))
    })
    .await?;
    app.metrics
        .packet_size
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            if pdf { "pdf" } else { "json" }.to_string(),
            bytes.len() as u64,
        );
    let ct = if pdf {
        "application/pdf"
    } else {
        "application/json"
    };
    let mut resp = ([(header::CONTENT_TYPE, ct)], bytes).into_response();
    resp.headers_mut().insert(
        "x-evidence-signature",
        HeaderValue::from_str(&sig).map_err(ApiError::internal)?,
    );
    Ok(resp)
}
