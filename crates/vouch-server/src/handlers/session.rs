//! Local users' sessions: log in and out, who am I, change the password, TOTP
//! enrolment. The authorization middleware audits logins from the markers a login
//! response carries ([`LoginAttempt`], [`AccountLocked`]).

use super::blocking;
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, JsonBody, LocalUser};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The username a login tried, for the self-audit event (never the password).
#[derive(Debug, Clone)]
pub struct LoginAttempt(pub String);

/// This failed login locked the account (recorded in the ledger; the answer is the same
/// 401 as any failure).
#[derive(Debug, Clone, Copy)]
pub struct AccountLocked;

fn session_cookie(token: &str, max_age: u64) -> ApiResult<HeaderValue> {
    // `Secure` always: behind a TLS proxy or with --tls-cert, browsers send it back.
    HeaderValue::from_str(&format!(
        "vouch_session={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}"
    ))
    .map_err(ApiError::internal)
}

/// `POST /auth/login`: password, then a TOTP code once enrolled; a session token in the
/// body and a cookie. A body that cannot be read is answered like any failed login, with
/// the markers for the audit.
pub async fn login(State(app): State<App>, body: Result<JsonBody, ApiError>) -> Response {
    let mut tried = None;
    let locked_now = Arc::new(AtomicBool::new(false));
    let r = async {
        let body = body?;
        let f = body.fields(&["username", "password", "totp_code"])?;
        tried = f
            .text("username")
            .ok()
            .flatten()
            .map(|u| u.chars().take(128).collect::<String>());
        let (user, pw) = (f.required("username")?, f.required("password")?);
        let code = f.text("totp_code")?;
        let settings = app.config.settings.auth.clone();
        let store = app.store.clone();
        let lock = locked_now.clone();
        let (token, info) = blocking(move || {
            let mut newly = false;
            let r =
                auth::login_noting_lock(&store, &settings, &user, &pw, code.as_deref(), &mut newly);
            lock.store(newly, Ordering::Relaxed);
            r
        })
        .await?;
        let mut resp = axum::Json(json!({"token": token, "user": info})).into_response();
        resp.headers_mut().insert(
            header::SET_COOKIE,
            session_cookie(
                &token,
                u64::from(app.config.settings.auth.session_hours) * 3600,
            )?,
        );
        Ok::<_, ApiError>(resp)
    }
    .await;
    let mut resp = r.unwrap_or_else(IntoResponse::into_response);
    if locked_now.load(Ordering::Relaxed) {
        resp.extensions_mut().insert(AccountLocked);
    }
    if let Some(u) = tried.filter(|u| !u.is_empty()) {
        resp.extensions_mut().insert(LoginAttempt(u));
    }
    resp
}

/// `POST /auth/logout`: end the caller's session (API tokens are revoked elsewhere).
pub async fn logout(State(app): State<App>, Caller(p): Caller) -> ApiResult<Response> {
    let session = p.session.clone().ok_or_else(|| {
        ApiError::bad("logout ends a session; revoke API tokens with `vouch tokens revoke`")
    })?;
    let store = app.store.clone();
    blocking(move || auth::logout(&store, &session)).await?;
    let mut resp = axum::Json(json!({"logged_out": true})).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0)?);
    Ok(resp)
}

/// `GET /auth/whoami`: the caller's identity and role.
pub async fn whoami(Caller(p): Caller) -> impl IntoResponse {
    axum::Json(json!(p))
}

/// `POST /auth/totp/enroll`: start TOTP enrolment (the password, and a current code when
/// TOTP is on).
pub async fn totp_enroll(
    State(app): State<App>,
    user: LocalUser,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["password", "code"])?;
    let (pw, code) = (f.required("password")?, f.text("code")?);
    let (store, settings) = (app.store.clone(), app.config.settings.auth.clone());
    let u = user.username;
    Ok(axum::Json(
        blocking(move || auth::totp_enroll(&store, &settings, &u, &pw, code.as_deref())).await?,
    ))
}

/// `POST /auth/totp/verify`: confirm enrolment with a code; other sessions end.
pub async fn totp_verify(
    State(app): State<App>,
    user: LocalUser,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["code"])?;
    let code = f.required("code")?;
    let store = app.store.clone();
    let (u, session) = (user.username, user.principal.session);
    blocking(move || auth::totp_confirm(&store, &u, &code, session.as_deref())).await?;
    Ok(axum::Json(json!({"totp_enabled": true})))
}

/// `POST /auth/totp/disable`: switch TOTP off (the password and a current code).
pub async fn totp_disable(
    State(app): State<App>,
    user: LocalUser,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["password", "code"])?;
    let (pw, code) = (f.required("password")?, f.text("code")?);
    let (store, settings) = (app.store.clone(), app.config.settings.auth.clone());
    let (u, session) = (user.username, user.principal.session);
    blocking(move || {
        auth::totp_disable(
            &store,
            &settings,
            &u,
            &pw,
            code.as_deref(),
            session.as_deref(),
        )
    })
    .await?;
    Ok(axum::Json(json!({"totp_enabled": false})))
}

/// `POST /auth/password`: change the caller's password; other sessions end.
pub async fn change_password(
    State(app): State<App>,
    user: LocalUser,
    body: JsonBody,
) -> ApiResult<impl IntoResponse> {
    let f = body.fields(&["current_password", "new_password", "code"])?;
    let (current, new, code) = (
        f.required("current_password")?,
        f.required("new_password")?,
        f.text("code")?,
    );
    let (store, settings) = (app.store.clone(), app.config.settings.auth.clone());
    let (u, session) = (user.username, user.principal.session);
    blocking(move || {
        auth::change_password(
            &store,
            &settings,
            &u,
            &current,
            &new,
            code.as_deref(),
            session.as_deref(),
        )
    })
    .await?;
    Ok(axum::Json(json!({"password_changed": true})))
}
