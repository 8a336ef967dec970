//! `[[check]]` and `[[control]]` definitions. A check names a kind (built in, or `rego`)
//! and the evidence it reads; a control maps checks and evidence to Trust Services
//! Criteria. Both live beside the evidence in vouch.toml and packs.

use crate::evidence::{Origin, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use vouch_core::checks::{self as core, Check, Predicate, Test, Unit, Window};

/// The check kinds `kind` may name (`rego` runs a policy; the others are built in).
pub const KINDS: &[&str] = &[
    "empty",
    "non_empty",
    "count",
    "all",
    "none",
    "every_period",
    "max_gap",
    "in_windows",
    "fresh",
    "compare",
    "rego",
];
/// The values `severity` may take, least severe first.
pub const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];

/// A declared time window: a `max_gap` maintenance window or an `in_windows` window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDef {
    #[serde(default)]
    /// Name of the window (rows of `in_windows` may name it in `window_id`); default empty.
    pub id: String,
    /// Start: a date or an RFC 3339 time.
    pub start: String,
    /// End (exclusive): a date or an RFC 3339 time; must be after `start`.
    pub end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Why the window exists (for the record).
    pub reason: Option<String>,
}

/// A `[[check]]`: an assertion over the latest collection of some evidence (docs/checks.md).
/// Which keys apply depends on `kind`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    /// Unique check id.
    pub id: String,
    /// Human-readable title, shown in results and packets.
    pub title: String,
    /// One of [`KINDS`].
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Longer description of what the check asserts.
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// One of [`SEVERITIES`]; `medium` when absent (see [`CheckDef::severity`]).
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The evidence id whose rows the check judges (for `rego`: `input.rows`).
    pub evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `count`: fewest rows allowed.
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `count`: most rows allowed.
    pub max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none`: the (possibly dotted) field the predicate tests.
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate: the field equals this value.
    pub equals: Option<Value>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate (key `in`): the field is one of these values.
    pub in_: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate: the field matches this regular expression.
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate: the field is a time older than this duration before the reference time.
    pub older_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate: the field is a time newer than this duration before the reference time.
    pub newer_than: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `all`/`none` predicate: the field is null (`true`) or not null (`false`).
    pub is_null: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `every_period`, `max_gap`, `in_windows`, `fresh`: the field holding each row's time.
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `every_period`: `day`, `week` or `month` (the default).
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `every_period`: rows each day/week/month needs; default 1.
    pub at_least: Option<u64>,
    /// `every_period`: count only rows whose fields have these values (an array: one of).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `every_period`, `max_gap`: judge only this duration before the period end
    /// (default: the whole period).
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `max_gap`: the longest allowed gap between consecutive timestamps (a duration).
    pub max_gap: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `max_gap`: windows in which a longer gap is allowed.
    pub maintenance: Vec<WindowDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// `in_windows`: the windows every row's time must fall in.
    pub windows: Vec<WindowDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `in_windows`: the field naming the window a row belongs to, when rows name it.
    pub window_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `fresh`: how recent the newest timestamp must be; `compare`: how soon after a left
    /// row its right row must follow (durations).
    pub within: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `compare`: the evidence id of the rows that must be matched.
    pub left: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `compare`: the evidence id of the matching rows.
    pub right: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `compare`: the field joining left and right rows.
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `compare`: the left rows' time field.
    pub left_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// `compare`: the right rows' time field.
    pub right_time: Option<String>,
    /// A Rego file, relative to the defining file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Rego inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rego: Option<String>,
    /// Rego: further evidence ids the policy reads (`input.evidence.<id>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// Guards: evidence that proves each named thing a parameter selects exists (see
    /// [`GuardDef`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardDef>,
    /// Policy data, `input.params` in Rego (a pack's params, overridable from vouch.toml
    /// with `[packs.NAME] params`). Part of the definition hash: a result names the list
    /// it was judged against.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    #[serde(skip)]
    /// Where the check was defined (file and index); not part of the definition.
    pub origin: Origin,
}

/// A guard against a vacuous pass: a check over rows selected by a parameter (a group,
/// a role, a bucket name) passes on no rows when the name matches nothing. The guard's
/// evidence looks the name up; when its latest collection has no row (with `field`: no
/// row whose `field` equals the value), the check is `error`, naming the parameter and
/// its value. The value is the one the guard's evidence ran with (its params).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDef {
    /// The evidence id that looks the name up.
    pub evidence: String,
    /// The parameter (of that evidence) holding the name.
    pub parameter: String,
    /// The column that must equal the value in some row (default: any row will do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// An empty value disables the check (`not_applicable`) instead of failing it: for
    /// optional parts a parameter turns on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl GuardDef {
    /// The parameter's value: what the guard's evidence ran with (its recorded params),
    /// else the definition's (params, or the params_env variable).
    pub fn value(
        &self,
        records: &[&Value],
        def: Option<&crate::evidence::EvidenceDef>,
    ) -> Option<String> {
        let p = &self.parameter;
        records
            .iter()
            .find_map(|r| r["operation"]["params"][p].as_str().map(str::to_string))
            .or_else(|| def.and_then(|d| d.params.get(p).cloned()))
            .or_else(|| {
                def.and_then(|d| d.params_env.get(p))
                    .and_then(|v| std::env::var(v).ok())
            })
    }

    /// The status and message when the guard does not hold, given the parameter's value
    /// and the rows of the guard's evidence.
    pub fn judge(&self, value: Option<&str>, rows: &[Value]) -> Option<(&'static str, String)> {
        let (p, e) = (&self.parameter, &self.evidence);
        let Some(value) = value else {
            return Some((
                "error",
                format!("guard `{e}`: parameter `{p}` has no value"),
            ));
        };
        if value.is_empty() {
            return Some(if self.optional {
                (
                    "not_applicable",
                    format!("parameter `{p}` is empty: this optional check is off"),
                )
            } else {
                ("error", format!("guard `{e}`: parameter `{p}` is empty"))
            });
        }
        let found = match &self.field {
            None => !rows.is_empty(),
            Some(f) => rows
                .iter()
                .any(|r| core::field(r, f).and_then(Value::as_str) == Some(value)),
        };
        (!found).then(|| {
            (
                "error",
                format!(
                    "parameter `{p}` = \"{value}\" matches nothing in the source (guard `{e}` found no such {}): the check would judge no rows",
                    self.field.as_deref().unwrap_or("row")
                ),
            )
        })
    }
}

/// A `[[control]]`: a control mapped to Trust Services Criteria, with the checks and
/// evidence that support it. Its status is the most severe of its parts'.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlDef {
    /// Unique control id.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Longer description of the control.
    pub description: Option<String>,
    /// Trust Services Criteria it addresses (`CC6.1`, …).
    pub criteria: Vec<String>,
    #[serde(default)]
    /// Ids of the checks supporting it; default none.
    pub checks: Vec<String>,
    #[serde(default)]
    /// Ids of evidence supporting it directly (evidence with no check of its own); default none.
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Who is responsible for the control (free text, e.g. an address).
    pub owner: Option<String>,
    #[serde(skip)]
    /// Where the control was defined (file and index).
    pub origin: Origin,
}

impl CheckDef {
    /// The severity, `medium` when none is set.
    pub fn severity(&self) -> &str {
        self.severity.as_deref().unwrap_or("medium")
    }

    /// The evidence definitions it reads (main first; `compare` reads left then right).
    pub fn inputs(&self) -> Vec<&str> {
        if self.kind == "compare" {
            self.left
                .iter()
                .chain(self.right.iter())
                .map(String::as_str)
                .collect()
        } else {
            self.evidence
                .iter()
                .chain(self.inputs.iter())
                .map(String::as_str)
                .collect()
        }
    }

    /// The Rego text (from `rego` or the `policy` file).
    pub fn policy_text(&self) -> Result<Option<String>, String> {
        if let Some(r) = &self.rego {
            return Ok(Some(r.clone()));
        }
        let Some(p) = &self.policy else {
            return Ok(None);
        };
        let path = self.origin.dir().join(p);
        std::fs::read_to_string(&path).map(Some).map_err(|e| {
            format!(
                "check `{}`: cannot read policy {}: {e}",
                self.id,
                path.display()
            )
        })
    }

    /// SHA-256 of the canonical definition plus the policy text: a result is bound to
    /// exactly the check that produced it.
    pub fn definition_sha256(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Ok(Some(text)) = self.policy_text() {
            v["policy_text"] = Value::String(text);
        }
        vouch_store::blobs::sha256_hex(vouch_core::canonical::to_string(&v).as_bytes())
    }

    fn duration(
        &self,
        key: &'static str,
        v: &Option<String>,
    ) -> Result<Option<chrono::Duration>, Problem> {
        v.as_deref()
            .map(core::parse_duration)
            .transpose()
            .map_err(|m| problem(self, key, m))
    }

    /// The core check for a period `[start, end)`; `rego` has none.
    pub fn build(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Check>, Problem> {
        let need = |key: &'static str, v: &Option<String>| -> Result<String, Problem> {
            v.clone()
                .ok_or_else(|| problem(self, key, format!("is required for kind `{}`", self.kind)))
        };
        let window_start = |w: Option<chrono::Duration>| w.map_or(start, |d| end - d);
        if self.where_.is_some() && self.kind != "every_period" {
            return Err(problem(
                self,
                "where",
                "only an `every_period` check filters its rows with `where`".into(),
            ));
        }
        Ok(Some(match self.kind.as_str() {
            "empty" => Check::Empty,
            "non_empty" => Check::NonEmpty,
            "count" => {
                if self.min.is_none() && self.max.is_none() {
                    return Err(problem(
                        self,
                        "min",
                        "a `count` check needs min, max or both".into(),
                    ));
                }
                Check::Count {
                    min: self.min,
                    max: self.max,
                }
            }
            "all" | "none" => {
                let p = self.predicate()?;
                if self.kind == "all" {
                    Check::All(p)
                } else {
                    Check::None(p)
                }
            }
            "every_period" => Check::EveryPeriod {
                timestamp: need("timestamp", &self.timestamp)?,
                every: match self.every.as_deref() {
                    Some("day") => Unit::Day,
                    Some("week") => Unit::Week,
                    Some("month") | None => Unit::Month,
                    Some(_) => {
                        return Err(problem(self, "every", "must be day, week or month".into()))
                    }
                },
                at_least: self.at_least.unwrap_or(1),
                filter: self
                    .where_
                    .iter()
                    .flatten()
                    .map(|(field, v)| Predicate {
                        field: field.clone(),
                        test: match v {
                            Value::Array(xs) => Test::In(xs.clone()),
                            x => Test::Equals(x.clone()),
                        },
                    })
                    .collect(),
                start: window_start(self.duration("window", &self.window)?),
                end,
            },
            "max_gap" => Check::MaxGap {
                timestamp: need("timestamp", &self.timestamp)?,
                max_gap: self.duration("max_gap", &self.max_gap)?.ok_or_else(|| {
                    problem(self, "max_gap", "is required for kind `max_gap`".into())
                })?,
                maintenance: windows(self, "maintenance", &self.maintenance)?,
                start: window_start(self.duration("window", &self.window)?),
                end,
            },
            "in_windows" => {
                if self.windows.is_empty() {
                    return Err(problem(
                        self,
                        "windows",
                        "is required for kind `in_windows`".into(),
                    ));
                }
                Check::InWindows {
                    timestamp: need("timestamp", &self.timestamp)?,
                    window_id: self.window_id.clone(),
                    windows: windows(self, "windows", &self.windows)?,
                }
            }
            "fresh" => Check::Fresh {
                timestamp: need("timestamp", &self.timestamp)?,
                within: self.duration("within", &self.within)?.ok_or_else(|| {
                    problem(self, "within", "is required for kind `fresh`".into())
                })?,
            },
            "compare" => Check::Compare {
                key: need("key", &self.key)?,
                left_time: need("left_time", &self.left_time)?,
                right_time: need("right_time", &self.right_time)?,
                within: self.duration("within", &self.within)?.ok_or_else(|| {
                    problem(self, "within", "is required for kind `compare`".into())
                })?,
            },
            "rego" => return Ok(None),
            _ => {
                return Err(problem(
                    self,
                    "kind",
                    format!("must be one of {}", KINDS.join(", ")),
                ))
            }
        }))
    }

    fn predicate(&self) -> Result<Predicate, Problem> {
        let field = self.field.clone().ok_or_else(|| {
            problem(
                self,
                "field",
                format!("is required for kind `{}`", self.kind),
            )
        })?;
        let mut tests = Vec::new();
        if let Some(v) = &self.equals {
            tests.push(Test::Equals(v.clone()));
        }
        if let Some(v) = &self.in_ {
            tests.push(Test::In(v.clone()));
        }
        if let Some(m) = &self.matches {
            let re = regex::Regex::new(m)
                .map_err(|e| problem(self, "matches", format!("not a regular expression: {e}")))?;
            tests.push(Test::Matches(re));
        }
        if let Some(d) = self.duration("older_than", &self.older_than)? {
            tests.push(Test::OlderThan(d));
        }
        if let Some(d) = self.duration("newer_than", &self.newer_than)? {
            tests.push(Test::NewerThan(d));
        }
        if let Some(n) = self.is_null {
            tests.push(if n { Test::IsNull } else { Test::NotNull });
        }
        if tests.len() != 1 {
            return Err(problem(
                self,
                "field",
                "give exactly one of equals, in, matches, older_than, newer_than, is_null".into(),
            ));
        }
        Ok(Predicate {
            field,
            test: tests.remove(0),
        })
    }
}

fn problem(c: &CheckDef, key: &'static str, message: String) -> Problem {
    Problem {
        table: "check",
        index: c.origin.index,
        key,
        message,
    }
}

fn windows(c: &CheckDef, key: &'static str, ws: &[WindowDef]) -> Result<Vec<Window>, Problem> {
    ws.iter()
        .map(|w| {
            let t = |s: &str| {
                core::parse_time(&Value::String(s.into()))
                    .ok_or_else(|| problem(c, key, format!("`{s}` is not a date or RFC 3339 time")))
            };
            let (start, end) = (t(&w.start)?, t(&w.end)?);
            if end <= start {
                return Err(problem(
                    c,
                    key,
                    format!("window {} ends before it starts", w.id),
                ));
            }
            Ok(Window {
                id: w.id.clone(),
                start,
                end,
            })
        })
        .collect()
}

/// Validate a check against the evidence ids that exist.
pub fn check_check(c: &CheckDef, evidence_ids: &[&str]) -> Result<(), Problem> {
    if !crate::evidence::valid_name(&c.id) {
        return Err(problem(
            c,
            "id",
            "must be lower-case letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    if c.title.trim().is_empty() {
        return Err(problem(c, "title", "must not be empty".into()));
    }
    if !KINDS.contains(&c.kind.as_str()) {
        return Err(problem(
            c,
            "kind",
            format!("must be one of {}", KINDS.join(", ")),
        ));
    }
    if let Some(s) = &c.severity {
        if !SEVERITIES.contains(&s.as_str()) {
            return Err(problem(
                c,
                "severity",
                format!("must be one of {}", SEVERITIES.join(", ")),
            ));
        }
    }
    if c.kind == "compare" {
        for (key, v) in [("left", &c.left), ("right", &c.right)] {
            match v {
                None => return Err(problem(c, key, "is required for kind `compare`".into())),
                Some(id) if !evidence_ids.contains(&id.as_str()) => {
                    return Err(problem(c, key, format!("no [[evidence]] has id `{id}`")))
                }
                _ => {}
            }
        }
    } else {
        match &c.evidence {
            None if c.kind != "rego" => {
                return Err(problem(
                    c,
                    "evidence",
                    "is required: the evidence id this check reads".into(),
                ))
            }
            Some(id) if !evidence_ids.contains(&id.as_str()) => {
                return Err(problem(
                    c,
                    "evidence",
                    format!("no [[evidence]] has id `{id}`"),
                ))
            }
            _ => {}
        }
    }
    if !c.inputs.is_empty() && c.kind != "rego" {
        return Err(problem(
            c,
            "inputs",
            "only a `rego` check reads further evidence".into(),
        ));
    }
    for id in &c.inputs {
        if !evidence_ids.contains(&id.as_str()) {
            return Err(problem(
                c,
                "inputs",
                format!("no [[evidence]] has id `{id}`"),
            ));
        }
    }
    for g in &c.guards {
        if !evidence_ids.contains(&g.evidence.as_str()) {
            return Err(problem(
                c,
                "guards",
                format!("no [[evidence]] has id `{}`", g.evidence),
            ));
        }
    }
    if c.kind == "rego" {
        if c.policy.is_some() == c.rego.is_some() {
            return Err(problem(
                c,
                "policy",
                "a `rego` check needs exactly one of `policy` (a file) or `rego` (inline)".into(),
            ));
        }
        c.policy_text().map_err(|m| problem(c, "policy", m))?;
    }
    // Build once with a dummy period to surface bad durations, regexes and windows.
    let now = chrono::Utc::now();
    c.build(now - chrono::Duration::days(30), now)?;
    Ok(())
}

/// Validate a control against the check and evidence ids that exist.
pub fn check_control(
    c: &ControlDef,
    check_ids: &[&str],
    evidence_ids: &[&str],
) -> Result<(), Problem> {
    let p = |key, message: String| Problem {
        table: "control",
        index: c.origin.index,
        key,
        message,
    };
    if c.id.trim().is_empty() || c.id.contains(char::is_whitespace) {
        return Err(p("id", "must be a non-empty id without spaces".into()));
    }
    if c.criteria.is_empty() {
        return Err(p(
            "criteria",
            "name at least one Trust Services Criterion".into(),
        ));
    }
    for cr in &c.criteria {
        if vouch_core::tsc::criterion(cr).is_none() {
            return Err(p(
                "criteria",
                format!("`{cr}` is not a Trust Services Criterion (e.g. CC6.1, A1.2)"),
            ));
        }
    }
    for id in &c.checks {
        if !check_ids.contains(&id.as_str()) {
            return Err(p("checks", format!("no [[check]] has id `{id}`")));
        }
    }
    for id in &c.evidence {
        if !evidence_ids.contains(&id.as_str()) {
            return Err(p("evidence", format!("no [[evidence]] has id `{id}`")));
        }
    }
    if c.checks.is_empty() && c.evidence.is_empty() {
        return Err(p(
            "checks",
            "a control needs checks, evidence or both".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guards_name_the_parameter_and_value() {
        let g = |field: Option<&str>, optional| GuardDef {
            evidence: "g".into(),
            parameter: "group".into(),
            field: field.map(str::to_string),
            optional,
        };
        let rows = [json!({"name": "admins"})];
        assert_eq!(g(Some("name"), false).judge(Some("admins"), &rows), None);
        assert_eq!(g(None, false).judge(Some("anything"), &rows), None);
        let (status, m) = g(Some("name"), false)
            .judge(Some("auditors"), &rows)
            .unwrap();
        assert_eq!(status, "error");
        assert!(
            m.starts_with("parameter `group` = \"auditors\" matches nothing in the source"),
            "{m}"
        );
        assert_eq!(g(None, false).judge(Some("x"), &[]).unwrap().0, "error");
        assert_eq!(
            g(None, true).judge(Some(""), &[]).unwrap().0,
            "not_applicable"
        );
        assert_eq!(g(None, false).judge(Some(""), &rows).unwrap().0, "error");
        assert_eq!(g(None, false).judge(None, &rows).unwrap().0, "error");
    }
}
