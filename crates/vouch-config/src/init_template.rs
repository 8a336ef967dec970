//! The commented `vouch.toml` that `vouch init` writes. The comments and the order of
//! the keys are in `init_template.toml`, where every value is a `{}` placeholder; the
//! values are filled in from the `Default`s of the settings, so the file `vouch init`
//! writes cannot drift from what runs without it.

use crate::incidents::IncidentSettings;
use crate::{
    ArchiveSettings, AttestationSettings, AuthSettings, Database, KeyFiles, LedgerSettings,
    Organization, Server,
};
use serde::Serialize;
use toml_edit::{ImDocument, Item, Value};

/// The template: comments, sections and keys; `{}` where the default value goes (an
/// inline table of placeholders keeps its keys' order).
const SKELETON: &str = include_str!("init_template.toml");

/// Every section `vouch init` writes, with its default.
#[derive(Serialize)]
pub(crate) struct Defaults {
    pub(crate) organization: Organization,
    pub(crate) database: Database,
    pub(crate) ledger: LedgerSettings,
    pub(crate) keys: KeyFiles,
    pub(crate) server: Server,
    pub(crate) archive: ArchiveSettings,
    pub(crate) auth: AuthSettings,
    pub(crate) incidents: IncidentSettings,
    pub(crate) attestations: AttestationSettings,
}

impl Defaults {
    pub(crate) fn new(org: &str, origin: &str) -> Defaults {
        Defaults {
            organization: Organization {
                name: org.to_string(),
                id: String::new(),
            },
            database: Database::default(),
            ledger: LedgerSettings::with_origin(origin),
            keys: KeyFiles::default(),
            server: Server::default(),
            archive: ArchiveSettings::default(),
            auth: AuthSettings::default(),
            incidents: IncidentSettings::default(),
            attestations: AttestationSettings::default(),
        }
    }

    pub(crate) fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::try_from(self).expect("the settings serialize to TOML");
        // `[[incidents.rule]]` has no default (none): the template describes it in a
        // comment, since a `rule = []` key would forbid the user's `[[incidents.rule]]`.
        if let Some(toml::Value::Table(i)) = t.get_mut("incidents") {
            i.remove("rule");
        }
        t
    }
}

/// The commented `vouch.toml` that `vouch init` writes: every setting, with its default.
pub fn template(org: &str, origin: &str) -> String {
    fill(SKELETON, &Defaults::new(org, origin).to_table())
        .unwrap_or_else(|e| panic!("init template: {e}"))
}

/// The skeleton with each placeholder replaced by its value in `values`.
fn fill(skeleton: &str, values: &toml::Table) -> Result<String, String> {
    let doc = ImDocument::parse(skeleton).map_err(|e| e.to_string())?;
    let mut edits = Vec::new();
    for (section, item) in doc.as_table().iter() {
        section_edits(section, item, values.get(section), &mut edits)?;
    }
    edits.sort_by_key(|(span, _): &(std::ops::Range<usize>, String)| span.start);
    let mut out = String::with_capacity(skeleton.len() * 2);
    let mut at = 0;
    for (span, text) in edits {
        out.push_str(&skeleton[at..span.start]);
        out.push_str(&text);
        at = span.end;
    }
    out.push_str(&skeleton[at..]);
    Ok(out)
}

/// The edits of one section (`[incidents]`) and of its sub-sections
/// (`[incidents.response]`).
fn section_edits(
    name: &str,
    item: &Item,
    defaults: Option<&toml::Value>,
    edits: &mut Vec<(std::ops::Range<usize>, String)>,
) -> Result<(), String> {
    let (Some(table), Some(toml::Value::Table(defaults))) = (item.as_table(), defaults) else {
        return Err(format!("[{name}] is not a section with defaults"));
    };
    for (key, item) in table.iter() {
        let path = format!("{name}.{key}");
        match (item, defaults.get(key)) {
            (Item::Value(v), Some(default)) => placeholders(v, default, &path, edits)?,
            (Item::Table(_), default) => section_edits(&path, item, default, edits)?,
            _ => return Err(format!("`{path}` has no default")),
        }
    }
    Ok(())
}

/// The edits that put `default` where `v`'s placeholders are: `{}` takes the whole value,
/// an inline table of placeholders takes the default table's values key by key.
fn placeholders(
    v: &Value,
    default: &toml::Value,
    name: &str,
    edits: &mut Vec<(std::ops::Range<usize>, String)>,
) -> Result<(), String> {
    let Value::InlineTable(t) = v else {
        return Err(format!("`{name}` is not a `{{}}` placeholder"));
    };
    if t.is_empty() {
        let span = v.span().ok_or_else(|| format!("`{name}` has no span"))?;
        edits.push((span, render(default)));
        return Ok(());
    }
    let toml::Value::Table(d) = default else {
        return Err(format!("`{name}` is a table in the template only"));
    };
    if t.len() != d.len() {
        return Err(format!("`{name}` has other keys than its default"));
    }
    for (k, v) in t.iter() {
        let default = d
            .get(k)
            .ok_or_else(|| format!("`{name}.{k}` has no default"))?;
        placeholders(v, default, &format!("{name}.{k}"), edits)?;
    }
    Ok(())
}

/// A value as TOML; strings as basic strings.
fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => toml_string(s),
        toml::Value::Array(a) => {
            format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", "))
        }
        toml::Value::Table(t) if t.is_empty() => "{}".into(),
        toml::Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn toml_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        toml_string(k)
    }
}

fn toml_string(s: &str) -> String {
    // A TOML basic string is a JSON string for our purposes.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every key of a table, with its path (`auth.role_map.ADMIN`).
    fn keys(t: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let path = format!("{prefix}{k}");
            if let toml::Value::Table(sub) = v {
                keys(sub, &format!("{path}."), out);
            }
            out.insert(path);
        }
    }

    #[test]
    fn the_template_sets_every_key_to_its_default() {
        let (org, origin) = ("Acme \"Corp\" ü", "acme.example/vouch/audit");
        let text = template(org, origin);
        let defaults = Defaults::new(org, origin);
        // Every key the schema has is in the template, and no other.
        let written: toml::Table = toml::from_str(&text).unwrap();
        let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
        keys(&defaults.to_table(), "", &mut want);
        keys(&written, "", &mut got);
        assert_eq!(got, want);
        // What it sets is the default.
        let s = parse(&text, Path::new("/d/vouch.toml")).unwrap();
        let parsed = Defaults {
            organization: s.organization,
            database: s.database,
            ledger: s.ledger,
            keys: s.keys,
            server: s.server,
            archive: s.archive,
            auth: s.auth,
            incidents: s.incidents,
            attestations: s.attestations,
        };
        assert_eq!(parsed.to_table(), defaults.to_table());
        assert!(s.include.is_empty() && s.source.is_empty() && s.evidence.is_empty());
        assert!(s.check.is_empty() && s.control.is_empty() && s.packs.is_empty());
    }

    #[test]
    fn ledger_defaults_are_the_serde_defaults() {
        // `[ledger]` with only its origin gets the defaults the template writes.
        let text = "[organization]\nname = \"A\"\n[ledger]\norigin = \"a/vouch/log\"\n";
        let s = parse(text, Path::new("/d/vouch.toml")).unwrap();
        let ledger = toml::Table::try_from(&s.ledger).unwrap();
        let want = toml::Table::try_from(LedgerSettings::with_origin("a/vouch/log")).unwrap();
        assert_eq!(ledger, want);
    }

    #[test]
    fn placeholders_must_have_defaults() {
        let values: toml::Table = toml::from_str("[a]\nx = 1\nm = { k = \"v\" }\n").unwrap();
        assert_eq!(
            fill("# c\n[a]\nx = {} # n\nm = { k = {} }\n", &values).unwrap(),
            "# c\n[a]\nx = 1 # n\nm = { k = \"v\" }\n"
        );
        assert!(fill("[a]\ny = {}\n", &values).is_err());
        assert!(fill("[a]\nm = { j = {} }\n", &values).is_err());
        assert!(fill("[b]\nx = {}\n", &values).is_err());
    }
}
