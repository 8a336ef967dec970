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

/// Prefix of every API token.
pub const TOKEN_PREFIX: &str = "vch_";
/// Prefix of every session token.
pub const SESSION_PREFIX: &str = "vss_";
/// Fewest characters a password may have.
pub const MIN_PASSWORD: usize = 12;

/// Who is making a request, and with what role.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// `token:<name>`, `jwt:<sub>` or `user:<username>`.
    pub actor: String,
    /// The role granted.
    pub role: Role,
    /// How the caller authenticated: `token`, `jwt` or `session`.
    pub via: &'static str,
    /// The session token's SHA-256, for sessions.
    #[serde(skip)]
    pub session: Option<String>,
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

/// Every API token (never its secret), oldest first.
pub fn list_tokens(store: &Store) -> Result<Vec<Value>, String> {
    let rows = store
        .query("SELECT id, name, role, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at", &[])
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| json!({"id": r.text(0), "name": r.text(1), "role": r.text(2), "created_at": r.text(3), "expires_at": r.opt_text(4), "revoked_at": r.opt_text(5), "last_used_at": r.opt_text(6)}))
        .collect())
}

/// Revoke the unrevoked token with this id or name; an error when there is none, and
/// when a name is shared by several active tokens (revoke those by id: revoking all of
/// them while saying one was revoked surprised the one user who tried).
pub fn revoke_token(store: &Store, id_or_name: &str) -> Result<(), String> {
    let mut n = 0;
    let mut same_name = 0;
    let at = now();
    store
        .write(&mut |sql| {
            same_name = sql
                .query(
                    "SELECT id FROM api_tokens WHERE name = $1 AND id <> $1 AND revoked_at IS NULL",
                    &[id_or_name.into()],
                )?
                .len();
            if same_name > 1 {
                return Ok(());
            }
            // The dashboard sessions made from the token end with it (authentication
            // also re-reads the token's row, so a session never outlives its token).
            sql.execute(
                "DELETE FROM token_sessions WHERE api_token_id IN \
                   (SELECT id FROM api_tokens WHERE (id = $1 OR name = $1) AND revoked_at IS NULL)",
                &[id_or_name.into()],
            )?;
            n = sql.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE (id = $1 OR name = $1) AND revoked_at IS NULL",
                &[id_or_name.into(), at.clone().into()],
            )?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    if same_name > 1 {
        return Err(format!(
            "{same_name} active tokens are named `{id_or_name}`: revoke each by its id (see `vouch tokens list`)"
        ));
    }
    if n == 0 {
        return Err(format!("no active token `{id_or_name}`"));
    }
    Ok(())
}

fn token_principal(store: &Store, token: &str) -> ApiResult<Principal> {
    token_checked(store, token).map(|b| b.principal)
}

/// An API token, checked, with what a session made from it must know.
fn token_checked(store: &Store, token: &str) -> ApiResult<Bearer> {
    let rows = store.query(
        "SELECT name, role, expires_at, revoked_at, id FROM api_tokens WHERE token_sha256 = $1",
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
    Ok(Bearer {
        principal: Principal {
            actor: format!("token:{}", r.text(0)),
            role,
            via: "token",
            session: None,
        },
        api_token_id: Some(r.text(4)),
        expires: r.opt_text(2).as_deref().and_then(parse_ts),
    })
}

fn parse_ts(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

// ---------------------------------------------------------------- JWT

/// Every `[auth] role_map` value must be a vouch role: a typo would silently map a
/// token's role to nothing (403 for everyone holding it).
pub fn check_role_map(config: &vouch_engine::Config) -> Result<(), vouch_engine::Error> {
    for (claim, role) in &config.settings.auth.role_map {
        if Role::parse(role).is_none() {
            let known: Vec<&str> = crate::roles::ROLES.iter().map(|r| r.as_str()).collect();
            return Err(vouch_engine::Error::config(format!(
                "{}: [auth] role_map: `{claim}` maps to `{role}`, which is not a vouch role ({})",
                config.file.display(),
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// `serve` refuses to start with JWT enabled but its secret or key missing (rather
/// than answering every JWT with a 500 later).
pub fn check_settings(config: &vouch_engine::Config) -> Result<(), vouch_engine::Error> {
    check_role_map(config)?;
    let s = &config.settings.auth;
    let bad = |m: String| Err(vouch_engine::Error::config(m));
    match s.jwt_algorithm.as_str() {
        "" => Ok(()),
        "HS256" => match std::env::var(&s.jwt_secret_env) {
            Ok(v) if v.len() >= 32 => Ok(()),
            Ok(v) if !v.is_empty() => bad(format!(
                "[auth] jwt_algorithm = \"HS256\": the secret in {} is shorter than 32 bytes",
                s.jwt_secret_env
            )),
            _ => bad(format!(
                "[auth] jwt_algorithm = \"HS256\" but {} is not set (the shared secret)",
                s.jwt_secret_env
            )),
        },
        alg @ ("RS256" | "ES256") => {
            if s.jwt_public_key.is_empty() {
                return bad(format!(
                    "[auth] jwt_algorithm = \"{alg}\" but jwt_public_key is empty"
                ));
            }
            let dir = config.file.parent().unwrap_or(std::path::Path::new("."));
            let path = dir.join(&s.jwt_public_key);
            let pem = match std::fs::read(&path) {
                Ok(p) => p,
                Err(e) => return bad(format!("[auth] jwt_public_key {}: {e}", path.display())),
            };
            let ok = if alg == "RS256" {
                jsonwebtoken::DecodingKey::from_rsa_pem(&pem).is_ok()
            } else {
                jsonwebtoken::DecodingKey::from_ec_pem(&pem).is_ok()
            };
            if ok {
                Ok(())
            } else {
                bad(format!(
                    "[auth] jwt_public_key {}: not a PEM {} public key",
                    path.display(),
                    if alg == "RS256" { "RSA" } else { "EC P-256" }
                ))
            }
        }
        other => bad(format!(
            "[auth] jwt_algorithm `{other}`: use HS256, RS256 or ES256"
        )),
    }
}

fn jwt_principal(
    settings: &AuthSettings,
    config_dir: &std::path::Path,
    token: &str,
) -> ApiResult<Principal> {
    jwt_checked(settings, config_dir, token).map(|b| b.principal)
}

/// A JWT, checked, with its `exp` (required) as the end of any session made from it.
fn jwt_checked(
    settings: &AuthSettings,
    config_dir: &std::path::Path,
    token: &str,
) -> ApiResult<Bearer> {
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
    v.validate_nbf = true;
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
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_string(),
            ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_string(),
            ErrorKind::InvalidAudience => "the token's audience is not accepted".to_string(),
            ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted".to_string(),
            ErrorKind::MissingRequiredClaim(c)
                if c.len() <= 8 && c.chars().all(|x| x.is_ascii_alphabetic()) =>
            {
                format!("the token lacks the `{c}` claim")
            }
            // Library details (base64, JSON positions) stay out of the answer.
            _ => "invalid token".to_string(),
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
    let expires = data
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|e| DateTime::from_timestamp(e, 0));
    Ok(Bearer {
        principal: Principal {
            actor: format!("jwt:{sub}"),
            role,
            via: "jwt",
            session: None,
        },
        api_token_id: None,
        expires,
    })
}

// ---------------------------------------------------------------- local users

/// Seed 003's password policy: at least 12 characters, three of four character classes
/// (lower case, upper case, digits, others), not the username.
pub fn password_policy(username: &str, password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "passwords must have at least {MIN_PASSWORD} characters"
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if classes < 3 {
        return Err(
            "passwords must mix at least three of: lower case, upper case, digits, other characters"
                .into(),
        );
    }
    if username.chars().count() >= 3 && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("passwords must not contain the username".into());
    }
    Ok(())
}

/// An Argon2 hash (PHC string) of `password`, which must have at least [`MIN_PASSWORD`] characters.
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

/// Add a local user with `role`; the password must pass the password policy.
pub fn add_user(
    store: &Store,
    username: &str,
    role: Role,
    password: &str,
) -> Result<Value, String> {
    if username.trim().is_empty() || username.contains(char::is_whitespace) {
        return Err("a username must be non-empty, without spaces".into());
    }
    password_policy(username, password)?;
    let hash = hash_password(password)?;
    let id = uuid::Uuid::now_v7().to_string();
    let created = now();
    store
        .write(&mut |sql| {
            sql.execute(
                "INSERT INTO users (id, username, role, password_hash, created_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $5)",
                &[id.clone().into(), username.into(), role.as_str().into(), hash.clone().into(), created.clone().into()],
            )?;
            sql.execute(
                "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
                &[id.clone().into(), hash.clone().into(), created.clone().into()],
            )?;
            Ok(())
        })
        .map_err(|e| if e.to_string().contains("UNIQUE") || e.to_string().contains("unique") { format!("user `{username}` already exists") } else { e.to_string() })?;
    Ok(json!({"id": id, "username": username, "role": role.as_str(), "created_at": created}))
}

/// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) at time `t`.
pub fn totp(secret: &[u8], t: i64) -> String {
    totp_at_step(secret, t / 30)
}

fn totp_at_step(secret: &[u8], step: i64) -> String {
    use hmac::{Hmac, Mac};
    let counter = step as u64;
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

/// The time step a code belongs to (one step of clock drift either way), if any.
fn totp_step(secret_hex: &str, code: &str) -> Option<i64> {
    let secret = hex::decode(secret_hex).ok()?;
    let step = Utc::now().timestamp() / 30;
    let code = code.trim();
    (code.len() == 6).then_some(()).and_then(|_| {
        [step - 1, step, step + 1]
            .into_iter()
            .find(|s| totp_at_step(&secret, *s) == code)
    })
}

/// A code is good once: claim its time step, atomically, unless this or a later step
/// was already used.
fn claim_step(store: &Store, user_id: &str, step: i64) -> ApiResult<bool> {
    let mut n = 0;
    store.write(&mut |sql| {
        n = sql.execute(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            &[user_id.into(), step.into()],
        )?;
        Ok(())
    })?;
    Ok(n == 1)
}

/// Count a failed attempt in the database, atomically (concurrent failures each count),
/// and lock the account once the limit is reached. An expired lock starts a new count.
/// True for the one failure that locked the account (counts are serialised per row).
fn record_failure(store: &Store, settings: &AuthSettings, user_id: &str) -> ApiResult<bool> {
    let mut newly_locked = false;
    let at = now();
    let until = vouch_core::event::format_timestamp(
        &(Utc::now() + Duration::minutes(i64::from(settings.lockout_minutes))),
    );
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET \
               failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_attempts + 1 END, \
               locked_until = CASE \
                 WHEN locked_until IS NOT NULL AND locked_until > $2 THEN locked_until \
                 WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_attempts + 1 END) >= $3 THEN $4 \
                 ELSE NULL END \
             WHERE id = $1",
            &[user_id.into(), at.clone().into(), i64::from(settings.lockout_attempts).into(), until.clone().into()],
        )?;
        let rows = sql.query(
            "SELECT failed_attempts FROM users WHERE id = $1",
            &[user_id.into()],
        )?;
        newly_locked = rows
            .first()
            .is_some_and(|r| r.int(0) == i64::from(settings.lockout_attempts));
        Ok(())
    })?;
    Ok(newly_locked)
}

fn locked() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::LOCKED,
        "locked",
        "too many failed attempts; the account is locked for a while",
    )
}

/// An argon2id hash of a random password, made once, verified against for unknown names.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        hash_password(&random_token("dummy-")).unwrap_or_else(|_| {
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0000000000000000000000000000000000000000000".into()
        })
    })
}

/// A locked account, at login, answers exactly like a wrong password (and like an
/// unknown name), so the lockout does not reveal which accounts exist; the lock still
/// holds. Callers already signed in (changing a password or MFA) get `locked()`.
fn hide_lock(e: ApiError) -> ApiError {
    if e.code == "locked" {
        generic()
    } else {
        e
    }
}

fn generic() -> ApiError {
    ApiError::unauthorized("invalid username, password or code")
}

/// A user row as the checks below need it.
struct UserRow {
    id: String,
    role: String,
    hash: String,
    locked_until: Option<String>,
    totp_secret: Option<String>,
    totp_enabled: bool,
    totp_pending: Option<String>,
}

fn user_row(store: &Store, username: &str) -> ApiResult<Option<UserRow>> {
    let rows = store.query(
        "SELECT id, role, password_hash, locked_until, totp_secret, totp_enabled, totp_pending FROM users WHERE username = $1",
        &[username.into()],
    )?;
    Ok(rows.first().map(|r| UserRow {
        id: r.text(0),
        role: r.text(1),
        hash: r.text(2),
        locked_until: r.opt_text(3),
        totp_secret: r.opt_text(4),
        totp_enabled: r.int(5) == 1,
        totp_pending: r.opt_text(6),
    }))
}

/// Password (and, once TOTP is enabled, a fresh code) for `username`; every failure
/// counts towards the lockout.
fn check_credentials(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
    newly_locked: &mut bool,
) -> ApiResult<UserRow> {
    let Some(u) = user_row(store, username)? else {
        // Same work as a real check (a real argon2id hash with the default parameters),
        // so timing does not reveal which usernames exist.
        let _ = check_password(dummy_hash(), password);
        return Err(generic());
    };
    if u.locked_until
        .as_deref()
        .is_some_and(|until| until > now().as_str())
    {
        // The same work as an unlocked account, so timing does not reveal the lock.
        let _ = check_password(&u.hash, password);
        return Err(locked());
    }
    let mut ok = check_password(&u.hash, password);
    if ok && u.totp_enabled {
        ok = match code.and_then(|c| totp_step(&u.totp_secret.clone().unwrap_or_default(), c)) {
            Some(step) => claim_step(store, &u.id, step)?,
            None => false,
        };
    }
    if !ok {
        *newly_locked = record_failure(store, settings, &u.id)?;
        return Err(generic());
    }
    Ok(u)
}

/// End every session of a user except `keep` (a session token's SHA-256).
fn end_other_sessions(store: &Store, user_id: &str, keep: Option<&str>) -> ApiResult<u64> {
    let mut n = 0;
    store.write(&mut |sql| {
        n = sql.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token_sha256 <> $2",
            &[user_id.into(), keep.unwrap_or("").into()],
        )?;
        Ok(())
    })?;
    Ok(n)
}

/// Log in: password (and TOTP code once enrolled). Returns a session token.
pub fn login(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
) -> ApiResult<(String, Value)> {
    login_noting_lock(store, settings, username, password, code, &mut false)
}

/// [`login`], setting `newly_locked` when this failure locked the account (for the
/// self-audit: the answer does not say so).
pub fn login_noting_lock(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
    newly_locked: &mut bool,
) -> ApiResult<(String, Value)> {
    let u = check_credentials(store, settings, username, password, code, newly_locked)
        .map_err(hide_lock)?;
    let token = random_token(SESSION_PREFIX);
    let at = now();
    let expires = vouch_core::event::format_timestamp(
        &(Utc::now() + Duration::hours(i64::from(settings.session_hours))),
    );
    let mut unlocked = 0;
    store.write(&mut |sql| {
        // Reset the count only if no concurrent failure locked the account meanwhile.
        unlocked = sql.execute(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)",
            &[u.id.clone().into(), at.clone().into()],
        )?;
        if unlocked == 0 {
            return Ok(());
        }
        sql.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2",
            &[u.id.clone().into(), at.clone().into()],
        )?;
        sql.execute(
            "INSERT INTO sessions (token_sha256, user_id, created_at, expires_at, mfa) VALUES ($1, $2, $3, $4, $5)",
            &[sha(&token).into(), u.id.clone().into(), at.clone().into(), expires.clone().into(), i64::from(u.totp_enabled).into()],
        )?;
        // At most max_sessions at once: the oldest end.
        sql.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token_sha256 NOT IN \
               (SELECT token_sha256 FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, token_sha256 LIMIT $2)",
            &[u.id.clone().into(), i64::from(settings.max_sessions).into()],
        )?;
        Ok(())
    })?;
    if unlocked == 0 {
        return Err(generic());
    }
    Ok((
        token,
        json!({"username": username, "role": u.role, "expires_at": expires, "mfa": u.totp_enabled}),
    ))
}

fn session_principal(store: &Store, token: &str) -> ApiResult<Principal> {
    let rows = store.query(
        "SELECT u.username, u.role, s.expires_at, u.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = $1",
        &[sha(token).into()],
    )?;
    let Some(r) = rows.first() else {
        return token_session_principal(store, token);
    };
    if r.text(2) <= now() {
        return Err(ApiError::unauthorized("the session has expired"));
    }
    let role = Role::parse(&r.text(1)).ok_or_else(|| ApiError::unauthorized("unknown role"))?;
    Ok(Principal {
        actor: format!("user:{}", r.text(0)),
        role,
        via: "session",
        session: Some(sha(token)),
    })
}

/// A session made from a token ([`start_token_session`]): valid until it expires, and
/// only while the API token it was made from is neither revoked nor expired.
fn token_session_principal(store: &Store, token: &str) -> ApiResult<Principal> {
    let rows = store.query(
        "SELECT s.actor, s.role, s.expires_at, s.api_token_id, t.id, t.revoked_at, t.expires_at \
           FROM token_sessions s LEFT JOIN api_tokens t ON t.id = s.api_token_id \
          WHERE s.token_sha256 = $1",
        &[sha(token).into()],
    )?;
    let Some(r) = rows.first() else {
        return Err(ApiError::unauthorized("invalid session"));
    };
    let at = now();
    if r.text(2) <= at {
        return Err(ApiError::unauthorized("the session has expired"));
    }
    if r.opt_text(3).is_some() {
        if r.opt_text(4).is_none() || r.opt_text(5).is_some() {
            return Err(ApiError::unauthorized(
                "the token this session was made from was revoked",
            ));
        }
        if r.opt_text(6).is_some_and(|e| e <= at) {
            return Err(ApiError::unauthorized(
                "the token this session was made from has expired",
            ));
        }
    }
    let role = Role::parse(&r.text(1)).ok_or_else(|| ApiError::unauthorized("unknown role"))?;
    Ok(Principal {
        actor: r.text(0),
        role,
        via: "session",
        session: Some(sha(token)),
    })
}

/// An API token or a JWT, checked (not a session: [`start_token_session`] exchanges
/// one of these for a session).
pub struct Bearer {
    /// Who the token is.
    pub principal: Principal,
    /// The API token's id (`None` for a JWT): its sessions end when it is revoked.
    pub api_token_id: Option<String>,
    /// When the token expires, if it does.
    pub expires: Option<DateTime<Utc>>,
}

/// Check an API token (`vch_…`) or a JWT given in a form (the dashboard's token log-in).
pub fn check_bearer(
    store: &Store,
    settings: &AuthSettings,
    config_dir: &std::path::Path,
    token: &str,
) -> ApiResult<Bearer> {
    let token = token.trim();
    if token.starts_with(TOKEN_PREFIX) {
        token_checked(store, token)
    } else if token.len() <= 8192 && token.matches('.').count() == 2 {
        jwt_checked(settings, config_dir, token)
    } else {
        Err(ApiError::unauthorized(
            "unrecognised token: expected an API token (vch_…) or a JWT",
        ))
    }
}

/// Exchange a checked token for a server-side session: returns the session token (for
/// the cookie; only its SHA-256 is stored) and when it expires — after `session_hours`,
/// or when the token expires if that is sooner. The token itself is kept nowhere.
pub fn start_token_session(
    store: &Store,
    settings: &AuthSettings,
    bearer: &Bearer,
) -> ApiResult<(String, DateTime<Utc>)> {
    let session = random_token(SESSION_PREFIX);
    let start = Utc::now();
    let mut expires = start + Duration::hours(i64::from(settings.session_hours));
    if let Some(e) = bearer.expires {
        expires = expires.min(e);
    }
    let (at, until) = (
        vouch_core::event::format_timestamp(&start),
        vouch_core::event::format_timestamp(&expires),
    );
    let p = &bearer.principal;
    store.write(&mut |sql| {
        sql.execute(
            "DELETE FROM token_sessions WHERE expires_at <= $1",
            &[at.clone().into()],
        )?;
        sql.execute(
            "INSERT INTO token_sessions (token_sha256, api_token_id, actor, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                sha(&session).into(),
                bearer.api_token_id.clone().into(),
                p.actor.clone().into(),
                p.role.as_str().into(),
                at.clone().into(),
                until.clone().into(),
            ],
        )?;
        Ok(())
    })?;
    Ok((session, expires))
}

/// End the caller's session (a local user's or one made from a token).
pub fn logout(store: &Store, session: &str) -> ApiResult<()> {
    store.write(&mut |sql| {
        sql.execute(
            "DELETE FROM sessions WHERE token_sha256 = $1",
            &[session.into()],
        )?;
        sql.execute(
            "DELETE FROM token_sessions WHERE token_sha256 = $1",
            &[session.into()],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Start TOTP enrolment: the password (and the current code, when TOTP is on) first.
/// The new secret waits for confirmation; an enabled TOTP stays on meanwhile.
pub fn totp_enroll(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
) -> ApiResult<Value> {
    use rand::RngCore;
    let u = check_credentials(store, settings, username, password, code, &mut false)?;
    let mut secret = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET totp_pending = $2 WHERE id = $1",
            &[u.id.clone().into(), hex::encode(secret).into()],
        )?;
        Ok(())
    })?;
    let b32 = base32(&secret);
    Ok(
        json!({"secret": b32, "otpauth_url": format!("otpauth://totp/vouch:{username}?secret={b32}&issuer=vouch&algorithm=SHA1&digits=6&period=30"), "totp_enabled": u.totp_enabled}),
    )
}

/// Confirm enrolment with a code from the authenticator: the pending secret becomes
/// the user's, and every other session ends.
pub fn totp_confirm(
    store: &Store,
    username: &str,
    code: &str,
    session: Option<&str>,
) -> ApiResult<()> {
    let u = user_row(store, username)?.ok_or_else(generic)?;
    let pending = u
        .totp_pending
        .ok_or_else(|| ApiError::bad("start enrolment first (POST /auth/totp/enroll)"))?;
    let step = totp_step(&pending, code).ok_or_else(|| ApiError::bad("the code does not match"))?;
    let mut n = 0;
    store.write(&mut |sql| {
        n = sql.execute(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled = 1, totp_last_step = $3 WHERE id = $1 AND totp_pending = $2",
            &[u.id.clone().into(), pending.clone().into(), step.into()],
        )?;
        Ok(())
    })?;
    if n == 0 {
        return Err(ApiError::bad(
            "the enrolment changed meanwhile; start again",
        ));
    }
    end_other_sessions(store, &u.id, session)?;
    Ok(())
}

/// Switch TOTP off: the password and a current code; every other session ends.
pub fn totp_disable(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    code: Option<&str>,
    session: Option<&str>,
) -> ApiResult<()> {
    let u = check_credentials(store, settings, username, password, code, &mut false)?;
    if !u.totp_enabled {
        return Err(ApiError::bad("TOTP is not enabled"));
    }
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_pending = NULL WHERE id = $1",
            &[u.id.clone().into()],
        )?;
        Ok(())
    })?;
    end_other_sessions(store, &u.id, session)?;
    Ok(())
}

/// The last `n` password hashes of a user (the current one included).
fn recent_hashes(store: &Store, user_id: &str, n: u32) -> ApiResult<Vec<String>> {
    Ok(store
        .query(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
            &[user_id.into(), i64::from(n).into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect())
}

/// Set a new password (policy, not one of the last `password_history`), recorded in
/// the history; every session but `keep` ends.
pub fn set_password(
    store: &Store,
    settings: &AuthSettings,
    user_id: &str,
    username: &str,
    current_hash: &str,
    new: &str,
    keep: Option<&str>,
) -> ApiResult<()> {
    password_policy(username, new)
        .map_err(|m| ApiError::bad(m).details(json!({"field": "new_password"})))?;
    let mut recent = recent_hashes(store, user_id, settings.password_history.max(1))?;
    recent.push(current_hash.to_string());
    if recent.iter().any(|h| check_password(h, new)) {
        return Err(ApiError::bad(format!(
            "the new password was used recently (the last {} may not be reused)",
            settings.password_history
        ))
        .details(json!({"field": "new_password"})));
    }
    let hash = hash_password(new).map_err(ApiError::bad)?;
    let at = now();
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
            &[user_id.into(), hash.clone().into(), at.clone().into()],
        )?;
        sql.execute(
            "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
            &[user_id.into(), hash.clone().into(), at.clone().into()],
        )?;
        Ok(())
    })?;
    end_other_sessions(store, user_id, keep)?;
    Ok(())
}

/// A user changes their own password: the current one (and a code once TOTP is on).
pub fn change_password(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    current: &str,
    new: &str,
    code: Option<&str>,
    session: Option<&str>,
) -> ApiResult<()> {
    let u = check_credentials(store, settings, username, current, code, &mut false)?;
    set_password(store, settings, &u.id, username, &u.hash, new, session)
}

/// An administrator resets a user's password (CLI); every session of the user ends.
pub fn reset_password(
    store: &Store,
    settings: &AuthSettings,
    username: &str,
    new: &str,
) -> ApiResult<()> {
    let u = user_row(store, username)?
        .ok_or_else(|| ApiError::not_found(format!("no user `{username}`")))?;
    set_password(store, settings, &u.id, username, &u.hash, new, None)?;
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1",
            &[u.id.clone().into()],
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
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    // Another scheme (Basic, Digest, ...) is named, never echoed with its credentials.
    if let Some(scheme) = authorization
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, _)| scheme)
        .filter(|s| !s.eq_ignore_ascii_case("bearer"))
    {
        let scheme: String = scheme
            .chars()
            .take(32)
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        return Err(ApiError::unauthorized(format!(
            "unsupported authorization scheme `{scheme}`: expected `Authorization: Bearer <token>`"
        )));
    }
    let bearer = authorization.map(|v| {
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
        Err(ApiError::unauthorized(
            "unrecognised token: expected `Authorization: Bearer <token>` with an API token (vch_…), a session (vss_…) or a JWT",
        ))
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
