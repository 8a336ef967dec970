//! The audit log: ingest events (one or a batch, all or nothing), query them a page at a
//! time, export them as a CSV or NDJSON stream.

use super::{blocking, csv_field};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params};
use crate::query::{AuditExport, AuditQuery};
use crate::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Most events in one request.
pub const MAX_BATCH: usize = 10_000;

/// `POST /audit-logs`: append one event or an array; every fault of every event is
/// reported (422) and then nothing is appended.
pub async fn ingest(State(app): State<App>, JsonBody(v): JsonBody) -> ApiResult<Response> {
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(ApiError::bad(
                "the body must be an event object or an array of events",
            ))
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad("the array is empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "at most {MAX_BATCH} events per request, got {}",
                items.len()
            ),
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        // vouch's own records are told apart by their actor and self-audit source
        // (vouch_engine::audit::OWN_MARKERS); a client may not pass for vouch.
        if let Some(field) = reserved_field(&item) {
            errors.push(json!({"index": i, "field": field,
                "message": format!("`{field}` names vouch itself, which is reserved for vouch's own events")}));
            continue;
        }
        // Every field at fault in the event, each with its index.
        match vouch_core::event::Event::from_value_all(item) {
            Ok(e) => events.push(e),
            Err(es) => errors.extend(
                es.into_iter()
                    .map(|e| json!({"index": i, "field": e.field, "message": e.message})),
            ),
        }
    }
    if !errors.is_empty() {
        let mut bad: Vec<&Value> = errors.iter().map(|e| &e["index"]).collect();
        bad.dedup();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_events",
            format!("{} invalid event(s); nothing was appended", bad.len()),
        )
        .details(json!({"errors": errors})));
    }
    // Automatic incidents read the events after they are in the ledger (a burst counts
    // what earlier requests appended too); only when a rule could match.
    let watched = app.config.settings.incidents.auto_create_enabled()
        && app
            .config
            .settings
            .incidents
            .rule
            .iter()
            .any(|r| r.on == "events");
    let fields: Vec<serde_json::Map<String, Value>> = if watched {
        events.iter().map(|e| e.fields().clone()).collect()
    } else {
        Vec::new()
    };
    let started = std::time::Instant::now();
    let rx = app.ledger.submit(events)?;
    let appended = rx
        .await
        .map_err(|_| ApiError::internal("the sequencer stopped"))??;
    app.metrics
        .append_latency
        .observe(started.elapsed().as_secs_f64());
    let mut body =
        json!({"seqs": appended.seqs, "new": appended.new, "tree_size": appended.tree_size});
    if watched {
        let (config, store, ledger) = (app.config.clone(), app.store.clone(), app.ledger.clone());
        // The events are appended whatever happens here: a failing rule is logged, not
        // reported as a failed ingest (the client would retry events already stored).
        match blocking(move || {
            Ok(vouch_engine::incidents::auto::on_events(
                &store,
                &ledger,
                &config,
                &fields,
                chrono::Utc::now(),
            )?)
        })
        .await
        {
            Ok(opened) if !opened.is_empty() => {
                body["incidents_opened"] =
                    json!(opened.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e.message, "automatic incident rules failed"),
        }
    }
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The field of an ingested event that claims to be vouch's own record, if any.
fn reserved_field(item: &Value) -> Option<&'static str> {
    if item.pointer("/actor/id").and_then(Value::as_str) == Some("vouch") {
        Some("actor.id")
    } else if item.get("actor_id").and_then(Value::as_str) == Some("vouch") {
        Some("actor_id")
    } else if item.pointer("/metadata/source").and_then(Value::as_str) == Some("vouch-serve") {
        Some("metadata.source")
    } else {
        None
    }
}

/// `GET /audit-logs`: one page of matching events (entries pruned by retention as
/// `archived` stubs) and the cursor of the next.
pub async fn query(
    State(app): State<App>,
    Params(AuditQuery(p)): Params<AuditQuery>,
) -> ApiResult<impl IntoResponse> {
    let q = crate::query::parse(&p)?;
    let store = app.store.clone();
    let (page, per_page) = (q.page, q.per_page);
    let (data, next) = blocking(move || crate::query::run(&store, &q, q.per_page)).await?;
    Ok(axum::Json(
        json!({"data": data, "page": page, "per_page": per_page, "next_cursor": next}),
    ))
}

/// `GET /audit-logs/export`: every matching event, streamed page by page from a blocking
/// thread, as NDJSON (canonical JSON lines) or CSV.
pub async fn export(
    State(app): State<App>,
    Params(AuditExport(p)): Params<AuditExport>,
) -> ApiResult<Response> {
    let csv = p.format.as_deref() == Some("csv");
    let mut q = crate::query::parse(&p)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let store = app.store.clone();
    // Stream page by page from a blocking thread.
    tokio::task::spawn_blocking(move || {
        if csv {
            let _ = tx.blocking_send(Ok(b"seq,id,timestamp,organization_id,actor_id,action,category,resource_type,resource_id,result\n".to_vec()));
        }
        loop {
            let (rows, next) = match crate::query::run(&store, &q, 1000) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
                    return;
                }
            };
            let mut buf = Vec::new();
            // Entries pruned by retention have no event here (the archive holds it): the
            // export carries events only, as before; the query lists the archived stubs.
            for r in rows.iter().filter(|r| !crate::query::is_archived(r)) {
                if csv {
                    let f = |ptr: &str| csv_field(r.pointer(ptr).unwrap_or(&Value::Null));
                    buf.extend_from_slice(
                        [
                            f("/seq"),
                            f("/id"),
                            f("/timestamp"),
                            f("/organization_id"),
                            f("/actor/id"),
                            f("/action"),
                            f("/category"),
                            f("/resource/type"),
                            f("/resource/id"),
                            f("/result"),
                        ]
                        .join(",")
                        .as_bytes(),
                    );
                } else {
                    buf.extend_from_slice(vouch_core::canonical::to_string(r).as_bytes());
                }
                buf.push(b'\n');
            }
            if tx.blocking_send(Ok(buf)).is_err() {
                return;
            }
            match next {
                Some(c) => q.cursor = Some(c),
                None => return,
            }
        }
    });
    let stream = futures_stream(rx);
    let ct = if csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    Ok(([(header::CONTENT_TYPE, ct)], Body::from_stream(stream)).into_response())
}

/// A `Stream` over an mpsc receiver (without pulling in a stream utility crate).
fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct S(tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}
