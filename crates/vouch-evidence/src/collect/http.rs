//! The http collector: GET JSON pages with an auth header from an environment variable,
//! following `Link: rel="next"` or a cursor field, waiting out rate limits (429, or 403
//! with `X-RateLimit-Remaining: 0`). The rows of all pages become NDJSON content.

use super::{collector_id, env_var, hostname, NdjsonSink, Outcome, Run};
use crate::secrets::Scrubber;
use crate::template::{expand, percent_encode, Context};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use vouch_config::url::under_base;

const MAX_PAGES: usize = 10_000;
const MAX_RATE_WAITS: usize = 5;

/// Fetch every page of the definition's URL; secrets met are added to `scrubber`.
pub fn run(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    let src = run.source;
    let base = src
        .base_url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    let fp = json!({"base_url": base, "collected_on": hostname()});
    let path = match expand(
        run.def.url.as_deref().unwrap_or_default(),
        &run.vars,
        Context::Url,
    ) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(fp, json!({}), json!({}), e),
    };
    let first = if path.starts_with("http://") || path.starts_with("https://") {
        path
    } else {
        format!("{base}/{}", path.trim_start_matches('/'))
    };
    let op = json!({
        "method": "GET", "url": first, "rows": run.def.rows, "params": run.def.params,
        "cursor": run.def.cursor.as_ref().map(|c| json!({"param": c.param, "field": c.field})),
        "collector": collector_id("http"),
    });
    let token = match &src.token_env {
        Some(var) => match env_var(var, "token_env") {
            Ok(t) => {
                scrubber.add(t.clone());
                Some(t)
            }
            Err(e) => return Outcome::failed(fp, op, json!({}), e),
        },
        None => None,
    };
    let timeout = src.timeout();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let started = Instant::now();
    let mut sink = NdjsonSink::new(src);
    let mut pages = Vec::new();
    let mut url = first.clone();
    let mut waits = 0;
    let result: Result<(), String> = loop {
        if pages.len() >= MAX_PAGES {
            break Err(format!("more than {MAX_PAGES} pages"));
        }
        if !under_base(&url, base) {
            break Err(format!(
                "{url} is not under base_url {base}; not sending the token there"
            ));
        }
        let mut req = agent
            .get(&url)
            .header("User-Agent", concat!("vouch/", env!("CARGO_PKG_VERSION")));
        if !src.headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
            req = req.header("Accept", "application/json");
        }
        for (k, v) in &src.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(t) = &token {
            let scheme = src.auth_scheme.as_deref().unwrap_or("Bearer");
            let value = if scheme.is_empty() {
                t.clone()
            } else {
                format!("{scheme} {t}")
            };
            req = req.header(
                src.auth_header.as_deref().unwrap_or("Authorization"),
                value.as_str(),
            );
        }
        let mut resp = match req.call() {
            Ok(r) => r,
            Err(e) => break Err(format!("GET {url}: {e}")),
        };
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let remaining = header("x-ratelimit-remaining");
        if status == 429 || (status == 403 && remaining.as_deref() == Some("0")) {
            let wait = header("retry-after")
                .and_then(|s| s.parse::<u64>().ok())
                .or_else(|| {
                    header("x-ratelimit-reset")
                        .and_then(|s| s.parse::<i64>().ok())
                        .map(|reset| (reset - chrono::Utc::now().timestamp()).max(1) as u64)
                })
                .unwrap_or(1);
            let wait = Duration::from_secs(wait);
            waits += 1;
            if waits > MAX_RATE_WAITS || started.elapsed() + wait > timeout {
                break Err(format!(
                    "GET {url}: rate limited (HTTP {status}) and the wait would pass timeout_secs"
                ));
            }
            std::thread::sleep(wait);
            continue;
        }
        let link = header("link");
        let body = resp
            .body_mut()
            .with_config()
            .limit(src.max_bytes())
            .read_to_vec();
        let body = match body {
            Ok(b) => b,
            Err(e) => break Err(format!("GET {url}: reading the body: {e}")),
        };
        if !(200..300).contains(&status) {
            let snippet: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            break Err(format!("GET {url}: HTTP {status}: {snippet}"));
        }
        pages.push(json!({"url": url, "status": status}));
        let v: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => break Err(format!("GET {url}: the response is not JSON ({e})")),
        };
        let rows = match crate::rows::select(&v, run.def.rows.as_deref()) {
            Ok(r) => r,
            Err(e) => break Err(format!("GET {url}: {e}")),
        };
        let mut pushed = Ok(());
        for r in rows {
            pushed = sink.push(&scrubber.scrub_in("content", &r.to_string()));
            if pushed.is_err() {
                break;
            }
        }
        if let Err(e) = pushed {
            break Err(e);
        }
        let next = match &run.def.cursor {
            Some(c) => crate::rows::field(&v, &c.field)
                .and_then(|x| match x {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .map(|cur| with_param(&first, &c.param, &cur)),
            None => link.as_deref().and_then(next_link),
        };
        match next {
            Some(n) => url = n,
            None => break Ok(()),
        }
    };
    let details = json!({"pages": pages, "duration_ms": started.elapsed().as_millis() as u64, "rate_limit_waits": waits});
    Outcome {
        fingerprint: fp,
        operation: op,
        details,
        result: result
            .map(|()| vec![sink.finish()])
            .map_err(|e| scrubber.scrub(&e)),
    }
}

/// `url` with `name=value` set (replacing an existing value).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(name))
        .map(str::to_string)
        .collect();
    parts.push(format!("{name}={}", percent_encode(value)));
    format!("{base}?{}", parts.join("&"))
}

/// The `rel="next"` target of a Link header (RFC 8288).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        (is_next && target.starts_with('<') && target.ends_with('>'))
            .then(|| target[1..target.len() - 1].to_string())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_and_params() {
        let h = r#"<https://api.example/x?page=2>; rel="next", <https://api.example/x?page=5>; rel="last""#;
        assert_eq!(super::next_link(h).unwrap(), "https://api.example/x?page=2");
        assert_eq!(
            super::next_link(r#"<https://a/x?page=1>; rel="prev""#),
            None
        );
        assert_eq!(
            super::with_param("https://a/x?n=1&cursor=a", "cursor", "b c"),
            "https://a/x?n=1&cursor=b%20c"
        );
    }
}
