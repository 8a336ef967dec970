//! Who is calling: API tokens (`vch_…`, stored as SHA-256, shown once), JWT bearer
//! tokens (HS256 shared secret, or RS256/ES256 public key; the role claim mapped onto
//! vouch's roles), and local users' sessions (argon2id passwords of at least 12
//! characters, lockout after repeated failures, 8-hour sessions, TOTP).

use crate::error::{ApiError, ApiResult};
use crate::roles::Role;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_engine::config::AuthSettings;
use vouch_store::Store;

pub const TOKEN_PREFIX: &str = "vch_";
pub const SESSION_PREFIX: &str = "vss_";
pub const MIN_PASSWORD: usize = 12;

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// `token:<name>`, `jwt:<sub>` or `user:<username>`.
    pub actor: String,
    pub role: Role,
    pub via: &'static str,
}

fn now() -> String {
    vouch_core::event::format_timestamp(&Utc::now())
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_token(prefix: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    use base64::Engine;
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

// ---------------------------------------------------------------- API tokens

/// Create a token; the secret is returned once and only its hash is stored.
pub fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    expires: Option<DateTime<Utc>>,
) -> Result<(Value, String), String> {
    if name.trim().is_empty() {
        return Err("a token needs a name".into());
    }
    let secret = random_token(TOKEN_PREFIX);
    let id = uuid::Uuid::now_v7().to_string();
    let created = now();
    let exp = expires.map(|e| vouch_core::event::format_timestamp(&e));
    store
        .write(&mut |sql| {
            sql.execute(
                "INSERT INTO api_tokens (id, name, role, token_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[id.clone().into(), name.into(), role.as_str().into(), sha(&secret).into(), created.clone().into(), exp.clone().into()],
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    Ok((
        json!({"id": id, "name": name, "role": role.as_str(), "created_at": created, "expires_at": exp}),
        secret,
    ))
}

pub fn list_tokens(store: &Store) -> Result<Vec<Value>, String> {
    let rows = store
        .query("SELECT id, name, role, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at", &[])
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| json!({"id": r.text(0), "name": r.text(1), "role": r.text(2), "created_at": r.text(3), "expires_at": r.opt_text(4), "revoked_at": r.opt_text(5), "last_used_at": r.opt_text(6)}))
        .collect())
}

pub fn revoke_token(store: &Store, id_or_name: &str) -> Result<(), String> {
    let mut n = 0;
    let at = now();
    store
        .write(&mut |sql| {
            n = sql.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE (id = $1 OR name = $1) AND revoked_at IS NULL",
                &[id_or_name.into(), at.clone().into()],
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no active token `{id_or_name}`"));
    }
    Ok(())
}

fn token_principal(store: &Store, token: &str) -> ApiResult<Principal> {
    let rows = store.query(
        "SELECT name, role, expires_at, revoked_at FROM api_tokens WHERE token_sha256 = $1",
        &[sha(token).into()],
    )?;
    let Some(r) = rows.first() else {
        return Err(ApiError::unauthorized("invalid token"));
    };
    if r.opt_text(3).is_some() {
        return Err(ApiError::unauthorized("the token was revoked"));
    }
    if r.opt_text(2).is_some_and(|e| e <= now()) {
        return Err(ApiError::unauthorized("the token has expired"));
    }
    let role = Role::parse(&r.text(1))
        .ok_or_else(|| ApiError::unauthorized("the token's role is unknown"))?;
    let _ = store.write(&mut |sql| {
        sql.execute(
            "UPDATE api_tokens SET last_used_at = $2 WHERE token_sha256 = $1",
            &[sha(token).into(), now().into()],
        )?;
        Ok(())
    });
    Ok(Principal {
        actor: format!("token:{}", r.text(0)),
        role,
        via: "token",
    })
}

// ---------------------------------------------------------------- JWT

fn jwt_principal(
    settings: &AuthSettings,
    config_dir: &std::path::Path,
    token: &str,
) -> ApiResult<Principal> {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let (alg, key) = match settings.jwt_algorithm.as_str() {
        "" => {
            return Err(ApiError::unauthorized(
                "JWT bearer tokens are not enabled ([auth] jwt_algorithm)",
            ))
        }
        "HS256" => {
            let secret = std::env::var(&settings.jwt_secret_env).map_err(|_| {
                ApiError::internal(format!("{} is not set", settings.jwt_secret_env))
            })?;
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            )
        }
        alg => {
            let path = config_dir.join(&settings.jwt_public_key);
            let pem = std::fs::read(&path)
                .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
            if alg == "RS256" {
                (
                    Algorithm::RS256,
                    DecodingKey::from_rsa_pem(&pem).map_err(ApiError::internal)?,
                )
            } else {
                (
                    Algorithm::ES256,
                    DecodingKey::from_ec_pem(&pem).map_err(ApiError::internal)?,
                )
            }
        }
    };
    let mut v = Validation::new(alg);
    v.validate_exp = true;
    v.leeway = 30;
    v.required_spec_claims = ["exp".to_string()].into_iter().collect();
    if !settings.jwt_issuer.is_empty() {
        v.set_issuer(&[&settings.jwt_issuer]);
    }
    if settings.jwt_audience.is_empty() {
        v.validate_aud = false;
    } else {
        v.set_audience(&[&settings.jwt_audience]);
    }
    let data = decode::<Value>(token, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        ApiError::unauthorized(match e.kind() {
            ErrorKind::ExpiredSignature => "the token has expired".to_string(),
            ErrorKind::InvalidSignature => "the token's signature is invalid".to_string(),
            _ => format!("invalid token: {e}"),
        })
    })?;
    let claim = data.claims.get(&settings.role_claim);
    let names: Vec<String> = match claim {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    // The most powerful role the token maps to.
    let role = names
        .iter()
        .filter_map(|n| {
            settings
                .role_map
                .get(n)
                .map(String::as_str)
                .and_then(Role::parse)
                .or_else(|| Role::parse(n))
        })
        .min_by_key(|r| crate::roles::ROLES.iter().position(|x| x == r))
        .ok_or_else(|| {
            ApiError::forbidden(format!(
                "the token's `{}` claim names no vouch role",
                settings.role_claim
            ))
        })?;
    let sub = data
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    Ok(Principal {
        actor: format!("jwt:{sub}"),
        role,
        via: "jwt",
    })
}

// ---------------------------------------------------------------- local users

pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "passwords must have at least {MIN_PASSWORD} characters"
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn check_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

pub fn add_user(
    store: &Store,
    username: &str,
    role: Role,
    password: &str,
) -> Result<Value, String> {
    if username.trim().is_empty() || username.contains(char::is_whitespace) {
        return Err("a username must be non-empty, without spaces".into());
    }
    let hash = hash_password(password)?;
    let id = uuid::Uuid::now_v7().to_string();
    let created = now();
    store
        .write(&mut |sql| {
            sql.execute(
                "INSERT INTO users (id, username, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[id.clone().into(), username.into(), role.as_str().into(), hash.clone().into(), created.clone().into()],
            )?;
            Ok(())
        })
        .map_err(|e| if e.to_string().contains("UNIQUE") || e.to_string().contains("unique") { format!("user `{username}` already exists") } else { e.to_string() })?;
    Ok(json!({"id": id, "username": username, "role": role.as_str(), "created_at": created}))
}

/// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) at time `t`.
pub fn totp(secret: &[u8], t: i64) -> String {
    use hmac::{Hmac, Mac};
    let counter = (t / 30) as u64;
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    m.update(&counter.to_be_bytes());
    let h = m.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[o]) & 0x7f) << 24
        | u32::from(h[o + 1]) << 16
        | u32::from(h[o + 2]) << 8
        | u32::from(h[o + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// RFC 4648 base32 without padding (what authenticator apps read).
pub fn base32(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(A[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn totp_ok(secret_hex: &str, code: &str) -> bool {
    let Ok(secret) = hex::decode(secret_hex) else {
        return false;
    };
    let t = Utc::now().timestamp();
    // One step of clock drift either way.
    [-30, 0, 30]
        .iter()
        .any(|d| totp(&secret, t + d) == code.trim())
}

/// Log in: password (and TOTP code once enrolled). Returns a session token.
pub fn login(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
) -> ApiResult<(String, Value)> {
    let rows = store.query(
        "SELECT id, role, password_hash, failed_attempts, locked_until, totp_secret, totp_enabled FROM users WHERE username = $1",
        &[username.into()],
    )?;
    let generic = || ApiError::unauthorized("invalid username, password or code");
    let Some(r) = rows.first() else {
        // Same work as a real check, so timing does not reveal which usernames exist.
        let _ = check_password("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0000000000000000000000000000000000000000000", password);
        return Err(generic());
    };
    let id = r.text(0);
    if r.opt_text(4).is_some_and(|until| until > now()) {
        return Err(ApiError::new(
            axum::http::StatusCode::LOCKED,
            "locked",
            "too many failed attempts; the account is locked for a while",
        ));
    }
    let mut ok = check_password(&r.text(2), password);
    let enrolled = r.int(6) == 1;
    if ok && enrolled {
        ok = code.is_some_and(|c| totp_ok(&r.opt_text(5).unwrap_or_default(), c));
    }
    if !ok {
        let failed = r.int(3) + 1;
        let lock = (failed >= i64::from(settings.lockout_attempts)).then(|| {
            vouch_core::event::format_timestamp(
                &(Utc::now() + Duration::minutes(i64::from(settings.lockout_minutes))),
            )
        });
        store.write(&mut |sql| {
            sql.execute(
                "UPDATE users SET failed_attempts = $2, locked_until = $3 WHERE id = $1",
                &[
                    id.clone().into(),
                    (if lock.is_some() { 0 } else { failed }).into(),
                    lock.clone().into(),
                ],
            )?;
            Ok(())
        })?;
        return Err(generic());
    }
    let token = random_token(SESSION_PREFIX);
    let expires = vouch_core::event::format_timestamp(
        &(Utc::now() + Duration::hours(i64::from(settings.session_hours))),
    );
    store.write(&mut |sql| {
        sql.execute("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1", &[id.clone().into()])?;
        sql.execute(
            "INSERT INTO sessions (token_sha256, user_id, created_at, expires_at, mfa) VALUES ($1, $2, $3, $4, $5)",
            &[sha(&token).into(), id.clone().into(), now().into(), expires.clone().into(), i64::from(enrolled).into()],
        )?;
        Ok(())
    })?;
    Ok((
        token,
        json!({"username": username, "role": r.text(1), "expires_at": expires, "mfa": enrolled}),
    ))
}

fn session_principal(store: &Store, token: &str) -> ApiResult<Principal> {
    let rows = store.query(
        "SELECT u.username, u.role, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = $1",
        &[sha(token).into()],
    )?;
    let Some(r) = rows.first() else {
        return Err(ApiError::unauthorized("invalid session"));
    };
    if r.text(2) <= now() {
        return Err(ApiError::unauthorized("the session has expired"));
    }
    let role = Role::parse(&r.text(1)).ok_or_else(|| ApiError::unauthorized("unknown role"))?;
    Ok(Principal {
        actor: format!("user:{}", r.text(0)),
        role,
        via: "session",
    })
}

/// Start TOTP enrolment for a user: a new secret (not active until confirmed).
pub fn totp_enroll(store: &Store, username: &str) -> ApiResult<Value> {
    use rand::RngCore;
    let mut secret = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    let n = {
        let mut n = 0;
        store.write(&mut |sql| {
            n = sql.execute(
                "UPDATE users SET totp_secret = $2, totp_enabled = 0 WHERE username = $1",
                &[username.into(), hex::encode(secret).into()],
            )?;
            Ok(())
        })?;
        n
    };
    if n == 0 {
        return Err(ApiError::bad(
            "TOTP enrolment is for local users; log in with a session",
        ));
    }
    let b32 = base32(&secret);
    Ok(
        json!({"secret": b32, "otpauth_url": format!("otpauth://totp/vouch:{username}?secret={b32}&issuer=vouch&algorithm=SHA1&digits=6&period=30")}),
    )
}

/// Confirm enrolment with a code from the authenticator.
pub fn totp_confirm(store: &Store, username: &str, code: &str) -> ApiResult<()> {
    let rows = store.query(
        "SELECT totp_secret FROM users WHERE username = $1",
        &[username.into()],
    )?;
    let secret = rows
        .first()
        .and_then(|r| r.opt_text(0))
        .ok_or_else(|| ApiError::bad("start enrolment first"))?;
    if !totp_ok(&secret, code) {
        return Err(ApiError::bad("the code does not match"));
    }
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET totp_enabled = 1 WHERE username = $1",
            &[username.into()],
        )?;
        Ok(())
    })?;
    Ok(())
}

// ---------------------------------------------------------------- requests

/// Authenticate a request's bearer token or session cookie.
pub fn authenticate(
    store: &Store,
    settings: &AuthSettings,
    config_dir: &std::path::Path,
    headers: &axum::http::HeaderMap,
) -> ApiResult<Principal> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_string()
        });
    let cookie = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .find_map(|kv| kv.trim().strip_prefix("vouch_session=").map(str::to_string))
        });
    let token = bearer.or(cookie).ok_or_else(|| {
        ApiError::unauthorized("authentication required: Authorization: Bearer <token>")
    })?;
    if token.starts_with(TOKEN_PREFIX) {
        token_principal(store, &token)
    } else if token.starts_with(SESSION_PREFIX) {
        session_principal(store, &token)
    } else if token.matches('.').count() == 2 {
        jwt_principal(settings, config_dir, &token)
    } else {
        Err(ApiError::unauthorized("unrecognised token"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn totp_rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1, 8 digits truncated to 6 by us: compare the low 6.
        let secret = b"12345678901234567890";
        assert_eq!(super::totp(secret, 59), "287082");
        assert_eq!(super::totp(secret, 1111111109), "081804");
        assert_eq!(super::totp(secret, 2000000000), "279037");
        assert_eq!(super::base32(b"foobar"), "MZXW6YTBOI");
    }
}
