//! API errors: `{"error": {"code", "message", "details"}}` with the right status, never
//! internals. Store and engine errors are logged and reported as a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error response: status and `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`bad_request`, `not_found`, …).
    pub code: &'static str,
    /// One sentence for people.
    pub message: String,
    /// Structured details (the parameter at fault, …); `{}` when none.
    pub details: Value,
    /// Seconds for a `Retry-After` header (503, 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`, no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }
    /// Ask the client to retry after `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    /// The storage refuses writes (disk full, read-only): retry later, not a bug.
    pub fn storage_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the database is unavailable or refuses writes (disk full, read-only, connection lost); nothing was written, retry later",
        )
        .retry_after(30)
    }
    /// 400 `bad_request`.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// Attach structured details.
    pub fn details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 500 with a generic message; `e` is logged, never sent.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        r
    }
}

/// The one mapping from vouch's errors to HTTP: what the client got wrong is 4xx (400 a
/// bad value, 404 an unknown id, 409 a state conflict), what failed inside is 500 with the
/// detail in the log only, and a database that refuses writes is 503 with Retry-After.
impl From<vouch_engine::Error> for ApiError {
    fn from(e: vouch_engine::Error) -> Self {
        use vouch_engine::checks::CheckError;
        use vouch_engine::evidence::EvidenceError;
        use vouch_engine::jobs::JobError;
        use vouch_engine::ledger::LedgerError;
        use vouch_engine::Error as E;
        use vouch_engine::{packet, reports, seal, signoff};
        let conflict = |m: String| ApiError::new(StatusCode::CONFLICT, "conflict", m);
        match e {
            // A wrapped error (a ledger failure inside a check run, say) is the server's
            // failure, not the client's: only a database refusing writes is told apart.
            E::Config(vouch_engine::config::ConfigError::Invalid(m)) => ApiError::bad(m),
            E::Jobs(JobError::UnknownJob(m) | JobError::UnknownRun(m)) => ApiError::not_found(m),
            E::Jobs(JobError::AlreadyRunning(m)) => conflict(m),
            E::Checks(CheckError::NotFound(m)) => ApiError::not_found(format!("no finding {m}")),
            E::Checks(CheckError::Invalid(m)) => ApiError::bad(m),
            E::Checks(CheckError::Store(e)) => E::Store(e).into(),
            E::Incidents(e) => e.into(),
            E::Evidence(EvidenceError::NotFound(m)) => {
                ApiError::not_found(format!("no evidence item {m}"))
            }
            E::Evidence(EvidenceError::Invalid(m)) => ApiError::bad(m),
            E::Evidence(EvidenceError::Store(e)) => E::Store(e).into(),
            E::Ledger(LedgerError::Invalid(m)) => ApiError::bad(m),
            E::Ledger(c @ LedgerError::Conflict { .. }) => conflict(c.to_string()),
            E::Ledger(LedgerError::Store(e)) => E::Store(e).into(),
            E::Packet(packet::Error::PeriodOpen(m) | packet::Error::Malformed(m)) => {
                ApiError::bad(m)
            }
            E::Packet(packet::Error::Conflict(m)) => conflict(m),
            E::Packet(packet::Error::Store(e)) => E::Store(e).into(),
            E::Seal(seal::Error::Invalid(m)) => ApiError::bad(m),
            E::Seal(seal::Error::Conflict(m)) => conflict(m),
            E::Seal(seal::Error::Store(e)) => E::Store(e).into(),
            E::Review(r) => review_error(r),
            E::Signoff(signoff::Error::Invalid(m)) => {
                // Messages about one field start with its name (`opinion: …`).
                let field = m.split_once(": ").map(|(f, _)| f).filter(|f| {
                    !f.is_empty() && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
                match field.map(str::to_string) {
                    Some(f) => ApiError::bad(m).details(json!({"field": f})),
                    None => ApiError::bad(m),
                }
            }
            E::Signoff(signoff::Error::NotFound(m)) => ApiError::not_found(m),
            E::Signoff(signoff::Error::Conflict(m)) => conflict(m),
            E::Signoff(signoff::Error::Forbidden(m)) => ApiError::forbidden(m),
            E::Signoff(signoff::Error::Store(e)) => E::Store(e).into(),
            E::Reports(reports::Error::Invalid { field, message }) => {
                ApiError::bad(message).details(json!({"field": field}))
            }
            E::Reports(reports::Error::NotFound(m)) => ApiError::not_found(m),
            E::Reports(reports::Error::NotReady(m)) => conflict(m),
            E::Reports(reports::Error::Store(e)) => E::Store(e).into(),
            // Stored report data that fails its recorded hash is not a bare "internal
            // error": the body names the report and the file (docs/reports.md).
            E::Reports(reports::Error::ArtifactIntegrity(f)) => {
                tracing::error!(error = %f, "report artifact fails its integrity check");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "report_artifact_integrity",
                    f.to_string(),
                )
                .details(json!({"report": f.report, "format": f.format, "file": f.file, "recorded_sha256": f.recorded_sha256, "archive": f.archive}))
            }
            E::Reports(reports::Error::Corrupt(m)) => {
                tracing::error!(error = %m, "stored report unreadable");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "report_corrupt", m)
            }
            E::Store(e) => e.into(),
            other if storage_refuses_writes(&other.to_string()) => {
                tracing::error!(error = %other, "storage refuses writes");
                ApiError::storage_unavailable()
            }
            other => ApiError::internal(other),
        }
    }
}

/// Access reviews: a bad field is 400 naming it, a reviewer deciding what they may not
/// 403 with the reason's code, a state conflict 409 (completion with undecided entries
/// says how many).
fn review_error(e: vouch_engine::signoff::review::ReviewError) -> ApiError {
    use vouch_engine::signoff::review::ReviewError as R;
    match e {
        R::Invalid { field, message } => {
            ApiError::bad(format!("{field}: {message}")).details(json!({"field": field}))
        }
        R::NotFound(id) => ApiError::not_found(format!("no access review {id}")),
        R::Forbidden {
            code,
            field,
            message,
        } => ApiError::new(StatusCode::FORBIDDEN, code, message).details(json!({"field": field})),
        R::Conflict {
            code,
            message,
            undecided,
        } => ApiError::new(StatusCode::CONFLICT, code, message).details(match undecided {
            Some(n) => json!({"undecided": n}),
            None => json!({}),
        }),
        R::Store(e) => vouch_engine::Error::Store(e).into(),
        other if storage_refuses_writes(&other.to_string()) => {
            tracing::error!(error = %other, "storage refuses writes");
            ApiError::storage_unavailable()
        }
        other => ApiError::internal(other),
    }
}

impl From<vouch_engine::packet::Error> for ApiError {
    fn from(e: vouch_engine::packet::Error) -> Self {
        vouch_engine::Error::from(e).into()
    }
}

impl From<vouch_engine::seal::Error> for ApiError {
    fn from(e: vouch_engine::seal::Error) -> Self {
        vouch_engine::Error::from(e).into()
    }
}

impl From<vouch_engine::jobs::JobError> for ApiError {
    fn from(e: vouch_engine::jobs::JobError) -> Self {
        vouch_engine::Error::from(e).into()
    }
}

/// A database error that means "retry later": the disk is full or read-only (SQLite's
/// SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR; PostgreSQL's 53100 disk_full, 25006
/// read-only transaction, a hot standby) or the connection was lost (57P01 and the like).
pub fn storage_refuses_writes(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "database or disk is full",
        "disk i/o error",
        "readonly database",
        "read-only file system",
        "no space left on device",
        "could not extend file",
        "read-only transaction",
        "recovery is in progress",
        "53100",
        "25006",
        "57p01",
        "terminating connection",
        "connection closed",
        "connection reset",
        "connection refused",
        "cannot connect to",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Incidents: a bad value is 400 naming the field, an unknown id 404, a lifecycle
/// step that is not allowed (or a concurrent change) 409 naming from and to.
impl From<vouch_engine::incidents::IncidentError> for ApiError {
    fn from(e: vouch_engine::incidents::IncidentError) -> Self {
        use vouch_engine::incidents::IncidentError as I;
        match e {
            I::Invalid { field, message } => {
                ApiError::bad(format!("{field}: {message}")).details(json!({"field": field}))
            }
            I::NotFound(m) => ApiError::not_found(format!("no incident {m}")),
            I::Transition { from, to, allowed } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_transition",
                format!("an incident cannot go from {from} to {to}{allowed}"),
            )
            .details(json!({"from": from, "to": to})),
            e @ I::Ended { .. } => {
                let message = e.to_string();
                match e {
                    I::Ended { id, status, field } => {
                        ApiError::new(StatusCode::CONFLICT, "incident_ended", message)
                            .details(json!({"field": field, "incident": id, "status": status}))
                    }
                    _ => ApiError::new(StatusCode::CONFLICT, "incident_ended", message),
                }
            }
            I::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            I::Store(e) => e.into(),
            I::Ledger(vouch_engine::ledger::LedgerError::Store(e)) => e.into(),
            I::Checks(vouch_engine::checks::CheckError::Store(e)) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<vouch_engine::checks::CheckError> for ApiError {
    fn from(e: vouch_engine::checks::CheckError) -> Self {
        vouch_engine::Error::from(e).into()
    }
}

impl From<vouch_engine::ledger::LedgerError> for ApiError {
    fn from(e: vouch_engine::ledger::LedgerError) -> Self {
        vouch_engine::Error::from(e).into()
    }
}

impl From<vouch_store::StoreError> for ApiError {
    fn from(e: vouch_store::StoreError) -> Self {
        if storage_refuses_writes(&e.to_string()) {
            tracing::error!(error = %e, "storage refuses writes");
            return ApiError::storage_unavailable();
        }
        ApiError::internal(e)
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    //! The status each kind of engine error gets: a client's mistake is 4xx with the
    //! engine's message, an internal failure 500 with a generic one.
    use super::*;
    use vouch_engine::jobs::JobError;
    use vouch_engine::{packet, seal, Error as E};

    fn status(e: E) -> (StatusCode, String) {
        let a = ApiError::from(e);
        (a.status, a.message)
    }

    #[test]
    fn each_error_kind_has_its_status() {
        let cases: Vec<(E, StatusCode)> = vec![
            (E::config("bad period"), StatusCode::BAD_REQUEST),
            (
                JobError::UnknownJob("no job `x`".into()).into(),
                StatusCode::NOT_FOUND,
            ),
            (
                JobError::UnknownRun("no job run 1".into()).into(),
                StatusCode::NOT_FOUND,
            ),
            (
                JobError::AlreadyRunning("k is already running".into()).into(),
                StatusCode::CONFLICT,
            ),
            (
                packet::Error::Conflict("exists".into()).into(),
                StatusCode::CONFLICT,
            ),
            (
                packet::Error::PeriodOpen("not ended".into()).into(),
                StatusCode::BAD_REQUEST,
            ),
            (
                packet::Error::Render("typst".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                seal::Error::Conflict("archived".into()).into(),
                StatusCode::CONFLICT,
            ),
            (
                seal::Error::Invalid("no recipients".into()).into(),
                StatusCode::BAD_REQUEST,
            ),
            (
                seal::Error::Corrupt("stored collection: expected value".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                vouch_engine::checks::CheckError::Corrupt("stored check result".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                vouch_engine::checks::CheckError::NotFound("f1".into()).into(),
                StatusCode::NOT_FOUND,
            ),
            (
                vouch_engine::signoff::Error::Conflict("signed already".into()).into(),
                StatusCode::CONFLICT,
            ),
            (
                vouch_engine::signoff::Error::Forbidden("team-lead may not sign".into()).into(),
                StatusCode::FORBIDDEN,
            ),
            (
                vouch_engine::signoff::Error::Invalid("opinion: not allowed".into()).into(),
                StatusCode::BAD_REQUEST,
            ),
            (
                vouch_engine::signoff::Error::NotFound("no attestation 0193".into()).into(),
                StatusCode::NOT_FOUND,
            ),
            (
                vouch_engine::keys::KeyError::Invalid("keys/log.key: bad".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, want) in cases {
            let shown = e.to_string();
            let (got, message) = status(e);
            assert_eq!(got, want, "{shown}");
            if want.is_client_error() {
                assert!(
                    message.contains(shown.trim_start_matches("no finding ")),
                    "{message}"
                );
            } else {
                assert_eq!(message, "internal error; see the server log");
            }
        }
    }

    #[test]
    fn report_integrity_and_ended_incidents_are_named() {
        // A tampered or missing report file is not a bare "internal error".
        let e: E = vouch_engine::reports::Error::ArtifactIntegrity(Box::new(
            vouch_engine::reports::ArtifactFault {
                report: "0193a".into(),
                format: "pdf".into(),
                file: "report.pdf".into(),
                problem: "is missing from the data directory".into(),
                recorded_sha256: "ab12".into(),
                archive: Some("s3://b/reports/soc2/0193a".into()),
            },
        ))
        .into();
        let a = ApiError::from(e);
        assert_eq!(
            (a.status, a.code),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "report_artifact_integrity"
            )
        );
        assert!(
            a.message.contains("0193a") && a.message.contains("(report.pdf) is missing"),
            "{}",
            a.message
        );
        assert_eq!(a.details["format"], "pdf");
        assert_eq!(a.details["archive"], "s3://b/reports/soc2/0193a");
        let a = ApiError::from(E::from(vouch_engine::reports::Error::Corrupt(
            "report 0193a: stored request: EOF".into(),
        )));
        assert_eq!(a.code, "report_corrupt");
        assert!(a.message.contains("0193a"));
        // A change to a closed incident names the field.
        let a = ApiError::from(E::from(vouch_engine::incidents::IncidentError::Ended {
            id: "0193b".into(),
            status: "closed".into(),
            field: "severity".into(),
        }));
        assert_eq!((a.status, a.code), (StatusCode::CONFLICT, "incident_ended"));
        assert_eq!(a.details["field"], "severity");
        assert!(
            a.message.contains("its severity can no longer change"),
            "{}",
            a.message
        );
    }

    #[test]
    fn wrapped_errors_are_internal_unless_the_database_refuses_writes() {
        // An evidence item missing inside a check run is not the client's unknown id.
        let e: E = vouch_engine::checks::CheckError::Evidence(
            vouch_engine::evidence::EvidenceError::NotFound("i1".into()),
        )
        .into();
        assert_eq!(status(e).0, StatusCode::INTERNAL_SERVER_ERROR);
        let e: E = seal::Error::Packet(packet::Error::Conflict("exists".into())).into();
        assert_eq!(status(e).0, StatusCode::INTERNAL_SERVER_ERROR);
        // Reading vouch.toml failing is not a bad request either.
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e: E = vouch_engine::config::ConfigError::io("/data/vouch.toml", io).into();
        assert_eq!(status(e).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
