//! API errors: `{"error": {"code", "message", "details"}}` with the right status, never
//! internals. Store and engine errors are logged and reported as a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
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
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<vouch_engine::Error> for ApiError {
    fn from(e: vouch_engine::Error) -> Self {
        use vouch_engine::Error as E;
        match e {
            E::Config(m) => ApiError::bad(m),
            E::Checks(vouch_engine::checks::CheckError::NotFound(m)) => {
                ApiError::not_found(format!("no finding {m}"))
            }
            E::Checks(vouch_engine::checks::CheckError::Invalid(m)) => ApiError::bad(m),
            E::Evidence(vouch_engine::evidence::EvidenceError::NotFound(m)) => {
                ApiError::not_found(format!("no evidence item {m}"))
            }
            E::Evidence(vouch_engine::evidence::EvidenceError::Invalid(m)) => ApiError::bad(m),
            E::Ledger(vouch_engine::ledger::LedgerError::Invalid(m)) => ApiError::bad(m),
            E::Ledger(c @ vouch_engine::ledger::LedgerError::Conflict { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", c.to_string())
            }
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
        ApiError::internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
