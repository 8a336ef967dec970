//! RFC 8785 (JSON Canonicalization Scheme) serialisation of `serde_json::Value`.
//!
//! Written here rather than taken from a crate because it is on the hot path of every
//! append and every leaf must be byte-exact: keys sorted by UTF-16 code units, strings
//! escaped minimally, numbers printed as ECMAScript does (through `ryu-js`).

use serde_json::Value;

/// Canonical bytes of a JSON value.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// Canonical text of a JSON value.
pub fn to_string(value: &Value) -> String {
    // write_value only ever emits valid UTF-8.
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

/// Append the canonical form of `value` to `out`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map, None),
    }
}

/// Write an object, with one extra member merged in at its sorted place (used to add
/// the ledger's `seq` to an event without copying the event).
pub fn write_object(
    out: &mut Vec<u8>,
    map: &serde_json::Map<String, Value>,
    extra: Option<(&str, &Value)>,
) {
    let mut entries: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if let Some((k, v)) = extra {
        entries.retain(|(ek, _)| *ek != k);
        entries.push((k, v));
    }
    entries.sort_by(|a, b| cmp_utf16(a.0, b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

/// Order two keys by their UTF-16 code units, as RFC 8785 §3.2.3 requires.
pub fn cmp_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    const SAFE: u64 = 1 << 53;
    if let Some(u) = n.as_u64() {
        if u <= SAFE {
            out.extend_from_slice(u.to_string().as_bytes());
            return;
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= SAFE {
            out.extend_from_slice(i.to_string().as_bytes());
            return;
        }
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 {
        // ECMAScript prints -0 as 0.
        out.push(b'0');
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format(f).as_bytes());
}

/// Write a JSON string with the minimal escaping RFC 8785 prescribes.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The raw text of a top-level string member of a JSON object, found by scanning
/// (no allocation, no full parse). For verified leaves, which vouch wrote canonically.
pub fn top_level_str<'a>(json: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut i = 1; // after '{'
    if json.first() != Some(&b'{') {
        return None;
    }
    loop {
        // A key.
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let kend = string_end(json, i)?;
        let k = &json[i + 1..kend];
        i = kend + 1;
        if json.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        let vstart = i;
        i = value_end(json, i)?;
        if k == key.as_bytes() {
            let v = &json[vstart..i];
            return (v.len() >= 2 && v[0] == b'"').then(|| &v[1..v.len() - 1]);
        }
        match json.get(i) {
            Some(b',') => i += 1,
            _ => return None,
        }
    }
}

/// Index of the closing quote of the string opening at `start`.
fn string_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the value starting at `start`.
fn value_end(s: &[u8], start: usize) -> Option<usize> {
    match *s.get(start)? {
        b'"' => string_end(s, start).map(|e| e + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < s.len() {
                match s[i] {
                    b'"' => {
                        i = string_end(s, i)?;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = start;
            while i < s.len() && !matches!(s[i], b',' | b'}' | b']') {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        to_string(&serde_json::from_str::<Value>(text).unwrap())
    }

    #[test]
    fn rfc8785_sorting_vector() {
        // RFC 8785 §3.2.3: sorting by UTF-16 code units.
        let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
        let out = canon(input);
        let order = [
            "\\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| out.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn rfc8785_example_vector() {
        // RFC 8785 §3.2.2 example input and its canonical output.
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(canon(input), expected);
    }

    #[test]
    fn rfc8785_number_vectors() {
        // Appendix B of RFC 8785 (IEEE 754 bit patterns and their ECMAScript text).
        let cases: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in cases {
            let f = f64::from_bits(*bits);
            let v = json!(f);
            assert_eq!(to_string(&v), *want, "bits {bits:#x}");
        }
    }

    #[test]
    fn scans_top_level_members_only() {
        let doc = br#"{"a":{"id":"inner","x":[1,{"id":"deeper"}]},"b":"q\"uote","id":"top","n":-1.5e3,"z":null}"#;
        assert_eq!(top_level_str(doc, "id"), Some(&b"top"[..]));
        assert_eq!(top_level_str(doc, "b"), Some(&br#"q\"uote"#[..]));
        assert_eq!(top_level_str(doc, "n"), None);
        assert_eq!(top_level_str(doc, "missing"), None);
        assert_eq!(top_level_str(b"[1]", "id"), None);
    }

    #[test]
    fn large_integers_print_as_doubles() {
        assert_eq!(to_string(&json!(u64::MAX)), "18446744073709552000");
        assert_eq!(to_string(&json!(-42)), "-42");
    }
}
