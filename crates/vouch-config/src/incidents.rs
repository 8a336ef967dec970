//! `[incidents]`: response times per severity (seed 003's table is the default), the
//! control a breached response deadline opens a finding against, and the rules that
//! open incidents automatically (seed 003's `SOC2_INCIDENT_AUTO_CREATE`) from the
//! ledger's events and from check results.

use crate::spans::{Spans, Step};
use crate::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Incident severities, most severe first (seed 003's classification).
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

/// `[incidents]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentSettings {
    /// Open incidents automatically from `[[incidents.rule]]`; default true. The
    /// environment variable `SOC2_INCIDENT_AUTO_CREATE` (`true`/`false`) overrides it.
    pub auto_create: bool,
    /// The control (an organisation control id or a Trust Services Criterion) that a
    /// breached response deadline opens a finding against; default `CC7.4`.
    pub control: String,
    /// `[incidents.response]`: how long after detection a response (triage: severity
    /// confirmed, responder assigned) is due, per severity.
    pub response: ResponseTimes,
    /// `[[incidents.rule]]`: automatic incidents.
    pub rule: Vec<IncidentRule>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            auto_create: true,
            control: "CC7.4".into(),
            response: ResponseTimes::default(),
            rule: Vec::new(),
        }
    }
}

impl IncidentSettings {
    /// The response time of a severity (durations were validated at load; an unknown
    /// severity gets the shortest, so a mistake errs on the side of urgency).
    pub fn response_time(&self, severity: &str) -> chrono::Duration {
        let text = match severity {
            "high" => &self.response.high,
            "medium" => &self.response.medium,
            "low" => &self.response.low,
            _ => &self.response.critical,
        };
        vouch_core::checks::parse_duration(text).unwrap_or(chrono::Duration::minutes(15))
    }

    /// Whether automatic incidents are on: `SOC2_INCIDENT_AUTO_CREATE` when set to
    /// true/false (1/0), else `auto_create`.
    pub fn auto_create_enabled(&self) -> bool {
        match std::env::var("SOC2_INCIDENT_AUTO_CREATE")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Ok("true" | "1" | "yes" | "on") => true,
            Ok("false" | "0" | "no" | "off") => false,
            _ => self.auto_create,
        }
    }
}

/// `[incidents.response]`: durations such as `15m`, `1h`, `24h`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseTimes {
    /// Critical (data breach, system compromise); default `15m`.
    pub critical: String,
    /// High (service outage, failed controls); default `1h`.
    pub high: String,
    /// Medium (suspicious activity, minor issues); default `4h`.
    pub medium: String,
    /// Low (informational, potential risk); default `24h`.
    pub low: String,
}

impl Default for ResponseTimes {
    fn default() -> Self {
        ResponseTimes {
            critical: "15m".into(),
            high: "1h".into(),
            medium: "4h".into(),
            low: "24h".into(),
        }
    }
}

/// `[[incidents.rule]]`: when to open an incident by itself.
///
/// `on = "events"`: an ingested event matches when every given `action`, `category` and
/// `result` matches (`action` matches the whole action or one of its dot-separated
/// parts, so `login` matches `user.login`); with `more_than = N` and `within = "5m"`
/// the incident opens when more than N matching events of one key (`per`: the actor
/// id or the actor IP; absent: all events together) fall within the window.
/// `on = "checks"`: a check result `fail` whose severity is in `check_severity`.
/// At most one incident per rule and key is open at a time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRule {
    /// The rule's name, unique (`login-burst`).
    pub id: String,
    /// `events` or `checks`.
    pub on: String,
    /// Events: the action (or one dot-separated part of it).
    #[serde(default)]
    pub action: Option<String>,
    /// Events: the category (`security`, `authentication`, …).
    #[serde(default)]
    pub category: Option<String>,
    /// Events: the result (`failure`, `success`).
    #[serde(default)]
    pub result: Option<String>,
    /// Events: open when more than this many match within `within`; default 0 (any
    /// matching event opens one).
    #[serde(default)]
    pub more_than: u64,
    /// Events: the window for `more_than` (`5m`).
    #[serde(default)]
    pub within: Option<String>,
    /// Events: count per `actor` (its id) or per `ip` (the actor's address).
    #[serde(default)]
    pub per: Option<String>,
    /// Checks: the check severities that open an incident; default high and critical.
    #[serde(default)]
    pub check_severity: Vec<String>,
    /// The incident's severity; default `medium`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The incident's title; default a description of the rule.
    #[serde(default)]
    pub title: Option<String>,
}

fn default_severity() -> String {
    "medium".into()
}

impl IncidentRule {
    /// The window of a counting rule (validated at load).
    pub fn window(&self) -> Option<chrono::Duration> {
        self.within
            .as_deref()
            .and_then(|w| vouch_core::checks::parse_duration(w).ok())
    }

    /// The check severities this rule reacts to.
    pub fn check_severities(&self) -> Vec<String> {
        if self.check_severity.is_empty() {
            vec!["high".into(), "critical".into()]
        } else {
            self.check_severity.clone()
        }
    }
}

/// Validate `[incidents]`; errors name the file, the line and the key.
pub(crate) fn check(s: &IncidentSettings, text: &str, file: &Path) -> Result<(), ConfigError> {
    let spans = Spans::new(text);
    let fail = |key: &str, msg: String| {
        ConfigError::Invalid(format!(
            "{}:{}: key `incidents.{key}`: {msg}",
            file.display(),
            spans.line_of_key(&["incidents"], key)
        ))
    };
    if s.control.trim().is_empty() {
        return Err(fail("control", "must not be empty".into()));
    }
    for (sev, d) in [
        ("critical", &s.response.critical),
        ("high", &s.response.high),
        ("medium", &s.response.medium),
        ("low", &s.response.low),
    ] {
        let line = spans.line_of_key(&["incidents", "response"], sev);
        let bad = |m: String| {
            ConfigError::Invalid(format!(
                "{}:{line}: key `incidents.response.{sev}`: {m}",
                file.display()
            ))
        };
        match vouch_core::checks::parse_duration(d) {
            Err(e) => return Err(bad(e)),
            Ok(t) if t <= chrono::Duration::zero() => {
                return Err(bad("must be longer than zero".into()))
            }
            Ok(_) => {}
        }
    }
    for (i, r) in s.rule.iter().enumerate() {
        let fail = |key: &str, msg: String| {
            ConfigError::Invalid(format!(
                "{}:{}: key `incidents.rule[{i}].{key}`: {msg}",
                file.display(),
                spans.line_of(&[
                    Step::Key("incidents"),
                    Step::Key("rule"),
                    Step::Nth(i),
                    Step::Key(key)
                ])
            ))
        };
        if r.id.trim().is_empty() || r.id.contains(char::is_whitespace) {
            return Err(fail("id", "must be a non-empty name without spaces".into()));
        }
        if s.rule[..i].iter().any(|o| o.id == r.id) {
            return Err(fail("id", format!("rule `{}` is defined twice", r.id)));
        }
        if !SEVERITIES.contains(&r.severity.as_str()) {
            return Err(fail(
                "severity",
                format!("must be one of {}", SEVERITIES.join(", ")),
            ));
        }
        match r.on.as_str() {
            "events" => {
                if r.action.is_none() && r.category.is_none() && r.result.is_none() {
                    return Err(fail(
                        "on",
                        "an events rule needs at least one of action, category, result".into(),
                    ));
                }
                if !r.check_severity.is_empty() {
                    return Err(fail(
                        "check_severity",
                        "only applies to rules with on = \"checks\"".into(),
                    ));
                }
                if let Some(p) = &r.per {
                    if p != "actor" && p != "ip" {
                        return Err(fail("per", "must be actor or ip".into()));
                    }
                }
                match (&r.within, r.more_than) {
                    (None, n) if n > 0 => {
                        return Err(fail(
                            "more_than",
                            "needs `within`, the window the events must fall in (e.g. \"5m\")"
                                .into(),
                        ))
                    }
                    (Some(w), _) => match vouch_core::checks::parse_duration(w) {
                        Err(e) => return Err(fail("within", e)),
                        Ok(d) if d <= chrono::Duration::zero() => {
                            return Err(fail("within", "must be longer than zero".into()))
                        }
                        Ok(_) => {}
                    },
                    _ => {}
                }
            }
            "checks" => {
                for (key, set) in [
                    ("action", r.action.is_some()),
                    ("category", r.category.is_some()),
                    ("result", r.result.is_some()),
                    ("within", r.within.is_some()),
                    ("per", r.per.is_some()),
                    ("more_than", r.more_than > 0),
                ] {
                    if set {
                        return Err(fail(
                            key,
                            "only applies to rules with on = \"events\"".into(),
                        ));
                    }
                }
                for c in &r.check_severity {
                    if !crate::checks::SEVERITIES.contains(&c.as_str()) {
                        return Err(fail(
                            "check_severity",
                            format!(
                                "`{c}` is not a check severity ({})",
                                crate::checks::SEVERITIES.join(", ")
                            ),
                        ));
                    }
                }
            }
            other => return Err(fail("on", format!("`{other}` is not events or checks"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn parse(extra: &str) -> Result<crate::Settings, String> {
        let text = format!("{}\n{extra}", crate::template("A", "a/vouch/log"));
        crate::parse(&text, &PathBuf::from("/d/vouch.toml")).map_err(|e| e.to_string())
    }

    /// The init template with `key = value` set in `section` (the template already has
    /// `[incidents]` and `[incidents.response]`: a second header would be a duplicate
    /// table), then `extra` appended.
    fn edited(section: &str, sets: &[(&str, &str)], extra: &str) -> String {
        let mut text = crate::template("A", "a/vouch/log");
        let start = text
            .find(&format!("\n{section}\n"))
            .expect("section in the template")
            + section.len()
            + 2;
        for (key, value) in sets {
            match text[start..].find(&format!("\n{key} = ")) {
                Some(i) => {
                    let at = start + i + 1;
                    let end = at + text[at..].find('\n').unwrap();
                    text.replace_range(at..end, &format!("{key} = {value}"));
                }
                None => text.insert_str(start, &format!("{key} = {value}\n")),
            }
        }
        format!("{text}\n{extra}")
    }

    fn parse_text(text: &str) -> Result<crate::Settings, String> {
        crate::parse(text, &PathBuf::from("/d/vouch.toml")).map_err(|e| e.to_string())
    }

    fn parse_with(
        section: &str,
        sets: &[(&str, &str)],
        extra: &str,
    ) -> Result<crate::Settings, String> {
        parse_text(&edited(section, sets, extra))
    }

    fn line_of(extra: &str, needle: &str) -> usize {
        let text = format!("{}\n{extra}", crate::template("A", "a/vouch/log"));
        text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
    }

    #[test]
    fn defaults_are_seed_003s_response_times() {
        let s = parse("").unwrap();
        let i = &s.incidents;
        assert!(i.auto_create);
        assert_eq!(i.control, "CC7.4");
        assert_eq!(i.response_time("critical"), chrono::Duration::minutes(15));
        assert_eq!(i.response_time("high"), chrono::Duration::hours(1));
        assert_eq!(i.response_time("medium"), chrono::Duration::hours(4));
        assert_eq!(i.response_time("low"), chrono::Duration::hours(24));
    }

    #[test]
    fn rules_parse_and_bad_values_name_file_line_and_key() {
        let ok = "[[incidents.rule]]\nid = \"login-burst\"\non = \"events\"\naction = \"login\"\nresult = \"failure\"\nmore_than = 5\nwithin = \"10m\"\nper = \"ip\"\n[[incidents.rule]]\nid = \"failing-checks\"\non = \"checks\"\nseverity = \"high\"\n";
        let s = parse_with("[incidents]", &[("control", "\"CC7.3\"")], "").unwrap();
        assert_eq!(s.incidents.control, "CC7.3");
        let s = parse_with("[incidents.response]", &[("high", "\"30m\"")], ok).unwrap();
        assert_eq!(s.incidents.rule.len(), 2);
        assert_eq!(
            s.incidents.response_time("high"),
            chrono::Duration::minutes(30)
        );
        assert_eq!(s.incidents.rule[1].check_severities(), ["high", "critical"]);

        let bad =
            "[[incidents.rule]]\nid = \"x\"\non = \"events\"\naction = \"login\"\nmore_than = 5\n";
        let e = parse(bad).unwrap_err();
        let line = line_of(bad, "more_than");
        assert_eq!(
            e,
            format!("/d/vouch.toml:{line}: key `incidents.rule[0].more_than`: needs `within`, the window the events must fall in (e.g. \"5m\")")
        );
        let bad = "[[incidents.rule]]\nid = \"x\"\non = \"events\"\nresult = \"failure\"\nper = \"host\"\n";
        let e = parse(bad).unwrap_err();
        assert_eq!(
            e,
            format!(
                "/d/vouch.toml:{}: key `incidents.rule[0].per`: must be actor or ip",
                line_of(bad, "per =")
            )
        );
        let text = edited("[incidents.response]", &[("low", "\"a day\"")], "");
        let e = parse_text(&text).unwrap_err();
        let line = text.lines().position(|l| l == "low = \"a day\"").unwrap() + 1;
        assert!(
            e.starts_with(&format!(
                "/d/vouch.toml:{line}: key `incidents.response.low`:"
            )),
            "{e}"
        );
        let bad = "[[incidents.rule]]\nid = \"x\"\non = \"logs\"\n";
        assert!(parse(bad)
            .unwrap_err()
            .contains("`logs` is not events or checks"));
        let bad = "[[incidents.rule]]\nid = \"x\"\non = \"checks\"\nseverity = \"urgent\"\n";
        assert!(parse(bad)
            .unwrap_err()
            .contains("key `incidents.rule[0].severity`"));
        let bad = "[[incidents.rule]]\nid = \"x\"\non = \"checks\"\naction = \"login\"\n";
        assert!(parse(bad).unwrap_err().contains(
            "key `incidents.rule[0].action`: only applies to rules with on = \"events\""
        ));
        let e = parse_with("[incidents]", &[("auto_creat", "true")], "").unwrap_err();
        assert!(e.contains("auto_creat"), "{e}");
    }
}
