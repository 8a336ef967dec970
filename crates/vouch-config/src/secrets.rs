//! Keeping secrets out of evidence, logs and errors. Every collector run builds a
//! [`Scrubber`] holding the secret values it handles (DSN passwords, tokens, values of
//! secret environment variables); everything recorded passes through it.

/// Secrets shorter than this are refused: a short value is likely to occur inside
/// ordinary content (a cluster named `holdout-demo` and a password `holdout`), and
/// scrubbing it would alter evidence far from any credential.
pub const MIN_SECRET_LEN: usize = 8;

/// Replaces known secret values with `***` and counts what it replaced, by secret name
/// and place, so the item record can say exactly how its content was altered.
#[derive(Debug, Default)]
pub struct Scrubber {
    /// (name, value), longest value first.
    secrets: Vec<(String, String)>,
    /// (secret name, where) -> replacements.
    counts: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>,
}

/// Why a secret cannot be used: it is too short to scrub safely. Names the variable,
/// never the value.
pub fn check_secret(name: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n > 0 && n < MIN_SECRET_LEN {
        return Err(format!(
            "{name} holds a secret of {n} character(s); secrets shorter than {MIN_SECRET_LEN} cannot be scrubbed from evidence safely (they occur inside ordinary words): use a longer credential"
        ));
    }
    Ok(())
}

impl Scrubber {
    /// An empty scrubber (no secrets registered).
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Remember a secret met by a collector, without a name (`secret`). A value already
    /// registered under a name keeps that name.
    pub fn add(&mut self, secret: impl Into<String>) {
        self.add_named("secret", secret);
    }

    /// Remember a secret under the name the record will show (an environment variable,
    /// `VAR password` for a DSN's password). Empty values are ignored.
    pub fn add_named(&mut self, name: &str, secret: impl Into<String>) {
        let s = secret.into();
        if !s.is_empty() && !self.secrets.iter().any(|(_, v)| *v == s) {
            self.secrets.push((name.to_string(), s));
            // Longest first, so a secret containing another is removed whole.
            self.secrets
                .sort_by_key(|(_, s)| std::cmp::Reverse(s.len()));
        }
    }

    fn count(&self, name: &str, place: &str, n: usize) {
        if n > 0 {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            *c.entry((name.to_string(), place.to_string())).or_default() += n as u64;
        }
    }

    /// Scrub text that goes into the record (operation, errors, stderr).
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_in("record", text)
    }

    /// Scrub text, counting replacements under `place` (`content`, `operation.argv`, …).
    pub fn scrub_in(&self, place: &str, text: &str) -> String {
        let mut out = text.to_string();
        for (name, s) in &self.secrets {
            // Percent-encoded forms show up in URLs and error messages.
            let enc = crate::template::percent_encode(s);
            for (i, form) in [s.as_str(), enc.as_str()].into_iter().enumerate() {
                if i == 1 && enc == *s {
                    continue;
                }
                let n = out.matches(form).count();
                if n > 0 {
                    out = out.replace(form, "***");
                    self.count(name, place, n);
                }
            }
        }
        out
    }

    /// Scrub content bytes (counted under `content`).
    pub fn scrub_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        if self
            .secrets
            .iter()
            .all(|(_, s)| !contains(&bytes, s.as_bytes()))
        {
            return bytes;
        }
        let mut out = bytes;
        for (name, s) in &self.secrets {
            let (o, n) = replace_all(&out, s.as_bytes(), b"***");
            out = o;
            self.count(name, "content", n);
        }
        out
    }

    /// Scrub one item's content without adding to the run's counts: the replacements
    /// made in this content, by secret name (an item records only its own).
    pub fn scrub_content(&self, bytes: Vec<u8>) -> (Vec<u8>, Vec<(String, u64)>) {
        let mut out = bytes;
        let mut made = Vec::new();
        for (name, s) in &self.secrets {
            if !contains(&out, s.as_bytes()) {
                continue;
            }
            let (o, n) = replace_all(&out, s.as_bytes(), b"***");
            out = o;
            match made
                .iter_mut()
                .find(|(m, _): &&mut (String, u64)| m == name)
            {
                Some((_, k)) => *k += n as u64,
                None => made.push((name.clone(), n as u64)),
            }
        }
        (out, made)
    }

    /// What one item records as scrubbed: the run's replacements outside content (its
    /// operation, errors, record: shared by every item of the run), the run's content
    /// replacements made by the collector itself when the run has a single item
    /// (`single`), and `own`, the replacements made in this item's content.
    pub fn report_for(&self, single: bool, own: &[(String, u64)]) -> serde_json::Value {
        let mut c = self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !single {
            c.retain(|(_, place), _| place != "content");
        }
        for (name, n) in own {
            *c.entry((name.clone(), "content".to_string())).or_default() += n;
        }
        serde_json::Value::Array(
            c.iter()
                .map(|((name, place), n)| {
                    serde_json::json!({"secret": name, "where": place, "replacements": n})
                })
                .collect(),
        )
    }

    /// What was scrubbed: `[{"secret": NAME, "where": PLACE, "replacements": N}]`, for
    /// the item record (empty when nothing was).
    pub fn report(&self) -> serde_json::Value {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::Value::Array(
            c.iter()
                .map(|((name, place), n)| {
                    serde_json::json!({"secret": name, "where": place, "replacements": n})
                })
                .collect(),
        )
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    let mut n = 0;
    while i < hay.len() {
        if !needle.is_empty() && hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
            n += 1;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    (out, n)
}

/// The password inside a DSN: URL userinfo (`postgres://u:PW@h/db`), a `password=`
/// query parameter, or a `password=` keyword (`host=h password=PW`).
pub fn dsn_password(dsn: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(scheme_end) = dsn.find("://") {
        let rest = &dsn[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            if let Some((_, pw)) = rest[..at].split_once(':') {
                out.push(pw.to_string());
                if let Some(decoded) = percent_decode(pw) {
                    out.push(decoded);
                }
            }
        }
    }
    for part in dsn.split(['?', '&', ' ']) {
        if let Some((k, v)) = part.split_once('=') {
            if k.trim().eq_ignore_ascii_case("password") {
                let v = v.trim_matches('\'');
                out.push(v.to_string());
                if let Some(decoded) = percent_decode(v) {
                    out.push(decoded);
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A value that looks like a URL with credentials, masked for an error message.
pub fn mask_if_url(s: &str) -> String {
    if s.contains("://") {
        vouch_store::redact_url(s)
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_scrubs_passwords() {
        assert_eq!(
            dsn_password("postgres://u:s3cr%40t@h/db"),
            vec!["s3cr%40t", "s3cr@t"]
        );
        assert_eq!(
            dsn_password("mysql://h/db?user=u&password=pw1"),
            vec!["pw1"]
        );
        assert_eq!(dsn_password("host=h password=pw2 dbname=x"), vec!["pw2"]);
        assert!(dsn_password("postgres://u@h/db").is_empty());
        let mut s = Scrubber::new();
        s.add("s3cr@t");
        assert_eq!(
            s.scrub("auth s3cr@t failed s3cr%40t"),
            "auth *** failed ***"
        );
        assert_eq!(s.scrub_bytes(b"xs3cr@ty".to_vec()), b"x***y");
    }

    #[test]
    fn counts_by_name_and_place_and_refuses_short_secrets() {
        let mut s = Scrubber::new();
        s.add_named("DEMO_TOKEN", "holdout-demo");
        s.add("holdout-demo"); // same value met again by a collector: keeps its name
        assert_eq!(
            s.scrub_bytes(b"{\"cluster\":\"holdout-demo-eu\",\"b\":\"holdout-demo\"}".to_vec()),
            b"{\"cluster\":\"***-eu\",\"b\":\"***\"}"
        );
        assert_eq!(s.scrub_in("details.stderr", "x holdout-demo"), "x ***");
        assert_eq!(
            s.report(),
            serde_json::json!([
                {"secret": "DEMO_TOKEN", "where": "content", "replacements": 2},
                {"secret": "DEMO_TOKEN", "where": "details.stderr", "replacements": 1},
            ])
        );
        let e = check_secret("DEMO_TOKEN", "holdout").unwrap_err();
        assert!(
            e.starts_with("DEMO_TOKEN holds a secret of 7 character(s)"),
            "{e}"
        );
        assert!(!e.contains("holdout"), "{e}");
        assert!(check_secret("DEMO_TOKEN", "holdout-").is_ok());
    }
}
