//! Rows of evidence content: what counts are taken over and checks evaluate. JSON is
//! read through an optional dotted path (`Volumes`, `data.items`), NDJSON line by line,
//! CSV by header, anything else has no rows.

use serde_json::Value;

/// The rows at `path` inside `v`: an array's elements, or the object itself.
pub fn select<'a>(v: &'a Value, path: Option<&str>) -> Result<Vec<&'a Value>, String> {
    let mut cur = v;
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        for part in p.split('.') {
            cur = cur
                .get(part)
                .ok_or_else(|| format!("the JSON has no `{p}` (rows)"))?;
        }
    }
    Ok(match cur {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    })
}

/// Parse stored content into rows.
pub fn parse(bytes: &[u8], media_type: &str, path: Option<&str>) -> Result<Vec<Value>, String> {
    match media_type {
        "application/json" => {
            let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
            Ok(select(&v, path)?.into_iter().cloned().collect())
        }
        "application/x-ndjson" => bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|l| serde_json::from_slice(l).map_err(|e| format!("not NDJSON: {e}")))
            .collect(),
        "text/csv" => {
            let mut r = csv::Reader::from_reader(bytes);
            let headers = r.headers().map_err(|e| e.to_string())?.clone();
            r.records()
                .map(|rec| {
                    let rec = rec.map_err(|e| e.to_string())?;
                    Ok(Value::Object(
                        headers
                            .iter()
                            .zip(rec.iter())
                            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                            .collect(),
                    ))
                })
                .collect()
        }
        _ => Ok(Vec::new()),
    }
}

pub use vouch_core::checks::{field, parse_time};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_and_parses() {
        let v = json!({"Volumes": [{"a": 1}, {"a": 2}]});
        assert_eq!(select(&v, Some("Volumes")).unwrap().len(), 2);
        assert!(select(&v, Some("Nope")).unwrap_err().contains("Nope"));
        assert_eq!(
            parse(b"{\"a\":1}\n\n{\"a\":2}\n", "application/x-ndjson", None)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse(b"a,b\n1,2\n", "text/csv", None).unwrap(),
            vec![json!({"a":"1","b":"2"})]
        );
        for s in [
            "2026-10-01T00:00:00Z",
            "2026-10-01 00:00:00+00",
            "2026-10-01 00:00:00",
            "2026-10-01",
        ] {
            assert_eq!(
                parse_time(&json!(s)).unwrap().to_rfc3339(),
                "2026-10-01T00:00:00+00:00",
                "{s}"
            );
        }
    }
}
