//! The audit event: the seeds' audit-log shape, validated and normalised.
//!
//! Input is parsed field by field so that every rejection names the field at fault.
//! A validated event is kept as a JSON object whose canonical form (RFC 8785, plus the
//! `seq` the ledger assigns) is the Merkle leaf; nothing about an event lives outside it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// How far in the future (by this machine's clock) an event's timestamp may be, by
/// default: `ledger.max_clock_skew` in vouch.toml.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: i64 = 300;

static MAX_CLOCK_SKEW_SECS: AtomicI64 = AtomicI64::new(DEFAULT_MAX_CLOCK_SKEW_SECS);

/// Set the process-wide limit on future timestamps (the ledger does, from its config).
pub fn set_max_clock_skew(skew: chrono::Duration) {
    MAX_CLOCK_SKEW_SECS.store(skew.num_seconds().max(0), Ordering::Relaxed);
}

/// The current limit on future timestamps.
pub fn max_clock_skew() -> chrono::Duration {
    chrono::Duration::seconds(MAX_CLOCK_SKEW_SECS.load(Ordering::Relaxed))
}

/// Largest accepted event, in bytes of JSON (input and canonical form alike).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Event categories (seed 003).
pub const CATEGORIES: &[&str] = &[
    "authentication",
    "authorization",
    "data_access",
    "data_modification",
    "administrative",
    "security",
    "system",
];

/// Event outcomes.
pub const RESULTS: &[&str] = &["success", "failure", "denied"];

/// Retention classes (seed 003: security 7 years, access 2 years, application 90 days,
/// debug 30 days).
pub const RETENTIONS: &[&str] = &["security", "access", "application", "debug"];

/// Retention period of a class, in days.
pub fn retention_days(class: &str) -> Option<u32> {
    match class {
        "security" => Some(2555),
        "access" => Some(730),
        "application" => Some(90),
        "debug" => Some(30),
        _ => None,
    }
}

/// The retention class an event gets when it names none.
pub fn default_retention(category: &str) -> &'static str {
    match category {
        "authentication" | "authorization" | "security" | "administrative" => "security",
        "data_access" | "data_modification" => "access",
        _ => "application",
    }
}

/// Why an event was rejected: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field (`actor.ip`), or `(event)` for the whole event.
    pub field: String,
    /// What is wrong with the field.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A validated, normalised event, not yet sequenced.
#[derive(Debug, Clone)]
pub struct Event {
    fields: Map<String, Value>,
    /// RFC 8785 form of `fields` (no `seq`): computed once, spliced into every leaf.
    canonical: Vec<u8>,
    /// Microseconds since the Unix epoch of `timestamp`.
    pub ts_micros: i64,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

/// Length of the canonical tail `"timestamp":"YYYY-MM-DDTHH:MM:SS.ffffffZ"}`.
/// `timestamp` is the greatest top-level key, so it always ends the object.
const TIMESTAMP_TAIL: usize = "\"timestamp\":\"2026-01-02T03:04:05.000000Z\"}".len();

impl Event {
    /// The event id (a UUID, lower case).
    pub fn id(&self) -> &str {
        self.fields
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// The normalised timestamp (RFC 3339, UTC, six fractional digits).
    pub fn timestamp(&self) -> &str {
        self.str_field("timestamp")
    }
    /// The event category (`authentication`, `data_access`, …).
    pub fn category(&self) -> &str {
        self.str_field("category")
    }
    /// The action the event records.
    pub fn action(&self) -> &str {
        self.str_field("action")
    }
    /// The outcome of the action (`success`, `failure`, …).
    pub fn result(&self) -> &str {
        self.str_field("result")
    }
    fn str_field(&self, k: &str) -> &str {
        self.fields
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// The normalised fields (without `seq`).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// Canonical JSON of the event without `seq`.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The leaf: canonical JSON of the event with its sequence number.
    pub fn leaf(&self, seq: u64) -> Vec<u8> {
        splice_seq(&self.canonical, seq)
    }

    /// Keep only what sequencing needs (id, timestamp, canonical bytes), so the parsed
    /// fields are freed on the caller's thread rather than the sequencer's.
    pub fn seal(self) -> Sealed {
        let id = self.id().to_string();
        let ts = self.timestamp().to_string();
        Sealed {
            id,
            ts,
            canonical: self.canonical,
        }
    }
}

/// An event reduced to what the sequencer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The event id (a lower-case UUID).
    pub id: String,
    /// The normalised timestamp.
    pub ts: String,
    /// Canonical JSON of the event without `seq`.
    pub canonical: Vec<u8>,
}

impl Sealed {
    /// The leaf: canonical JSON of the event with its sequence number.
    pub fn leaf(&self, seq: u64) -> Vec<u8> {
        splice_seq(&self.canonical, seq)
    }
}

/// `seq` sorts just before `timestamp`, the last key of a canonical event, so the leaf
/// is the canonical event with `"seq":N,` spliced in, without re-encoding.
fn splice_seq(canonical: &[u8], seq: u64) -> Vec<u8> {
    let split = canonical.len() - TIMESTAMP_TAIL;
    let mut out = Vec::with_capacity(canonical.len() + 28);
    out.extend_from_slice(&canonical[..split]);
    out.extend_from_slice(b"\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.push(b',');
    out.extend_from_slice(&canonical[split..]);
    out
}

impl Event {
    /// Parse one event from JSON text.
    pub fn parse_json(text: &str) -> Result<Event, FieldError> {
        if text.len() > MAX_EVENT_BYTES {
            return Err(err(
                "(event)",
                format!(
                    "event is {} bytes; the limit is {} bytes (64 KiB)",
                    text.len(),
                    MAX_EVENT_BYTES
                ),
            ));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| err("(event)", format!("invalid JSON: {e}")))?;
        Event::from_value(value)
    }

    /// Validate and normalise a parsed JSON value from outside: its timestamp may not be
    /// more than [`max_clock_skew`] ahead of this machine's clock.
    pub fn from_value(value: Value) -> Result<Event, FieldError> {
        let e = Event::from_own_clock(value)?;
        e.check_not_future(Utc::now(), max_clock_skew())?;
        Ok(e)
    }

    /// Reject a timestamp more than `skew` after `now`.
    pub fn check_not_future(
        &self,
        now: DateTime<Utc>,
        skew: chrono::Duration,
    ) -> Result<(), FieldError> {
        let limit = now + skew;
        if self.ts_micros > limit.timestamp_micros() {
            return Err(err(
                "timestamp",
                format!(
                    "`{}` is in the future: more than {} s (ledger.max_clock_skew) after this machine's clock ({}); check the sender's clock",
                    self.timestamp(),
                    skew.num_seconds(),
                    format_timestamp(&now)
                ),
            ));
        }
        Ok(())
    }

    /// Validate and normalise an event vouch timestamps itself (its own actions, on its
    /// own or an injected clock): every rule but the future-timestamp one.
    pub fn from_own_clock(value: Value) -> Result<Event, FieldError> {
        Event::from_own_clock_all(value).map_err(|mut errors| errors.remove(0))
    }

    /// Validate and normalise a parsed JSON value from outside, reporting every field
    /// at fault (at least one error when it fails), in the order of the input's fields.
    pub fn from_value_all(value: Value) -> Result<Event, Vec<FieldError>> {
        let e = Event::from_own_clock_all(value)?;
        e.check_not_future(Utc::now(), max_clock_skew())
            .map_err(|e| vec![e])?;
        Ok(e)
    }

    /// [`Event::from_own_clock`], reporting every field at fault.
    pub fn from_own_clock_all(value: Value) -> Result<Event, Vec<FieldError>> {
        let Value::Object(input) = value else {
            return Err(vec![err("(event)", "an event must be a JSON object")]);
        };
        let mut out = Map::new();
        let mut actor = Map::new();
        let mut resource = Map::new();
        let mut ts_micros = 0;
        let mut errors: Vec<FieldError> = Vec::new();
        let mut one = |key: String, v: Value| -> Result<(), FieldError> {
            match key.as_str() {
                "id" => {
                    if v.is_null() {
                        return Ok(());
                    }
                    let s = v
                        .as_str()
                        .ok_or_else(|| err("id", "must be a string (a UUID)"))?;
                    let id = uuid::Uuid::parse_str(s)
                        .map_err(|_| err("id", format!("`{}` is not a UUID", truncate(s))))?;
                    out.insert("id".into(), Value::String(id.hyphenated().to_string()));
                }
                "timestamp" => {
                    let (text, micros) =
                        normalize_timestamp(&v).map_err(|m| err("timestamp", m))?;
                    ts_micros = micros;
                    out.insert("timestamp".into(), Value::String(text));
                }
                "organization_id" => {
                    if !v.is_null() {
                        out.insert(key.clone(), Value::String(short_string(&key, &v, 256)?));
                    }
                }
                "action" => {
                    let s = short_string("action", &v, 256)?;
                    if s.trim().is_empty() {
                        return Err(err("action", "must not be empty"));
                    }
                    out.insert(key, Value::String(s));
                }
                "category" => {
                    let s = enum_string("category", &v, CATEGORIES)?;
                    out.insert(key, Value::String(s));
                }
                "result" => {
                    let s = enum_string("result", &v, RESULTS)?;
                    out.insert(key, Value::String(s));
                }
                "retention" => {
                    if !v.is_null() {
                        let s = enum_string("retention", &v, RETENTIONS)?;
                        out.insert(key, Value::String(s));
                    }
                }
                "actor" => {
                    merge_object("actor", v, &mut actor, &["id", "email", "ip"])?;
                }
                "resource" => {
                    merge_object("resource", v, &mut resource, &["type", "id", "name"])?;
                }
                "actor_id" | "actor_email" | "actor_ip" => {
                    let sub = &key["actor_".len()..];
                    if !v.is_null()
                        && actor
                            .insert(sub.to_string(), Value::String(short_string(&key, &v, 512)?))
                            .is_some()
                    {
                        return Err(err(&key, "given twice (nested and flat form)"));
                    }
                }
                "resource_type" | "resource_id" | "resource_name" => {
                    let sub = &key["resource_".len()..];
                    if !v.is_null()
                        && resource
                            .insert(
                                sub.to_string(),
                                Value::String(short_string(&key, &v, 1024)?),
                            )
                            .is_some()
                    {
                        return Err(err(&key, "given twice (nested and flat form)"));
                    }
                }
                "details" => {
                    if v.is_null() {
                        return Ok(());
                    }
                    let Value::Object(d) = v else {
                        return Err(err("details", "must be an object"));
                    };
                    for (dk, dv) in &d {
                        match dk.as_str() {
                            "description" => {
                                if !(dv.is_string() || dv.is_null()) {
                                    return Err(err("details.description", "must be a string"));
                                }
                            }
                            "changes" => {
                                if !(dv.is_array() || dv.is_null()) {
                                    return Err(err("details.changes", "must be an array"));
                                }
                            }
                            "before_state" | "after_state" => {}
                            other => {
                                return Err(err(&format!("details.{other}"), "unknown field (expected description, before_state, after_state, changes; put anything else in `metadata`)"));
                            }
                        }
                    }
                    out.insert(key, Value::Object(d));
                }
                "metadata" => {
                    if v.is_null() {
                        return Ok(());
                    }
                    if !v.is_object() {
                        return Err(err("metadata", "must be an object"));
                    }
                    out.insert(key, v);
                }
                "seq" => return Err(err("seq", "is assigned by the ledger and must not be sent")),
                other => {
                    return Err(err(other, "unknown field (expected id, timestamp, organization_id, actor, action, category, resource, details, result, metadata, retention)"));
                }
            }
            Ok(())
        };
        for (key, v) in input {
            if let Err(e) = one(key, v) {
                errors.push(e);
            }
        }
        if !actor.is_empty() {
            out.insert("actor".into(), Value::Object(actor));
        }
        if !resource.is_empty() {
            out.insert("resource".into(), Value::Object(resource));
        }
        for required in ["timestamp", "action", "category", "result"] {
            if !out.contains_key(required) && !errors.iter().any(|e| e.field == required) {
                errors.push(err(required, "is required"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !out.contains_key("id") {
            out.insert(
                "id".into(),
                Value::String(uuid::Uuid::now_v7().hyphenated().to_string()),
            );
        }
        if !out.contains_key("retention") {
            let class = default_retention(out["category"].as_str().unwrap_or_default());
            out.insert("retention".into(), Value::String(class.into()));
        }
        let mut canonical = Vec::with_capacity(512);
        crate::canonical::write_object(&mut canonical, &out, None);
        if canonical.len() > MAX_EVENT_BYTES {
            return Err(vec![err("(event)", format!("event is {} bytes in canonical form; the limit is {MAX_EVENT_BYTES} bytes (64 KiB)", canonical.len()))]);
        }
        debug_assert!(
            canonical.ends_with(b"Z\"}")
                && canonical[canonical.len() - TIMESTAMP_TAIL..].starts_with(b"\"timestamp\":\"")
        );
        Ok(Event {
            fields: out,
            canonical,
            ts_micros,
        })
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

fn short_string(field: &str, v: &Value, max: usize) -> Result<String, FieldError> {
    let s = v.as_str().ok_or_else(|| err(field, "must be a string"))?;
    if s.len() > max {
        return Err(err(
            field,
            format!("is {} bytes long; the limit is {max}", s.len()),
        ));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(err(field, "must not contain control characters"));
    }
    Ok(s.to_string())
}

fn enum_string(field: &str, v: &Value, allowed: &[&str]) -> Result<String, FieldError> {
    let s = v.as_str().ok_or_else(|| {
        err(
            field,
            format!("must be a string, one of: {}", allowed.join(", ")),
        )
    })?;
    if !allowed.contains(&s) {
        return Err(err(
            field,
            format!(
                "unknown value `{}`; expected one of: {}",
                truncate(s),
                allowed.join(", ")
            ),
        ));
    }
    Ok(s.to_string())
}

fn merge_object(
    field: &str,
    v: Value,
    into: &mut Map<String, Value>,
    keys: &[&str],
) -> Result<(), FieldError> {
    if v.is_null() {
        return Ok(());
    }
    let Value::Object(m) = v else {
        return Err(err(field, "must be an object"));
    };
    for (k, val) in m {
        if !keys.contains(&k.as_str()) {
            return Err(err(
                &format!("{field}.{k}"),
                format!("unknown field (expected {})", keys.join(", ")),
            ));
        }
        if val.is_null() {
            continue;
        }
        let path = format!("{field}.{k}");
        let s = short_string(&path, &val, 1024)?;
        if into.insert(k.clone(), Value::String(s)).is_some() {
            return Err(err(&path, "given twice (nested and flat form)"));
        }
    }
    Ok(())
}

/// Parse an RFC 3339 timestamp and normalise it to UTC with microseconds:
/// `2026-01-02T03:04:05.000000Z`. The fixed width makes text order time order.
pub fn normalize_timestamp(v: &Value) -> Result<(String, i64), String> {
    let s = v
        .as_str()
        .ok_or("must be an RFC 3339 date-time string, e.g. 2026-01-02T03:04:05Z")?;
    if s.len() > 4 && s.as_bytes()[..5].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "`{}` has a year past 9999 (years 1970-9999 are accepted)",
            truncate(s)
        ));
    }
    let dt = DateTime::parse_from_rfc3339(s)
        .map_err(|_| {
            format!(
                "`{}` is not an RFC 3339 date-time (e.g. 2026-01-02T03:04:05Z)",
                truncate(s)
            )
        })?
        .with_timezone(&Utc);
    if dt.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(format!(
            "`{}` is a leap second (:60); UTC timestamps here have no leap seconds: use :59.999999 or the next second",
            truncate(s)
        ));
    }
    if dt.timestamp_subsec_nanos() % 1000 != 0 {
        return Err(format!(
            "`{}` is more precise than microseconds",
            truncate(s)
        ));
    }
    let year = chrono::Datelike::year(&dt);
    if !(1970..=9999).contains(&year) {
        return Err(format!("`{}` is outside the years 1970-9999", truncate(s)));
    }
    Ok((format_timestamp(&dt), dt.timestamp_micros()))
}

/// The canonical text of a time: RFC 3339, UTC, six fractional digits.
pub fn format_timestamp(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One parse failure in a batch: where it is (1-based line or 0-based item) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// Where in the input the failure is.
    pub location: Location,
    /// The failure itself.
    pub error: FieldError,
}

/// Where in a batch a parse failure lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of NDJSON input.
    Line(usize),
    /// 0-based index in a JSON array.
    Index(usize),
    /// The whole input.
    Input,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Location::Line(n) => write!(f, "line {n}: {}", self.error),
            Location::Index(n) => write!(f, "item {n}: {}", self.error),
            Location::Input => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for BatchError {}

/// Parse a batch: a JSON array, a single JSON object, or NDJSON (one object per line,
/// blank lines ignored). Returns every error found, so a caller can report them all;
/// a batch with any error must be rejected whole.
pub fn parse_batch(text: &str) -> Result<Vec<Event>, Vec<BatchError>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            vec![BatchError {
                location: Location::Input,
                error: err("(input)", format!("invalid JSON: {e}")),
            }]
        })?;
        let Value::Array(items) = value else {
            unreachable!("starts with [")
        };
        return collect(items.into_iter().enumerate().map(|(i, item)| {
            let r = check_size(&item).and_then(|_| Event::from_value(item));
            (Location::Index(i), r)
        }));
    }
    // One object spread over several lines is accepted as a single event.
    if trimmed.starts_with('{') && !trimmed.trim_end().contains('\n') {
        return collect(std::iter::once((
            Location::Line(1),
            Event::parse_json(trimmed.trim_end()),
        )));
    }
    if trimmed.starts_with('{') {
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            return collect(std::iter::once((
                Location::Input,
                check_size(&v).and_then(|_| Event::from_value(v)),
            )));
        }
    }
    collect(
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (Location::Line(i + 1), Event::parse_json(l))),
    )
}

fn check_size(v: &Value) -> Result<(), FieldError> {
    let n = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
    if n > MAX_EVENT_BYTES {
        return Err(err(
            "(event)",
            format!("event is {n} bytes; the limit is {MAX_EVENT_BYTES} bytes (64 KiB)"),
        ));
    }
    Ok(())
}

fn collect(
    items: impl Iterator<Item = (Location, Result<Event, FieldError>)>,
) -> Result<Vec<Event>, Vec<BatchError>> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (location, r) in items {
        match r {
            Ok(e) => events.push(e),
            Err(error) => {
                if errors.len() < 100 {
                    errors.push(BatchError { location, error });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_of_an_event_is_reported() {
        let v = json!({"action": "", "category": "nope", "result": "ok"});
        let errors = Event::from_value_all(v.clone()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["action", "category", "result", "timestamp"],
            "{errors:?}"
        );
        assert_eq!(errors[0].message, "must not be empty");
        assert_eq!(errors[3].message, "is required");
        // The single-error form (the CLI's first line) is the first of them.
        assert_eq!(Event::from_value(v).unwrap_err(), errors[0]);
    }

    fn base() -> Value {
        json!({
            "id": "0190a0a0-0000-7000-8000-000000000001",
            "timestamp": "2025-01-21T10:30:00Z",
            "organization_id": "org-1",
            "actor": {"id": "u1", "email": "a@example.com", "ip": "192.0.2.1"},
            "action": "role_assign",
            "category": "authorization",
            "resource": {"type": "role", "id": "r1", "name": "admin"},
            "details": {"description": "Assigned role", "before_state": null, "after_state": {"role": "admin"}, "changes": []},
            "result": "success",
            "metadata": {}
        })
    }

    #[test]
    fn normalises_and_builds_leaf() {
        let e = Event::from_value(base()).unwrap();
        assert_eq!(e.timestamp(), "2025-01-21T10:30:00.000000Z");
        let leaf = String::from_utf8(e.leaf(7)).unwrap();
        assert!(
            leaf.starts_with("{\"action\":\"role_assign\",\"actor\":{"),
            "{leaf}"
        );
        assert!(leaf.contains("\"retention\":\"security\""));
        assert!(
            leaf.ends_with("\"seq\":7,\"timestamp\":\"2025-01-21T10:30:00.000000Z\"}"),
            "{leaf}"
        );
        // The splice equals a full re-encoding with `seq` added.
        let mut with_seq = e.fields().clone();
        with_seq.insert("seq".into(), json!(7));
        assert_eq!(
            leaf.as_bytes(),
            crate::canonical::to_vec(&Value::Object(with_seq))
        );
    }

    #[test]
    fn timestamp_rules_leap_seconds_far_years_and_the_future() {
        let with_ts = |t: &str| {
            let mut v = base();
            v["timestamp"] = json!(t);
            v
        };
        for (t, says) in [
            ("2016-12-31T23:59:60Z", "leap second"),
            ("2016-12-31T23:59:60.5Z", "leap second"),
            ("10000-01-01T00:00:00Z", "past 9999"),
            ("99999-12-31T23:59:59Z", "past 9999"),
        ] {
            let e = Event::from_value(with_ts(t)).unwrap_err();
            assert_eq!(e.field, "timestamp", "{t}: {e}");
            assert!(e.message.contains(says), "{t}: {e}");
        }
        let now = Utc::now();
        let in_6_min = format_timestamp(&(now + chrono::Duration::minutes(6)));
        let e = Event::from_value(with_ts(&in_6_min)).unwrap_err();
        assert_eq!(e.field, "timestamp");
        assert!(e.message.contains("in the future"), "{e}");
        let in_4_min = format_timestamp(&(now + chrono::Duration::minutes(4)));
        assert!(Event::from_value(with_ts(&in_4_min)).is_ok());
        // vouch's own records (injected clocks travel in time) skip the clock rule only.
        assert!(Event::from_own_clock(with_ts(&in_6_min)).is_ok());
        assert!(Event::from_own_clock(with_ts("2016-12-31T23:59:60Z")).is_err());
        // The limit is configurable.
        let e = Event::from_own_clock(with_ts(&in_4_min)).unwrap();
        assert!(e
            .check_not_future(now, chrono::Duration::minutes(1))
            .is_err());
        assert!(e
            .check_not_future(now, chrono::Duration::minutes(5))
            .is_ok());
    }

    #[test]
    fn flat_seed_shape_maps_to_nested() {
        let flat = json!({
            "timestamp": "2025-01-21T10:30:00+02:00", "actor_id": "u1", "actor_email": "a@x",
            "action": "login", "category": "authentication", "resource_type": "session", "result": "failure"
        });
        let e = Event::from_value(flat).unwrap();
        assert_eq!(e.fields()["actor"], json!({"id": "u1", "email": "a@x"}));
        assert_eq!(e.fields()["resource"], json!({"type": "session"}));
        assert_eq!(e.timestamp(), "2025-01-21T08:30:00.000000Z");
    }

    #[test]
    fn rejections_name_the_field() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"category": "nope"}), "category"),
            (json!({"result": "maybe"}), "result"),
            (json!({"timestamp": "yesterday"}), "timestamp"),
            (json!({"timestamp": null}), "timestamp"),
            (json!({"action": ""}), "action"),
            (json!({"bogus": 1}), "bogus"),
            (json!({"actor": {"phone": "1"}}), "actor.phone"),
            (json!({"id": "not-a-uuid"}), "id"),
            (json!({"seq": 3}), "seq"),
        ];
        for (patch, field) in cases {
            let mut v = base();
            for (k, val) in patch.as_object().unwrap() {
                v.as_object_mut().unwrap().insert(k.clone(), val.clone());
            }
            let e = Event::from_value(v).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        for missing in ["timestamp", "action", "category", "result"] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(missing);
            assert_eq!(Event::from_value(v).unwrap_err().field, missing);
        }
    }

    #[test]
    fn oversized_event_rejected() {
        let mut v = base();
        v["metadata"] = json!({"blob": "x".repeat(70_000)});
        let text = v.to_string();
        assert!(Event::parse_json(&text)
            .unwrap_err()
            .message
            .contains("64 KiB"));
        assert!(Event::from_value(v).unwrap_err().message.contains("64 KiB"));
    }

    #[test]
    fn batch_reports_lines_and_items() {
        let good = base().to_string();
        let ndjson = format!("{good}\n\n{{\"timestamp\":\"x\"}}\nnot json\n");
        let errs = parse_batch(&ndjson).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].location, Location::Line(3));
        assert_eq!(errs[1].location, Location::Line(4));
        assert!(errs[1]
            .to_string()
            .starts_with("line 4: field `(event)`: invalid JSON"));
        let array = format!("[{good}, {{\"action\": 1}}]");
        let errs = parse_batch(&array).unwrap_err();
        assert_eq!(errs[0].location, Location::Index(1));
        assert_eq!(parse_batch(&format!("{good}\n{good}")).unwrap().len(), 2);
        assert_eq!(
            parse_batch(&serde_json::to_string_pretty(&base()).unwrap())
                .unwrap()
                .len(),
            1
        );
    }
}
