//! Where a URL points: the one rule (same scheme, host and port, under the base path)
//! that decides whether an HTTP source may send its token to a URL.

/// Scheme, authority and path of an http(s) URL; `None` for anything else, including
/// authorities with userinfo (`https://api.example@evil.example/`).
fn split_url(url: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return None;
    }
    let path = rest[end..]
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_string();
    Some((scheme, authority, path))
}

/// Is `url` on the same scheme, host and port as `base`, under its path? The token is
/// only ever sent there, whatever a `Link` header says.
pub fn under_base(url: &str, base: &str) -> bool {
    let (Some((s1, a1, p1)), Some((s2, a2, p2))) = (split_url(url), split_url(base)) else {
        return false;
    };
    let prefix = p2.trim_end_matches('/');
    s1 == s2
        && a1 == a2
        && !p1.split('/').any(|seg| seg == "..")
        && (prefix.is_empty() || p1 == prefix || p1.starts_with(&format!("{prefix}/")))
}
