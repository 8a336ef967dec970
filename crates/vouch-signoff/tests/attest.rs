//! Attestation tests that need no database: seed 001's criteria judged from facts, the
//! Markdown rendering, the signature files' shape. The database-backed flows (windows
//! through the scheduler with a hand-moved clock, signing, lateness, openssl / ssh-keygen
//! / gpg) are in vouch-engine's tests (`attest.rs`), which have a data directory.

use chrono::{DateTime, Utc};
use vouch_core::period::Period;
use vouch_signoff::collection::{criteria, CollectionFacts, EXPORTS};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn facts(
    completed: &str,
    missing: &[&str],
    chain: Result<u64, String>,
    archive: Option<serde_json::Value>,
) -> CollectionFacts {
    CollectionFacts {
        completed_at: t(completed),
        exports: EXPORTS
            .iter()
            .map(|e| {
                (
                    e.to_string(),
                    (!missing.contains(e)).then(|| format!("evidence {e} item 1")),
                )
            })
            .collect(),
        chain,
        archive,
    }
}

#[test]
fn collection_criteria_are_judged_never_assumed() {
    let oct = Period::parse("2026-10", t("2026-11-02T00:00:00Z")).unwrap();
    let archive = serde_json::json!({"id": "c1", "type": "soc2-evidence-collection", "folder": "soc2/2026-10", "storage": "dir", "encryption": [{"kind": "age"}]});
    let all = criteria(
        &oct,
        7,
        &facts("2026-11-01T03:00:00Z", &[], Ok(10), Some(archive.clone())),
    );
    assert!(all.iter().all(|s| s.status == "pass"), "{all:?}");
    // Each criterion fails on its own fact.
    let s = criteria(
        &oct,
        7,
        &facts(
            "2026-11-08T00:00:01Z",
            &["dr-drill"],
            Err("chain breaks at 5".into()),
            None,
        ),
    );
    let st: Vec<&str> = s.iter().map(|x| x.status.as_str()).collect();
    assert_eq!(st, ["fail", "fail", "fail", "fail", "fail"]);
    assert!(s[1]
        .detail
        .as_deref()
        .unwrap()
        .starts_with("missing: dr-drill"));
    assert!(s[2]
        .detail
        .as_deref()
        .unwrap()
        .contains("chain breaks at 5"));
    // An archive made with --no-encrypt is logged but not an encrypted bundle.
    let mut plain = archive;
    plain["encryption"] = serde_json::json!([]);
    let s = criteria(
        &oct,
        7,
        &facts("2026-11-01T03:00:00Z", &[], Ok(1), Some(plain)),
    );
    assert_eq!(
        (s[3].status.as_str(), s[4].status.as_str()),
        ("fail", "pass")
    );
}

#[test]
fn ssh_allowed_signers_line_names_the_namespace() {
    let l = vouch_signoff::signature::allowed_signers_line(
        "Dana Officer",
        "ssh-ed25519 AAAAC3Nz dana@x\n",
    );
    assert_eq!(
        l,
        "Dana_Officer namespaces=\"vouch-attestation\" ssh-ed25519 AAAAC3Nz dana@x\n"
    );
}
