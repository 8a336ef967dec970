//! Extractors whose rejections are [`ApiError`]s, so no handler can answer with axum's
//! plain-text rejection (as in axum's `customize-extractor-error` example):
//!
//! * [`Params`]: the query string into a serde struct; percent-decoding is
//!   `percent-encoding`'s, a malformed escape, invalid UTF-8, a parameter given twice or
//!   one the struct does not name is a 400 with today's messages;
//! * [`Path`]: axum's `Path` with a JSON rejection;
//! * [`JsonBody`]: a JSON body parsed strictly (a key given twice is refused, see
//!   [`crate::strict`]), at most [`MAX_BODY`] bytes; [`Fields`] reads its fields with
//!   errors that name them;
//! * [`Caller`] and [`LocalUser`]: who is calling, as the authorization middleware found.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Largest request body read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------- query strings

/// Query parameters deserialized into `T`, a struct of `Option<String>` fields with
/// `#[serde(deny_unknown_fields)]`: its field names are the parameters it accepts.
/// Values stay text; handlers check them with the messages the API documents.
pub struct Params<T>(pub T);

/// A struct the query string is read into.
pub trait QueryParams: DeserializeOwned {
    /// Checks that come before unknown names are refused (the order the API has always
    /// answered in when a request has several faults). None by default.
    fn precheck(_given: &HashMap<String, String>) -> ApiResult<()> {
        Ok(())
    }
}

impl<S: Send + Sync, T: QueryParams> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let given = pairs(parts.uri.query().unwrap_or(""))?;
        T::precheck(&given)?;
        T::deserialize(ParamsDe(given)).map(Params).map_err(|e| e.0)
    }
}

/// The decoded parameters of a query string, each name at most once.
pub fn pairs(raw: &str) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if out.contains_key(&k) {
            return Err(ApiError::bad(format!("parameter `{k}` is given twice")));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// One `application/x-www-form-urlencoded` component: `+` is a space, every `%` starts
/// two hex digits, and the bytes are UTF-8.
fn decode(s: &str) -> ApiResult<String> {
    let well_formed = s
        .split('%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !well_formed {
        return Err(ApiError::bad(
            "malformed percent-encoding in the query string",
        ));
    }
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::bad("the query string is not UTF-8"))
}

/// A serde error carrying the API error to answer with.
#[derive(Debug)]
pub struct ParamsError(ApiError);

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for ParamsError {}

impl de::Error for ParamsError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ParamsError(ApiError::bad(msg.to_string()))
    }
}

/// Deserializes a struct from decoded parameters; a name the struct does not have is
/// refused with the list of those it has.
struct ParamsDe(HashMap<String, String>);

impl<'de> Deserializer<'de> for ParamsDe {
    type Error = ParamsError;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        if let Some(k) = self.0.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(ParamsError(
                ApiError::bad(format!("unknown parameter `{k}`"))
                    .details(json!({"parameter": k, "known": fields})),
            ));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        let map: Map<String, Value> = self.0.into_iter().map(|(k, v)| (k, v.into())).collect();
        Deserializer::deserialize_any(Value::Object(map), visitor)
            .map_err(|e| ParamsError(ApiError::bad(e.to_string())))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// An integer parameter: absent → None; not a non-negative integer → 400 naming it.
pub fn int_param(name: &str, given: Option<&str>) -> ApiResult<Option<u64>> {
    given
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad(format!("{name} must be a non-negative integer"))
                    .details(json!({"parameter": name}))
            })
        })
        .transpose()
}

/// A required parameter: absent → 400 naming it.
pub fn required_param(name: &str, given: Option<String>) -> ApiResult<String> {
    given.ok_or_else(|| {
        ApiError::bad(format!("{name} is required")).details(json!({"parameter": name}))
    })
}

// ---------------------------------------------------------------- path

/// axum's `Path` whose rejection is an [`ApiError`].
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(ApiError::from)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let status = r.status();
        if status.is_server_error() {
            return ApiError::internal(r.body_text());
        }
        ApiError::new(status, "bad_request", r.body_text())
    }
}

// ---------------------------------------------------------------- bodies

/// A JSON body parsed strictly: too large → 413, not JSON → 400, a key given twice → 422.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the body is larger than {MAX_BODY} bytes"),
                )
            })?;
        crate::strict::parse(&bytes).map(JsonBody).map_err(|e| {
            if e.classify() == serde_json::error::Category::Data {
                // Well-formed JSON that we refuse: a key given twice.
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "duplicate_key",
                    format!("the body repeats a key: {e}"),
                )
            } else {
                ApiError::bad(format!("the body is not valid JSON: {e}"))
            }
        })
    }
}

impl JsonBody {
    /// The body as an object whose fields are all in `known`; an unknown one is 422, named.
    pub fn fields(&self, known: &[&str]) -> ApiResult<Fields<'_>> {
        let o = self
            .0
            .as_object()
            .ok_or_else(|| ApiError::bad("the body must be a JSON object"))?;
        if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_field",
                format!("unknown field `{k}`"),
            )
            .details(json!({"field": k, "known": known})));
        }
        Ok(Fields(o))
    }
}

/// The fields of a JSON object body, read with errors that name them.
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl Fields<'_> {
    /// A string field: absent or null → None; present but not a string → 422 naming it.
    pub fn text(&self, k: &str) -> ApiResult<Option<String>> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("`{k}` must be a string"),
            )
            .details(json!({"field": k}))),
        }
    }

    /// A string field that must be given: absent → 400 naming it.
    pub fn required(&self, k: &str) -> ApiResult<String> {
        self.text(k)?
            .ok_or_else(|| ApiError::bad(format!("`{k}` is required")).details(json!({"field": k})))
    }
}

// ---------------------------------------------------------------- caller

/// The authenticated caller, as the authorization middleware put it on the request.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::internal("no authenticated caller on the request"))
    }
}

/// A local user logged in with a session (their username and principal); anyone else is
/// a 400.
pub struct LocalUser {
    /// The local user's name (the actor without `user:`).
    pub username: String,
    /// The caller, with its session.
    pub principal: Principal,
}

impl<S: Send + Sync> FromRequestParts<S> for LocalUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Caller(p) = Caller::from_request_parts(parts, state).await?;
        let username = p
            .actor
            .strip_prefix("user:")
            .filter(|_| p.session.is_some())
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad("this is for local users logged in with a session"))?;
        Ok(LocalUser {
            username,
            principal: p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Two {
        a: Option<String>,
        b: Option<String>,
    }
    impl QueryParams for Two {}

    fn read(raw: &str) -> ApiResult<Two> {
        let given = pairs(raw)?;
        Two::deserialize(ParamsDe(given)).map_err(|e| e.0)
    }

    #[test]
    fn query_strings() {
        let t = read("a=x+y%2B%C3%A9&&b=").unwrap();
        assert_eq!(t.a.as_deref(), Some("x y+é"));
        assert_eq!(t.b.as_deref(), Some(""));
        assert!(read("").unwrap().a.is_none());
        let msg = |raw: &str| read(raw).unwrap_err().message;
        assert_eq!(msg("a=1&a=2"), "parameter `a` is given twice");
        assert_eq!(
            msg("a=%zz"),
            "malformed percent-encoding in the query string"
        );
        assert_eq!(
            msg("a=%4"),
            "malformed percent-encoding in the query string"
        );
        assert_eq!(
            msg("a=%+1"),
            "malformed percent-encoding in the query string"
        );
        assert_eq!(msg("a=%ff"), "the query string is not UTF-8");
        // The key is read before its value.
        assert_eq!(msg("%ff=%zz"), "the query string is not UTF-8");
        let e = read("c=1").unwrap_err();
        assert_eq!(e.message, "unknown parameter `c`");
        assert_eq!(e.details, json!({"parameter": "c", "known": ["a", "b"]}));
        assert_eq!(msg("=1"), "unknown parameter ``");
    }

    #[test]
    fn integers() {
        assert_eq!(int_param("n", Some("7")).unwrap(), Some(7));
        assert_eq!(int_param("n", None).unwrap(), None);
        assert_eq!(
            int_param("n", Some("-1")).unwrap_err().message,
            "n must be a non-negative integer"
        );
    }
}
