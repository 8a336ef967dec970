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

/// Make a passphrase-less ed25519 signing key for `uid` in the keyring at `home`; its
/// fingerprint.
fn gpg_key(home: &std::path::Path, uid: &str) -> String {
    let out = std::process::Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--with-colons", "--list-keys", uid])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| !f.is_empty()))
        .unwrap()
        .to_string()
}

// Two keys in the keyring: a good signature by key Y is refused when the document says
// key X signed it; the recorded key (fingerprint or long key id) is required.
#[test]
fn ext_gpg_signature_must_be_by_the_recorded_key() {
    use vouch_signoff::signature::{gpg_sign, verify_personal, PersonalSignature};
    if !vouch_test_support::ext::require(vouch_test_support::ext::have(&["gpg"]), "gpg is missing")
    {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // This test binary's own gpg calls (gpg_sign, verify_personal) use this keyring.
    std::env::set_var("GNUPGHOME", home.path());
    let x = gpg_key(home.path(), "Xavier <x@example>");
    let y = gpg_key(home.path(), "Yvonne <y@example>");
    assert_ne!(x, y);
    let bytes = b"{\"opinion\":\"unqualified\"}";
    let PersonalSignature::Gpg { signature, key_id } = gpg_sign("y@example", bytes).unwrap() else {
        panic!("a gpg signature")
    };
    // The recorded key is the fingerprint of the key that signed, not the name given.
    assert_eq!(key_id, y);
    let claim = |key_id: &str| PersonalSignature::Gpg {
        signature: signature.clone(),
        key_id: key_id.into(),
    };
    verify_personal(&claim(&y), bytes).unwrap();
    verify_personal(&claim(&y[y.len() - 16..]), bytes).unwrap();
    let e = verify_personal(&claim(&x), bytes).unwrap_err().to_string();
    assert!(e.contains("not the recorded key"), "{e}");
    assert!(verify_personal(&claim(&x[x.len() - 16..]), bytes).is_err());
    // A name is not a key: it cannot say which key signed.
    assert!(verify_personal(&claim("y@example"), bytes).is_err());
    // The right key over other bytes: bad signature.
    assert!(verify_personal(&claim(&y), b"{\"opinion\":\"qualified\"}").is_err());
}

// Issue 15 (review): in an allowed-signers file the principal is a pattern list (`,`
// separates, `*` matches anything), so a signer named `eve,*` would have let any
// principal's signature verify. Only [A-Za-z0-9._@-] is kept; the rest becomes `_`.
#[test]
fn ssh_principal_keeps_only_safe_characters() {
    use vouch_signoff::signature::{allowed_signers_line, principal_of};
    assert_eq!(principal_of("Dana Officer, *admin"), "Dana_Officer___admin");
    assert_eq!(principal_of("a.b_c@d-e"), "a.b_c@d-e");
    assert_eq!(
        allowed_signers_line("eve,*", "ssh-ed25519 AAAAC3Nz eve@x"),
        "eve__ namespaces=\"vouch-attestation\" ssh-ed25519 AAAAC3Nz eve@x\n"
    );
}

// The same with the real ssh-keygen: a document signed as `eve,*` verifies for the
// principal `eve__` only, never for `mallory`.
#[test]
fn ext_ssh_principal_with_comma_or_star_names_no_one_else() {
    use vouch_signoff::signature::{allowed_signers_line, ssh_sign, ssh_verify, PersonalSignature};
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["ssh-keygen"]),
        "ssh-keygen is missing",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "eve", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = b"{\"document\":1}";
    let PersonalSignature::Ssh {
        signature,
        public_key,
        principal,
    } = ssh_sign(&key, "eve,*", bytes).unwrap()
    else {
        panic!("an SSH signature")
    };
    assert_eq!(principal, "eve__");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, allowed_signers_line("eve,*", &public_key)).unwrap();
    ssh_verify(&allowed, "eve__", &signature, bytes).unwrap();
    assert!(ssh_verify(&allowed, "mallory", &signature, bytes).is_err());
}
