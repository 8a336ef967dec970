//! `[[witness]]` (C2SP tlog-witness cosigners of the ledger's checkpoints) and
//! `[timestamp]` (an RFC 3161 timestamp authority). See docs/witnesses.md.

use crate::spans::{Spans, Step};
use crate::{ConfigError, Settings};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `[[witness]]`: one witness the `witness` job submits each new checkpoint to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessDef {
    /// A label for people (the witness's identity is its key's name).
    pub name: String,
    /// The submission prefix: `add-checkpoint` is POSTed to `<url>/add-checkpoint`.
    pub url: String,
    /// The witness's verifier key, `<name>+<key id>+<base64>` (type 0x04, Ed25519
    /// cosignature/v1), as `vouch witness keygen` prints it.
    pub vkey: String,
}

/// `[timestamp]`: an RFC 3161 timestamp authority.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimestampSettings {
    /// The TSA's URL (`http(s)://…`), POSTed `application/timestamp-query`; empty: off.
    pub url: String,
    /// The CA certificate(s) (PEM file) that `vouch verify` checks tokens against;
    /// relative to the data directory. Optional: `vouch verify --tsa-ca` also sets it.
    pub ca_file: String,
}

fn vkey_shape(vkey: &str) -> Result<(), String> {
    let parts: Vec<&str> = vkey.trim().splitn(3, '+').collect();
    let ok = parts.len() == 3
        && !parts[0].is_empty()
        && parts[1].len() == 8
        && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
        && vouch_core::unb64(parts[2]).is_some_and(|raw| raw.len() == 33 && raw[0] == 0x04);
    if ok {
        Ok(())
    } else {
        Err("must be a witness verifier key <name>+<key id>+<base64> of type 0x04 (Ed25519 cosignature/v1), as `vouch witness keygen` prints it".into())
    }
}

/// Cross-field rules of `[[witness]]` and `[timestamp]`.
pub(crate) fn validate(s: &Settings, text: &str, file: &Path) -> Result<(), ConfigError> {
    let spans = Spans::new(text);
    let mut names = std::collections::BTreeSet::new();
    for (i, w) in s.witness.iter().enumerate() {
        let fail = |key: &str, msg: &str| {
            ConfigError::Invalid(format!(
                "{}:{}: key `witness[{i}].{key}`: {msg}",
                file.display(),
                spans.line_of(&[Step::Key("witness"), Step::Nth(i), Step::Key(key)])
            ))
        };
        if w.name.trim().is_empty() {
            return Err(fail("name", "must not be empty"));
        }
        if !names.insert(w.name.as_str()) {
            return Err(fail("name", "another [[witness]] has this name"));
        }
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            return Err(fail("url", "must be an http:// or https:// URL"));
        }
        vkey_shape(&w.vkey).map_err(|m| fail("vkey", &m))?;
    }
    let t = &s.timestamp;
    // Empty means no timestamp authority; otherwise an http(s) URL.
    if !(t.url.is_empty() || t.url.starts_with("http://") || t.url.starts_with("https://")) {
        return Err(ConfigError::Invalid(format!(
            "{}:{}: key `timestamp.url`: must be an http:// or https:// URL",
            file.display(),
            spans.line_of_key(&["timestamp"], "url")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const BASE: &str =
        "[organization]\nname = \"Acme\"\n[ledger]\norigin = \"acme.example/vouch/audit\"\n";
    // A type 0x04 vkey (the key id is checked where the key is used, not here).
    const VKEY: &str = "w.example+01020304+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn parse(extra: &str) -> Result<crate::Settings, String> {
        crate::parse(&format!("{BASE}{extra}"), Path::new("vouch.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn witnesses_and_timestamp_parse_and_errors_name_the_key() {
        let s = parse(&format!(
            "[[witness]]\nname = \"w\"\nurl = \"https://w.example\"\nvkey = \"{VKEY}\"\n[timestamp]\nurl = \"http://tsa.example/\"\n"
        ))
        .unwrap();
        assert_eq!(s.witness.len(), 1);
        assert_eq!(s.timestamp.url, "http://tsa.example/");
        assert!(parse("").unwrap().witness.is_empty());
        let e = parse(&format!(
            "[[witness]]\nname = \"w\"\nurl = \"ftp://w.example\"\nvkey = \"{VKEY}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("vouch.toml:7: key `witness[0].url`"), "{e}");
        // A signed-note (0x01) key where a cosigner key (0x04) belongs.
        let e = parse("[[witness]]\nname = \"w\"\nurl = \"https://w\"\nvkey = \"w+01020304+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n").unwrap_err();
        assert!(e.contains("witness[0].vkey") && e.contains("0x04"), "{e}");
        let e = parse("[timestamp]\nurl = \"tsa.example\"\n").unwrap_err();
        assert!(e.contains("timestamp.url"), "{e}");
    }
}
