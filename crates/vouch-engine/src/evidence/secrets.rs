//! Keeping secrets out of evidence, logs and errors. Every collector run builds a
//! [`Scrubber`] holding the secret values it handles (DSN passwords, tokens, values of
//! secret environment variables); everything recorded passes through it.

/// Replaces known secret values with `***`.
#[derive(Debug, Default, Clone)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Remember a secret. Very short values are still scrubbed (a 3-character password
    /// leaking is still a leak), but empty ones are ignored.
    pub fn add(&mut self, secret: impl Into<String>) {
        let s = secret.into();
        if !s.is_empty() && !self.secrets.contains(&s) {
            self.secrets.push(s);
            // Longest first, so a secret containing another is removed whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
            // Percent-encoded forms show up in URLs and error messages.
            let enc = crate::evidence::template::percent_encode(s);
            if enc != *s && out.contains(&enc) {
                out = out.replace(&enc, "***");
            }
        }
        out
    }

    pub fn scrub_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        if self.secrets.iter().all(|s| !contains(&bytes, s.as_bytes())) {
            return bytes;
        }
        let mut out = bytes;
        for s in &self.secrets {
            out = replace_all(&out, s.as_bytes(), b"***");
        }
        out
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
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
}
