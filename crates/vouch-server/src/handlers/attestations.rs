//! Attestations and collection sign-offs: list, open a window by hand, show, sign.
//! The signer's name is the caller's actor and their role is the caller's role; the
//! domain refuses a role other than the document's signer role (403), an `unqualified`
//! opinion with exceptions (400 naming `opinion`), and a second signature (409, also
//! for the losers of concurrent signatures). If the signature is recorded but its files
//! cannot be written, the answer is a 500 `signed_files_not_written` whose body says the
//! attestation is signed (`details.signed: true`).

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Fields, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use vouch_engine::signoff::attest::{
    DetachedKind, DetachedSignature, Opinion, SignRequest, Signoffs,
};

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
            vouch_engine::signoff::quarterly::KIND_REVIEW,
        ]
        .contains(&k.as_str())
        {
            return Err(ApiError::bad(
                "kind must be attestation, collection-signoff or quarterly-review",
            )
            .details(json!({"parameter": "kind"})));
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

/// The opinion and notes of a sign or draft body.
fn opinion_and_notes(f: &Fields<'_>) -> ApiResult<(Opinion, BTreeMap<String, String>)> {
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
    Ok((opinion, notes))
}

fn request(
    who: &crate::auth::Principal,
    opinion: Opinion,
    notes: BTreeMap<String, String>,
) -> SignRequest {
    SignRequest {
        signer: who.actor.clone(),
        role: who.role.as_str().into(),
        via: "api".into(),
        opinion,
        notes,
        personal: None,
    }
}

/// `POST /attestations/{id}/draft` `{"opinion", "notes", "signature_kind": "ssh"|"gpg"}`:
/// the exact bytes (canonical JSON) the caller signs with their own key
/// (`ssh-keygen -Y sign -n vouch-attestation` or `gpg --armor --detach-sign`) before
/// posting the signature to `/sign`. The body is the document; its SHA-256 and
/// `signed.signed_at` go back with the signature. Nothing is written.
pub async fn draft(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["opinion", "notes", "signature_kind"])?;
    let (opinion, notes) = opinion_and_notes(&f)?;
    let kind = f.required("signature_kind")?;
    if !["ssh", "gpg"].contains(&kind.as_str()) {
        return Err(
            ApiError::bad(format!("signature_kind: must be ssh or gpg, not `{kind}`"))
                .details(json!({"field": "signature_kind"})),
        );
    }
    let req = request(&who, opinion, notes);
    let bytes = blocking(move || {
        Ok(signoffs(&app)
            .draft(&id, &req, &kind, chrono::Utc::now())
            .map_err(vouch_engine::Error::from)?)
    })
    .await?;
    let sha = vouch_store::blobs::sha256_hex(&bytes);
    Ok((
        StatusCode::OK,
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_string(),
            ),
            (
                axum::http::HeaderName::from_static("x-vouch-document-sha256"),
                sha,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The `signature` object of a sign body: `{"kind": "ssh"|"gpg", "signature": armored,
/// "public_key": SSH key line / allowed-signers line / armored OpenPGP public key}`, with
/// `document_sha256` and `signed_at` of the draft signed.
///
/// `at_field` names the draft's time in the body (`signed_at` for attestations,
/// `completed_at` for access reviews) and `draft_field` where the draft holds it.
pub(crate) fn detached(
    f: &Fields<'_>,
    at_field: &str,
    draft_field: &str,
) -> ApiResult<Option<DetachedSignature>> {
    let s = match f.0.get("signature") {
        None | Some(Value::Null) => {
            for k in ["document_sha256", at_field] {
                if f.0.get(k).is_some_and(|v| !v.is_null()) {
                    return Err(ApiError::bad(format!(
                        "{k}: only with a `signature` (a detached signature over a draft)"
                    ))
                    .details(json!({"field": k})));
                }
            }
            return Ok(None);
        }
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "`signature` must be an object {\"kind\", \"signature\", \"public_key\"}",
            )
            .details(json!({"field": "signature"})))
        }
    };
    let inner = Fields(s);
    for k in s.keys() {
        if !["kind", "signature", "public_key"].contains(&k.as_str()) {
            return Err(ApiError::bad(format!("signature.{k}: unknown field"))
                .details(json!({"field": format!("signature.{k}")})));
        }
    }
    let need = |k: &str| -> ApiResult<String> {
        inner
            .text(k)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    format!("`signature.{k}` must be a string"),
                )
                .details(json!({"field": format!("signature.{k}")}))
            })?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ApiError::bad(format!("signature.{k}: required"))
                    .details(json!({"field": format!("signature.{k}")}))
            })
    };
    let kind = match need("kind")?.as_str() {
        "ssh" => DetachedKind::Ssh,
        "gpg" => DetachedKind::Gpg,
        other => {
            return Err(
                ApiError::bad(format!("signature.kind: must be ssh or gpg, not `{other}`"))
                    .details(json!({"field": "signature.kind"})),
            )
        }
    };
    let signature = need("signature")?;
    let public_key = need("public_key")?;
    let sha = f.required("document_sha256")?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad(
            "document_sha256: the hex SHA-256 of the draft bytes signed (64 hex digits)",
        )
        .details(json!({"field": "document_sha256"})));
    }
    let at = f.required(at_field)?;
    let prepared_at = vouch_core::period::parse_instant(&at).ok_or_else(|| {
        ApiError::bad(format!(
            "{at_field}: `{at}` is not an RFC 3339 time (send the draft's {draft_field})"
        ))
        .details(json!({"field": at_field}))
    })?;
    Ok(Some(DetachedSignature {
        kind,
        signature,
        public_key,
        prepared_at,
        document_sha256: sha,
    }))
}

/// `POST /attestations/{id}/sign` `{"opinion": "unqualified"|"qualified", "notes":
/// {"3": "text", "CC6.1-role": "text"}}`: sign as the caller. With `"signature"`,
/// `"document_sha256"` and `"signed_at"` (from `/draft`), the caller's own detached
/// signature over the draft is checked against exactly the bytes frozen (400 when it
/// does not verify, 409 when the draft changed) and kept with the document.
pub async fn sign(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&[
        "opinion",
        "notes",
        "signature",
        "document_sha256",
        "signed_at",
    ])?;
    let (opinion, notes) = opinion_and_notes(&f)?;
    let det = detached(&f, "signed_at", "signed.signed_at")?;
    let req = request(&who, opinion, notes);
    let v = blocking(move || {
        let s = signoffs(&app);
        let now = chrono::Utc::now();
        let (a, doc) = match &det {
            Some(d) => s.sign_detached(&id, &req, d, now),
            None => s.sign(&id, &req, now),
        }
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

/// `POST /attestations/{id}/pr-decisions` `{"pr": "412", "decision": "approved" |
/// "exception", "note": "…"}`: the reviewer's decision on a PR of a quarterly review's
/// sample (the review's signer role; an exception needs a note). Each decision is a
/// ledger event; a signed review's decisions are frozen (409).
pub async fn decide_pr(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["pr", "decision", "note"])?;
    let pr = f.required("pr")?;
    let decision = f.required("decision")?;
    if !["approved", "exception"].contains(&decision.as_str()) {
        return Err(ApiError::bad(format!(
            "decision: must be approved or exception, not `{decision}`"
        ))
        .details(json!({"field": "decision"})));
    }
    let note = f.text("note")?;
    let a = blocking(move || {
        Ok(signoffs(&app)
            .decide_pr(
                &id,
                &pr,
                &decision,
                note.as_deref(),
                &who.actor,
                who.role.as_str(),
                chrono::Utc::now(),
            )
            .map_err(vouch_engine::Error::from)?)
    })
    .await?;
    Ok(axum::Json(a))
}
