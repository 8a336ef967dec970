//! The transparency log: verify the whole ledger, the latest signed checkpoint,
//! inclusion and consistency proofs, C2SP tlog-tiles, and the public keys.

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::extract::{int_param, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `GET /audit-logs/verify`: recompute the ledger; a failure is counted in the metrics.
pub async fn verify(State(app): State<App>) -> ApiResult<impl IntoResponse> {
    let ledger = app.ledger.clone();
    let r = blocking(move || Ok(ledger.verify(&Default::default())?)).await?;
    if !r.valid {
        app.metrics
            .verify_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(axum::Json(json!(r)))
}

/// `GET /ledger/checkpoint`: the latest checkpoint note, signing one for the current
/// head if events arrived since.
pub async fn checkpoint(State(app): State<App>) -> ApiResult<Response> {
    let (ledger, store) = (app.ledger.clone(), app.store.clone());
    // The latest checkpoint, signing one for the current head if events arrived since.
    let c = blocking(move || {
        let size = store.head()?.size;
        match ledger.latest_checkpoint()? {
            Some(c) if c.size == size => Ok(Some(c)),
            _ if size == 0 => Ok(None),
            _ => Ok(Some(ledger.checkpoint()?)),
        }
    })
    .await?;
    match c {
        Some(c) => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            c.note,
        )
            .into_response()),
        None => Err(ApiError::not_found(
            "no checkpoint yet: the ledger is empty",
        )),
    }
}

/// `GET /ledger/proof` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofParams {
    /// Sequence number of the entry to prove (required).
    pub index: Option<String>,
    /// Tree size to prove against; the latest checkpoint's by default.
    pub size: Option<String>,
}

impl QueryParams for ProofParams {}

/// `GET /ledger/proof`: an inclusion proof (C2SP tlog-proof) for `index` in the tree of
/// `size` (the latest checkpoint's by default).
pub async fn proof(State(app): State<App>, Params(p): Params<ProofParams>) -> ApiResult<Response> {
    let index = int_param("index", p.index.as_deref())?
        .ok_or_else(|| ApiError::bad("index is required").details(json!({"parameter": "index"})))?;
    let size = int_param("size", p.size.as_deref())?;
    let ledger = app.ledger.clone();
    let text = blocking(move || Ok(ledger.inclusion_proof(index, size)?)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// `GET /ledger/consistency` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyParams {
    /// The older tree size (required).
    pub from: Option<String>,
    /// The newer tree size (required).
    pub to: Option<String>,
}

impl QueryParams for ConsistencyParams {}

/// `GET /ledger/consistency`: a consistency proof between two tree sizes.
pub async fn consistency(
    State(app): State<App>,
    Params(p): Params<ConsistencyParams>,
) -> ApiResult<impl IntoResponse> {
    let from =
        int_param("from", p.from.as_deref())?.ok_or_else(|| ApiError::bad("from is required"))?;
    let to = int_param("to", p.to.as_deref())?.ok_or_else(|| ApiError::bad("to is required"))?;
    if from > to {
        return Err(
            ApiError::bad(format!("`from` ({from}) is after `to` ({to})"))
                .details(json!({"parameter": "from"})),
        );
    }
    let ledger = app.ledger.clone();
    let c = blocking(move || Ok(ledger.consistency_proof(from, to)?)).await?;
    Ok(axum::Json(
        json!({"from": c.from, "to": c.to, "from_root": c.from_root, "to_root": c.to_root, "proof": c.proof, "from_checkpoint": c.from_checkpoint, "to_checkpoint": c.to_checkpoint}),
    ))
}

/// `GET /ledger/tile/{*path}`: a tile of the latest checkpoint's tree (see [`crate::tiles`]).
pub async fn tile(State(app): State<App>, Path(path): Path<String>) -> ApiResult<Response> {
    let t = crate::tiles::parse(&path)?;
    let (ledger, store) = (app.ledger.clone(), app.store.clone());
    let bytes = blocking(move || {
        let size = ledger.latest_checkpoint()?.map(|c| c.size).unwrap_or(0);
        crate::tiles::read(&store, &t, size)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// `GET /public-key`: the packet signing key (SPKI PEM); the log's verifier key in
/// `X-Log-Verifier-Key`.
pub async fn public_key(State(app): State<App>) -> impl IntoResponse {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        app.keys.signing_public_pem(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&app.keys.log_verifier().to_vkey()) {
        resp.headers_mut().insert("x-log-verifier-key", v);
    }
    resp
}
