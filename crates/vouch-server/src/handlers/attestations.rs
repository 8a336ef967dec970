//! Attestations and collection sign-offs: list, open a window by hand, show, sign.
//! The signer's name is the caller's actor and their role is the caller's role; the
//! domain refuses a role other than the document's signer role (403), an `unqualified`
//! opinion with exceptions (400 naming `opinion`), and a second signature (409, also
//! for the losers of concurrent signatures). If the signature is recorded but its files
//! cannot be written, the answer is a 500 `signed_files_not_written` whose body says the
//! attestation is signed (`details.signed: true`).

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use vouch_engine::signoff::attest::{Opinion, SignRequest, Signoffs};

/// `GET /attestations` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this kind (`attestation`, `collection-signoff`).
    pub kind: Option<String>,
    /// Only this status (`open`, `overdue`, `missed`, `signed`).
    pub status: Option<String>,
}

impl QueryParams for ListParams {}

fn signoffs(app: &App) -> Signoffs<'_> {
    Signoffs {
        config: &app.config,
        store: app.store.clone(),
        ledger: &app.ledger,
        keys: &app.keys,
    }
}

/// `GET /attestations`: every attestation and sign-off, newest window first.
pub async fn list(
    State(app): State<App>,
    Params(p): Params<ListParams>,
) -> ApiResult<impl IntoResponse> {
    if let Some(k) = &p.kind {
        if ![
            vouch_engine::signoff::attest::KIND_ATTESTATION,
            vouch_engine::signoff::attest::KIND_COLLECTION,
        ]
        .contains(&k.as_str())
        {
            return Err(
                ApiError::bad("kind must be attestation or collection-signoff")
                    .details(json!({"parameter": "kind"})),
            );
        }
    }
    if let Some(s) = &p.status {
        if !vouch_engine::signoff::attest::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad(format!(
                "status must be one of {}",
                vouch_engine::signoff::attest::STATUSES.join(", ")
            ))
            .details(json!({"parameter": "status"})));
        }
    }
    let list = blocking(move || {
        Ok(signoffs(&app)
            .list(p.kind.as_deref(), p.status.as_deref())
            .map_err(vouch_engine::Error::from)?)
    })
    .await?;
    Ok(axum::Json(json!(list)))
}

/// `POST /attestations` `{"period": "2026-Q4"}`: open that period's window now with a
/// draft (201); 409 when it exists or its window has closed.
pub async fn open(State(app): State<App>, body: JsonBody) -> ApiResult<Response> {
    let f = body.fields(&["period"])?;
    let text = f.required("period")?;
    let period = vouch_core::period::Period::parse(&text, chrono::Utc::now())
        .map_err(|e| ApiError::bad(format!("period: {e}")).details(json!({"field": "period"})))?;
    let a = blocking(move || {
        Ok(signoffs(&app)
            .open_period(&period, chrono::Utc::now())
            .map_err(vouch_engine::Error::from)?)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(a)).into_response())
}

/// `GET /attestations/{id}`: the document (unsigned: as it would be signed now, re-read
/// from the stored results) and, once signed, the signed document and its signatures.
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let v = blocking(move || {
        let s = signoffs(&app);
        let a = s
            .preview(&id, chrono::Utc::now())
            .map_err(vouch_engine::Error::from)?;
        let doc = s.document(&a.id).map_err(vouch_engine::Error::from)?;
        Ok(json!({"attestation": a, "signed_document": doc}))
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /attestations/{id}/sign` `{"opinion": "unqualified"|"qualified", "notes":
/// {"3": "text", "CC6.1-role": "text"}}`: sign as the caller.
pub async fn sign(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["opinion", "notes"])?;
    let opinion = match f.text("opinion")?.as_deref() {
        None | Some("unqualified") => Opinion::Unqualified,
        Some("qualified") => Opinion::Qualified,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("`opinion` must be unqualified or qualified, not `{other}`"),
            )
            .details(json!({"field": "opinion"})))
        }
    };
    let mut notes = BTreeMap::new();
    match f.0.get("notes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Value::String(t) = v else {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_field",
                        format!("`notes.{k}` must be a string"),
                    )
                    .details(json!({"field": format!("notes.{k}")})));
                };
                notes.insert(k.clone(), t.clone());
            }
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "`notes` must be an object of step → text",
            )
            .details(json!({"field": "notes"})))
        }
    }
    let req = SignRequest {
        signer: who.actor.clone(),
        role: who.role.as_str().into(),
        via: "api".into(),
        opinion,
        notes,
        personal: None,
    };
    let v = blocking(move || {
        let (a, doc) = signoffs(&app)
            .sign(&id, &req, chrono::Utc::now())
            .map_err(vouch_engine::Error::from)?;
        // The files (JSON, .sig, Markdown, PDF) beside the packets, for packets and
        // offline verification. They are copies of the stored signed document, written
        // after the signature is committed and recorded: if writing them fails, the
        // attestation is still signed, and the error says so (a retry would get 409).
        let dir = vouch_engine::packet::attestation::dir_for(&app.config.data_dir, &a);
        if let Err(e) = vouch_engine::packet::attestation::write(&dir, &app.keys, &a, &doc) {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "signed_files_not_written",
                format!(
                    "{} IS SIGNED (ledger seq {}, document SHA-256 {}) and frozen, but writing its files to {} failed: {e}. Do not sign again; write them with `vouch attest export {} --out DIR`.",
                    a.title,
                    a.ledger_seq.unwrap_or_default(),
                    doc.sha256,
                    dir.display(),
                    a.id
                ),
            )
            .details(json!({
                "signed": true,
                "id": a.id,
                "ledger_seq": a.ledger_seq,
                "document_sha256": doc.sha256,
                "files_written": false,
            })));
        }
        Ok(json!({"attestation": a, "signed_document": doc}))
    })
    .await?;
    Ok(axum::Json(v))
}
