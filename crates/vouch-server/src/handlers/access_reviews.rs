//! Access-review campaigns: list, create (and start), show, start a draft, decide,
//! complete (signed), cancel. Reviewers are named by actor id (`user:alice`,
//! `token:ci`, `jwt:…`): the caller deciding must be one of the population's reviewers.

use super::blocking;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, JsonBody, Params, Path, QueryParams};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_engine::signoff::review::{self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer};

/// `GET /access-reviews` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only campaigns in this state.
    pub status: Option<String>,
}

impl QueryParams for ListParams {}

fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        .details(json!({"field": field}))
}

/// `GET /access-reviews`: campaigns with their counts, newest first.
pub async fn list(
    State(app): State<App>,
    Params(p): Params<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    Ok(axum::Json(json!(
        blocking(move || Ok(
            review::list(&store, p.status.as_deref()).map_err(vouch_engine::Error::from)?
        ))
        .await?
    )))
}

/// The reviewers of a population: strings (`"user:alice"`) or objects
/// (`{"id": "user:alice", "accounts": ["alice_admin"]}`).
fn reviewers(field: &str, v: Option<&Value>) -> ApiResult<Vec<Reviewer>> {
    let Some(Value::Array(a)) = v else {
        return Err(bad_field(
            field,
            format!("`{field}` must be an array of reviewers"),
        ));
    };
    a.iter()
        .map(|r| match r {
            Value::String(s) => Ok(Reviewer {
                id: s.clone(),
                accounts: Vec::new(),
            }),
            Value::Object(_) => serde_json::from_value::<Reviewer>(r.clone()).map_err(|e| {
                bad_field(
                    field,
                    format!("`{field}`: a reviewer is {{\"id\", \"accounts\"}}: {e}"),
                )
            }),
            _ => Err(bad_field(
                field,
                format!("`{field}`: a reviewer is a string or an object"),
            )),
        })
        .collect()
}

/// `POST /access-reviews`: `{"title", "populations": [{"evidence", "reviewers"}],
/// "draft"?}` → 201 with the campaign (started, its snapshot taken, unless `draft`).
pub async fn create(
    State(app): State<App>,
    Caller(who): Caller,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["title", "populations", "draft"])?;
    let title = f.required("title")?;
    let draft = match f.0.get("draft") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_field("draft", "`draft` must be true or false")),
    };
    let Some(Value::Array(pops)) = f.0.get("populations") else {
        return Err(ApiError::bad(
            "`populations` is required: an array of {\"evidence\", \"reviewers\"}",
        )
        .details(json!({"field": "populations"})));
    };
    let mut populations = Vec::new();
    for (i, p) in pops.iter().enumerate() {
        let Some(o) = p.as_object() else {
            return Err(bad_field(
                &format!("populations[{i}]"),
                "a population is an object {\"evidence\", \"reviewers\"}",
            ));
        };
        if let Some(k) = o
            .keys()
            .find(|k| !["evidence", "reviewers"].contains(&k.as_str()))
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_field",
                format!("unknown field `{k}` in populations[{i}]"),
            )
            .details(json!({"field": format!("populations[{i}].{k}")})));
        }
        let Some(Value::String(evidence)) = o.get("evidence") else {
            return Err(bad_field(
                &format!("populations[{i}].evidence"),
                format!("`populations[{i}].evidence` must be an evidence id"),
            ));
        };
        populations.push(PopulationSpec {
            evidence: evidence.clone(),
            reviewers: reviewers(&format!("populations[{i}].reviewers"), o.get("reviewers"))?,
        });
    }
    let n = NewCampaign {
        title,
        populations,
        draft,
    };
    let v = with_ctx(&app, move |ctx| {
        review::create(ctx, &n, &who.actor, chrono::Utc::now())
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /access-reviews/{id}`: the campaign, its entries and, once completed, the signed
/// document and its signature.
pub async fn show(State(app): State<App>, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let store = app.store.clone();
    Ok(axum::Json(
        blocking(move || Ok(review::get(&store, &id).map_err(vouch_engine::Error::from)?)).await?,
    ))
}

/// `POST /access-reviews/{id}/start`: start a draft (take its snapshot).
pub async fn start(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(
        with_ctx(&app, move |ctx| {
            review::start(ctx, &id, &who.actor, chrono::Utc::now())
        })
        .await?,
    ))
}

/// `POST /access-reviews/{id}/decisions`: `{"population", "account", "decision",
/// "note"}` by the caller, who must be a reviewer of the population and not own the
/// account (403 `self_review`).
pub async fn decide(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["population", "account", "decision", "note"])?;
    let d = Decision {
        population: f.required("population")?,
        account: f.required("account")?,
        decision: f.required("decision")?,
        note: f.text("note")?,
    };
    Ok(axum::Json(
        with_ctx(&app, move |ctx| {
            review::decide(ctx, &id, &d, &who.actor, chrono::Utc::now())
        })
        .await?,
    ))
}

/// `POST /access-reviews/{id}/draft` `{"signature_kind": "ssh"|"gpg"}`: the exact bytes
/// (canonical JSON) the caller signs with their own key before completing: the document
/// as it would be signed now with the caller as completer, its SHA-256 in
/// `X-Vouch-Document-Sha256` and its time in `access_review.completed_at`. 409 while
/// entries are undecided. Nothing is written.
pub async fn draft(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let f = body.fields(&["signature_kind"])?;
    let kind = f.required("signature_kind")?;
    let keys = app.keys.clone();
    let bytes = with_ctx(&app, move |ctx| {
        review::draft(ctx, &keys, &id, &who.actor, &kind, chrono::Utc::now())
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

/// `POST /access-reviews/{id}/complete`: 409 `undecided_entries` (with the count, and
/// each of undecided / deferred / escalated in the message) while any entry has no final
/// decision; otherwise the campaign, completed and signed. An optional JSON body
/// `{"signature": {"kind", "signature", "public_key"}, "document_sha256",
/// "completed_at"}` (from `/draft`) adds the caller's own detached signature: 409
/// `draft_changed` when the document is no longer the draft signed, 400 when the
/// signature does not verify over it, 409 when it is not by the caller's pinned key.
/// The document set (JSON, Markdown, PDF, signatures) is written under the data
/// directory's `attestations/access-review-<id>/`; if that fails after completion, a
/// 500 `signed_files_not_written` says the review is completed.
pub async fn complete(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    // No body (or `{}`): vouch's signature only, as before.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        JsonBody(json!({}))
    } else {
        JsonBody(
            crate::strict::parse(&body)
                .map_err(|e| ApiError::bad(format!("the body is not valid JSON: {e}")))?,
        )
    };
    let f = body.fields(&["signature", "document_sha256", "completed_at"])?;
    let det = super::attestations::detached(&f, "completed_at", "access_review.completed_at")?;
    let keys = app.keys.clone();
    let data_dir = app.config.data_dir.clone();
    let done = with_ctx(&app, move |ctx| {
        let personal = match &det {
            Some(d) => review::Personal::Detached(d),
            None => review::Personal::None,
        };
        review::complete(
            ctx,
            &keys,
            &id,
            &who.actor,
            chrono::Utc::now(),
            personal,
            &vouch_engine::packet::attestation::review_pdf,
        )
    })
    .await?;
    let keys = app.keys.clone();
    let v = blocking(move || {
        let dir = vouch_engine::packet::attestation::review_dir_for(&data_dir, &done.view.campaign.id);
        if let Err(e) = vouch_engine::packet::attestation::write_review(&dir, &keys, &done.files) {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "signed_files_not_written",
                format!(
                    "access review {} IS COMPLETED and signed (document SHA-256 {}), but writing its files to {} failed: {e}. Do not complete it again; write them with `vouch review show {} --out DIR`.",
                    done.view.campaign.id,
                    done.files.signed.sha256,
                    dir.display(),
                    done.view.campaign.id
                ),
            )
            .details(json!({
                "completed": true,
                "id": done.view.campaign.id,
                "document_sha256": done.files.signed.sha256,
                "files_written": false,
            })));
        }
        Ok(done.view)
    })
    .await?;
    Ok(axum::Json(v))
}

/// `POST /access-reviews/{id}/cancel`: `{"reason"}`.
pub async fn cancel(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["reason"])?;
    let reason = f.required("reason")?;
    Ok(axum::Json(
        with_ctx(&app, move |ctx| {
            review::cancel(ctx, &id, &reason, &who.actor, chrono::Utc::now())
        })
        .await?,
    ))
}

/// Run a campaign operation on the blocking pool with a context over the server's
/// configuration, store and ledger; its error mapped like every engine error.
async fn with_ctx<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&Ctx<'_>) -> Result<T, review::ReviewError> + Send + 'static,
) -> ApiResult<T> {
    let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
    blocking(move || {
        let ctx = Ctx {
            config: &config,
            store: &store,
            ledger: &ledger,
        };
        Ok(f(&ctx).map_err(vouch_engine::Error::from)?)
    })
    .await
}
