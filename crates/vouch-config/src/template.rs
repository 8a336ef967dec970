//! `{{name}}` placeholders in queries, argv, URLs and globs. The expanded text is what
//! runs and what the evidence item records, so an auditor sees the exact statement.

use std::collections::BTreeMap;

/// Placeholders vouch fills itself (the period's bounds, `now`, the defining pack's
/// directory); any other placeholder must be in the evidence's `params` or `params_env`.
pub const BUILTIN: &[&str] = &[
    "period_start",
    "period_end",
    "period_start_date",
    "period_end_date",
    "period_last_date",
    "period",
    "now",
    "pack_dir",
];

/// How a value is written into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A quoted SQL string literal; `mysql` also escapes backslashes.
    Sql {
        /// The target is MySQL/MariaDB, where backslash is an escape character.
        mysql: bool,
    },
    /// As is (argv elements, globs).
    Raw,
    /// Percent-encoded (URL query values and path segments).
    Url,
}

/// The placeholder names used in `text`, in order.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        out.push(split_filter(&after[..j]).0.to_string());
        rest = &after[j + 2..];
    }
    out
}

/// `name|ident` → (`name`, Some(`ident`)).
fn split_filter(inner: &str) -> (&str, Option<&str>) {
    match inner.split_once('|') {
        Some((n, f)) => (n.trim(), Some(f.trim())),
        None => (inner.trim(), None),
    }
}

/// A SQL identifier, quoted: `pgaudit.log` → `"pgaudit"."log"` (backticks on MySQL).
/// Each dot-separated part is quoted on its own, so a value can name a schema-qualified
/// table but never carry SQL.
fn sql_ident(name: &str, value: &str, mysql: bool) -> Result<String, String> {
    let q = if mysql { '`' } else { '"' };
    let parts: Vec<&str> = value.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) || value.contains('\0') || parts.len() > 3 {
        return Err(format!(
            "placeholder {{{{{name}|ident}}}}: `{value}` is not a table or column name (parts separated by `.`)"
        ));
    }
    Ok(parts
        .iter()
        .map(|p| format!("{q}{}{q}", p.replace(q, &format!("{q}{q}"))))
        .collect::<Vec<_>>()
        .join("."))
}

/// Replace every placeholder with its value; an unknown name is an error. In SQL,
/// `{{name|ident}}` writes the value as a quoted identifier (a table or column name)
/// instead of a string literal.
pub fn expand(text: &str, vars: &BTreeMap<String, String>, ctx: Context) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(format!("unclosed placeholder in `{text}`"));
        };
        let (name, filter) = split_filter(&after[..j]);
        let value = vars
            .get(name)
            .ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}"))?;
        match (ctx, filter) {
            (Context::Sql { mysql }, Some("ident")) => {
                out.push_str(&sql_ident(name, value, mysql)?)
            }
            (_, Some(f)) => {
                return Err(format!(
                    "placeholder {{{{{name}|{f}}}}}: the only filter is `ident`, in SQL queries"
                ))
            }
            (Context::Sql { mysql }, None) => {
                if value.contains('\0') {
                    return Err(format!("placeholder {{{{{name}}}}} holds a NUL byte"));
                }
                let mut v = value.replace('\'', "''");
                if mysql {
                    v = v.replace('\\', "\\\\");
                }
                out.push('\'');
                out.push_str(&v);
                out.push('\'');
            }
            (Context::Raw, None) => out.push_str(value),
            (Context::Url, None) => out.push_str(&percent_encode(value)),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// RFC 3986 percent-encoding of everything but unreserved characters, `:` and `/`
/// (both legal in a query; search syntaxes such as GitHub's `repo:o/r merged:A..B`
/// need them readable).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The built-in values for a period and a collection time.
pub fn period_vars(
    period: &vouch_core::period::Period,
    now: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<String, String> {
    let fmt = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let last = period.end - chrono::Duration::microseconds(1);
    BTreeMap::from([
        ("period_start".into(), fmt(&period.start)),
        ("period_end".into(), fmt(&period.end)),
        (
            "period_start_date".into(),
            period.start.format("%Y-%m-%d").to_string(),
        ),
        (
            "period_end_date".into(),
            period.end.format("%Y-%m-%d").to_string(),
        ),
        (
            "period_last_date".into(),
            last.format("%Y-%m-%d").to_string(),
        ),
        ("period".into(), period.label.clone()),
        ("now".into(), fmt(&now)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_by_context() {
        let vars = BTreeMap::from([
            ("a".to_string(), "it's".to_string()),
            ("b".to_string(), "x y&z\\".to_string()),
        ]);
        assert_eq!(
            expand(
                "WHERE n = {{a}} AND m = {{ b }}",
                &vars,
                Context::Sql { mysql: false }
            )
            .unwrap(),
            "WHERE n = 'it''s' AND m = 'x y&z\\'"
        );
        assert_eq!(
            expand("{{b}}", &vars, Context::Sql { mysql: true }).unwrap(),
            "'x y&z\\\\'"
        );
        assert_eq!(
            expand("/q?x={{b}}", &vars, Context::Url).unwrap(),
            "/q?x=x%20y%26z%5C"
        );
        assert_eq!(expand("{{a}}", &vars, Context::Raw).unwrap(), "it's");
        assert!(expand("{{nope}}", &vars, Context::Raw)
            .unwrap_err()
            .contains("nope"));
        assert_eq!(
            placeholders("{{a}} and {{ b }} {{c|ident}}"),
            vec!["a", "b", "c"]
        );
        let t = BTreeMap::from([
            ("t".to_string(), "pgaudit.log".to_string()),
            ("x".to_string(), "a\"b; DROP".to_string()),
        ]);
        let sql = Context::Sql { mysql: false };
        assert_eq!(
            expand("FROM {{t|ident}} e, {{ x | ident }}", &t, sql).unwrap(),
            "FROM \"pgaudit\".\"log\" e, \"a\"\"b; DROP\""
        );
        assert_eq!(
            expand("{{t|ident}}", &t, Context::Sql { mysql: true }).unwrap(),
            "`pgaudit`.`log`"
        );
        assert!(expand("{{t|ident}}", &t, Context::Raw).is_err());
        let bad = BTreeMap::from([("t".to_string(), "a..b".to_string())]);
        assert!(expand("{{t|ident}}", &bad, sql)
            .unwrap_err()
            .contains("a..b"));
    }

    #[test]
    fn period_values() {
        let now = chrono::Utc::now();
        let p = vouch_core::period::Period::parse("2026-10", now).unwrap();
        let v = period_vars(&p, now);
        assert_eq!(v["period_start"], "2026-10-01T00:00:00Z");
        assert_eq!(v["period_end"], "2026-11-01T00:00:00Z");
        assert_eq!(v["period_last_date"], "2026-10-31");
        assert_eq!(v["period"], "2026-10");
    }
}
