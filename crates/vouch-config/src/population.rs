//! `[[population]]`: the populations an auditor may sample (issue 18). A population is
//! the complete set of occurrences of a control in a period, taken from an evidence
//! definition (its rows) or from the ledger (the period's events matching a filter).
//! Evidence definitions declared `population = true` are populations too, by their id,
//! without a `[[population]]` entry.

use crate::spans::{Spans, Step};
use crate::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Control frequencies of the practitioners' sample-size table.
pub const FREQUENCIES: &[&str] = &[
    "annual",
    "quarterly",
    "monthly",
    "weekly",
    "daily",
    "multiple-daily",
];

/// One `[[population]]`. Absent settings are left out when serialised, so the record
/// and its canonical form in the ledger event (which drops nulls) are the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationDef {
    /// Its id (lower-case letters, digits, `-`, `_`, `.`).
    pub id: String,
    /// The control whose occurrences these are (`CC6.2`, `change-approval`).
    pub control: String,
    /// What it is, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Source: an evidence definition whose collected rows are the occurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Source: ledger events of the period whose `action` is this (`role.*` for a prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Source: ledger events of this `category`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Source: ledger events whose `resource.type` is this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// How often the control operates (one of [`FREQUENCIES`]); sample sizes follow the
    /// frequency table when set, the population-size table otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// `low` (the table's lower bound, default) or `high` (its upper bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// A fixed sample size instead of the tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<u64>,
}

impl PopulationDef {
    /// Whether the occurrences come from the ledger (a filter) rather than evidence.
    pub fn is_ledger(&self) -> bool {
        self.evidence.is_none()
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// Validate every `[[population]]`; errors name the file, the line and the key.
pub(crate) fn check(defs: &[PopulationDef], text: &str, file: &Path) -> Result<(), ConfigError> {
    let spans = Spans::new(text);
    for (i, d) in defs.iter().enumerate() {
        let fail = |key: &str, msg: String| {
            ConfigError::Invalid(format!(
                "{}:{}: key `population[{i}].{key}`: {msg}",
                file.display(),
                spans.line_of(&[Step::Key("population"), Step::Nth(i), Step::Key(key)])
            ))
        };
        if !valid_id(&d.id) {
            return Err(fail(
                "id",
                format!(
                    "`{}` is not an id (lower-case letters, digits, - _ .)",
                    d.id
                ),
            ));
        }
        if defs[..i].iter().any(|o| o.id == d.id) {
            return Err(fail("id", format!("`{}` is declared twice", d.id)));
        }
        if d.control.trim().is_empty() {
            return Err(fail("control", "must not be empty".into()));
        }
        let filter = d.action.is_some() || d.category.is_some() || d.resource_type.is_some();
        match (&d.evidence, filter) {
            (Some(_), true) => {
                return Err(fail(
                    "evidence",
                    "give either `evidence` or a ledger filter (action, category, resource_type), not both".into(),
                ))
            }
            (None, false) => {
                return Err(fail(
                    "evidence",
                    "give a source: `evidence = \"ID\"` or a ledger filter (action, category, resource_type)".into(),
                ))
            }
            _ => {}
        }
        for (key, v) in [
            ("action", &d.action),
            ("category", &d.category),
            ("resource_type", &d.resource_type),
            ("evidence", &d.evidence),
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(fail(key, "must not be empty".into()));
            }
        }
        if let Some(f) = &d.frequency {
            if !FREQUENCIES.contains(&f.as_str()) {
                return Err(fail(
                    "frequency",
                    format!("`{f}` is not a frequency ({})", FREQUENCIES.join(", ")),
                ));
            }
        }
        if let Some(r) = &d.risk {
            if r != "low" && r != "high" {
                return Err(fail("risk", format!("`{r}` must be low or high")));
            }
        }
        if d.sample_size == Some(0) {
            return Err(fail("sample_size", "must be at least 1".into()));
        }
    }
    Ok(())
}
