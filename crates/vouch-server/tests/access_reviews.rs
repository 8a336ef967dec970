//! Access reviews over HTTP: create (bad input names the field), decide as a reviewer
//! (own account refused, auditors refused), completion refused with the undecided count,
//! the signed document verified with the server's public key.

use crate::common::*;
use serde_json::{json, Value};
use vouch_server::roles::Role;

const CATALOG: &str = r#"

[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "team.members"
title = "Members of the compliance group"
source = "directory"
argv = ["cat", "{{pack_dir}}/members.json"]
population = true
account_key = "login"
privileged_key = "admin"
"#;

fn named(s: &Server, name: &str, role: Role) -> String {
    vouch_server::auth::create_token(&s.store, name, role, None)
        .unwrap()
        .1
}

on_both!(access_review_over_http, |kind| {
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let dir = s.data.dir.path();
    std::fs::write(
        dir.join("members.json"),
        json!([{"login": "alice", "admin": true}, {"login": "bob", "admin": false}]).to_string(),
    )
    .unwrap();
    // Collect as the job does (another process appending to the same ledger).
    let config = s.data.config();
    {
        let (store, _keys, ledger) = vouch_engine::open(&config).unwrap();
        let period = vouch_core::period::Period::parse("2026-10", chrono::Utc::now()).unwrap();
        let items = vouch_engine::evidence::Collector::new(&config, store, &ledger)
            .collect(&["team.members".into()], &period, &mut |_| {})
            .unwrap();
        assert!(items[0].ok(), "{:?}", items[0].record);
    }
    let officer = named(&s, "officer", Role::ComplianceOfficer);
    let alice = named(&s, "alice", Role::TeamLead);
    let dave = named(&s, "dave", Role::TeamLead);
    let auditor = named(&s, "auditor", Role::Auditor);
    let base = "/api/compliance/access-reviews";

    // Bad input names the field.
    let r = call(&s, "POST", base, Some(&officer), Some(r#"{"title": "Q4"}"#));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["details"]["field"], "populations");
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(
            r#"{"title": "Q4", "populations": [{"evidence": "nope", "reviewers": ["token:dave"]}]}"#,
        ),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("populations[0].evidence")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(
            r#"{"title": "Q4", "populations": [{"evidence": "team.members", "reviewers": "token:dave"}]}"#,
        ),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("populations[0].reviewers")),
        "{}",
        r.text()
    );
    // Auditors read, never manage.
    let body = r#"{"title": "Q4 compliance group", "populations": [{"evidence": "team.members", "reviewers": ["token:alice", {"id": "token:dave", "accounts": []}]}]}"#;
    assert_eq!(
        call(&s, "POST", base, Some(&auditor), Some(body)).status,
        403
    );

    let r = call(&s, "POST", base, Some(&officer), Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let id = v["campaign"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["campaign"]["status"], "in_progress");
    assert_eq!(v["entries"][0]["flags"], json!(["privileged"]));

    let decide = |token: &str, account: &str, decision: &str| {
        call(&s, "POST", &format!("{base}/{id}/decisions"), Some(token), Some(&json!({"population": "team.members", "account": account, "decision": decision, "note": "checked with HR"}).to_string()))
    };
    let r = decide(&alice, "alice", "keep");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "self_review");
    assert_eq!(r.json()["error"]["details"]["field"], "account");
    assert_eq!(decide(&auditor, "bob", "keep").status, 403);
    let r = decide(&dave, "bob", "maybe");
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("decision"))
    );
    assert_eq!(decide(&dave, "alice", "keep").status, 200);

    let r = call(
        &s,
        "POST",
        &format!("{base}/{id}/complete"),
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "undecided_entries");
    assert_eq!(r.json()["error"]["details"]["undecided"], 1);

    let r = decide(&alice, "bob", "revoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["finding_id"].is_string());
    let r = call(
        &s,
        "POST",
        &format!("{base}/{id}/complete"),
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let shown = call(&s, "GET", &format!("{base}/{id}"), Some(&auditor), None).json();
    assert_eq!(shown["campaign"]["status"], "completed");
    let pem = call(&s, "GET", "/api/compliance/public-key", None, None).text();
    let pem = pem[pem.find("-----BEGIN PUBLIC KEY-----").unwrap()..]
        .split_inclusive("-----END PUBLIC KEY-----")
        .next()
        .unwrap()
        .to_string();
    vouch_engine::signoff::review::verify(
        &pem,
        shown["document"].as_str().unwrap().as_bytes(),
        shown["signature"].as_str().unwrap(),
    )
    .unwrap();
    let list: Value = call(
        &s,
        "GET",
        &format!("{base}?status=completed"),
        Some(&auditor),
        None,
    )
    .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = call(
        &s,
        "GET",
        &format!("{base}?status=done"),
        Some(&auditor),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("status"))
    );
    // Every step is in the ledger, by who did it.
    let leaves = s.leaves();
    let by = |action: &str| {
        leaves
            .iter()
            .filter(|l| l["action"] == action)
            .map(|l| l["actor"]["id"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("access_review.started"), vec!["token:officer"]);
    assert_eq!(
        by("access_review.decided"),
        vec!["token:dave", "token:alice"]
    );
    assert_eq!(by("access_review.completed"), vec!["token:officer"]);
});

/// A campaign over `team.members` (alice, bob) with every entry decided, ready to be
/// completed; (officer token, auditor token, campaign id).
fn decided_campaign(s: &Server) -> (String, String, String) {
    let dir = s.data.dir.path();
    std::fs::write(
        dir.join("members.json"),
        json!([{"login": "alice", "admin": true}, {"login": "bob", "admin": false}]).to_string(),
    )
    .unwrap();
    let config = s.data.config();
    {
        let (store, _keys, ledger) = vouch_engine::open(&config).unwrap();
        let period = vouch_core::period::Period::parse("2026-10", chrono::Utc::now()).unwrap();
        let items = vouch_engine::evidence::Collector::new(&config, store, &ledger)
            .collect(&["team.members".into()], &period, &mut |_| {})
            .unwrap();
        assert!(items[0].ok(), "{:?}", items[0].record);
    }
    let officer = named(s, "officer", Role::ComplianceOfficer);
    let dave = named(s, "dave", Role::TeamLead);
    let auditor = named(s, "auditor", Role::Auditor);
    let base = "/api/compliance/access-reviews";
    let body = r#"{"title": "Q4 compliance group", "populations": [{"evidence": "team.members", "reviewers": ["token:dave"]}]}"#;
    let r = call(s, "POST", base, Some(&officer), Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["campaign"]["id"].as_str().unwrap().to_string();
    for (account, decision) in [("alice", "keep"), ("bob", "revoke")] {
        let r = call(s, "POST", &format!("{base}/{id}/decisions"), Some(&dave), Some(&json!({"population": "team.members", "account": account, "decision": decision, "note": "checked with HR"}).to_string()));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    (officer, auditor, id)
}

fn run_tool(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn complete_body(kind: &str, sig: &str, key: &str, sha: &str, at: &str) -> String {
    json!({
        "document_sha256": sha, "completed_at": at,
        "signature": {"kind": kind, "signature": sig, "public_key": key},
    })
    .to_string()
}

// Issue 15: a completed campaign is signed like an attestation. The completer fetches
// the draft's exact bytes, signs them with ssh-keygen on their side and completes with
// the detached signature: a signature that does not verify is 400 naming `signature`, a
// document other than the one signed 409, an auditor 403 (reads, never signs); the
// document set (JSON, Markdown, PDF) is written beside the attestations, verifies with
// ssh-keygen, openssl and `vouch verify`'s checks, and its hashes are in the ledger.
on_both!(ext_access_review_detached_ssh_signature, |kind| {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["ssh-keygen", "openssl"]),
        "ssh-keygen or openssl is missing",
    ) {
        return;
    }
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let (officer, auditor, id) = decided_campaign(&s);
    let base = format!("/api/compliance/access-reviews/{id}");
    let tmp = tempfile::tempdir().unwrap();
    for k in ["alice", "mallory"] {
        run_tool(
            std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", k, "-f"])
                .arg(tmp.path().join(k)),
        );
    }
    let alice_pub = std::fs::read_to_string(tmp.path().join("alice.pub")).unwrap();
    let draft_of = |kind: &str| {
        call(
            &s,
            "POST",
            &format!("{base}/draft"),
            Some(&officer),
            Some(&format!("{{\"signature_kind\":\"{kind}\"}}")),
        )
    };
    let r = draft_of("x509");
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature_kind")),
        "{}",
        r.text()
    );
    // Auditors read, never sign: neither the draft nor the completion.
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&auditor),
        Some(r#"{"signature_kind":"ssh"}"#),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = call(
        &s,
        "POST",
        &format!("{base}/complete"),
        Some(&auditor),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let r = draft_of("ssh");
    assert_eq!(r.status, 200, "{}", r.text());
    let bytes = r.body.clone();
    let sha = sha256_hex(&bytes);
    assert_eq!(r.header("x-vouch-document-sha256"), Some(sha.as_str()));
    let d = r.json();
    assert_eq!(d["access_review"]["personal_signature"], "ssh");
    assert_eq!(d["access_review"]["completed_by"], "token:officer");
    let at = d["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let file = tmp.path().join("draft.json");
    std::fs::write(&file, &bytes).unwrap();
    let sign_with = |key: &str| -> String {
        let _ = std::fs::remove_file(tmp.path().join("draft.json.sig"));
        run_tool(
            std::process::Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", "vouch-attestation", "-f"])
                .arg(tmp.path().join(key))
                .arg(&file),
        );
        std::fs::read_to_string(tmp.path().join("draft.json.sig")).unwrap()
    };
    let complete = format!("{base}/complete");
    // Mallory's signature with Alice's key named: does not verify, 400.
    let bad = sign_with("mallory");
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("ssh", &bad, &alice_pub, &sha, &at)),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature")),
        "{}",
        r.text()
    );
    let good = sign_with("alice");
    // A signature over other bytes than the document now (another hash; a document made
    // at another time): 409, and nothing is completed.
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &good,
            &alice_pub,
            &"0".repeat(64),
            &at,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "draft_changed", "{}", r.text());
    let later = vouch_core::event::format_timestamp(
        &(vouch_core::period::parse_instant(&at).unwrap() + chrono::Duration::seconds(1)),
    );
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("ssh", &good, &alice_pub, &sha, &later)),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("draft changed"), "{}", r.text());
    assert_eq!(
        call(&s, "GET", &base, Some(&auditor), None).json()["campaign"]["status"],
        "in_progress"
    );
    // Alice's signature over the draft: completed, the document exactly the draft.
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("ssh", &good, &alice_pub, &sha, &at)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["campaign"]["status"], "completed");
    assert_eq!(v["campaign"]["document_sha256"], sha.as_str());
    assert_eq!(v["campaign"]["personal_signature"]["kind"], "ssh");
    assert_eq!(v["document"].as_str().unwrap().as_bytes(), &bytes[..]);
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("access-review-{id}"));
    assert_eq!(
        std::fs::read(dir.join("access-review.json")).unwrap(),
        bytes
    );
    // ssh-keygen on the files as written (principal: the actor id, `:` as `_`).
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ssh-keygen -Y verify -f allowed_signers -I token_officer -n vouch-attestation -s access-review.json.ssh.sig < access-review.json")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // openssl on the JSON and the PDF, with the server's public key.
    for f in ["access-review.json", "access-review.pdf"] {
        let sig = std::fs::read_to_string(dir.join(format!("{f}.sig"))).unwrap();
        std::fs::write(
            tmp.path().join("sig.bin"),
            vouch_core::unb64(sig.trim()).unwrap(),
        )
        .unwrap();
        let o = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(dir.join("public_key.pem"))
            .arg("-signature")
            .arg(tmp.path().join("sig.bin"))
            .arg(dir.join(f))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(std::fs::read(dir.join("access-review.pdf"))
        .unwrap()
        .starts_with(b"%PDF"));
    assert!(std::fs::read_to_string(dir.join("access-review.md"))
        .unwrap()
        .contains(&sha));
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    assert!(steps.iter().all(|s| s.ok), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.check.contains("SSH signature") && s.ok),
        "{steps:#?}"
    );
    // The ledger event holds every file's hash and the key, registered on first use.
    let leaves = s.leaves();
    let ev = leaves
        .iter()
        .find(|l| l["action"] == "access_review.completed")
        .unwrap();
    for f in [
        "access-review.json",
        "access-review.md",
        "access-review.pdf",
    ] {
        assert_eq!(
            ev["metadata"]["files"][f].as_str(),
            Some(sha256_hex(&std::fs::read(dir.join(f)).unwrap()).as_str()),
            "{f}: {ev:#}"
        );
    }
    assert_eq!(ev["metadata"]["personal_signature"], "ssh");
    assert_eq!(ev["metadata"]["signer_key"]["pinned_by"], "registered");
    // Completed once: a second completion is a conflict.
    let r = call(&s, "POST", &complete, Some(&officer), None);
    assert_eq!(r.status, 409, "{}", r.text());
    // One key per person, for attestations and access reviews alike: the officer's
    // next review completed with another key (Mallory's) is refused, naming the key
    // pinned by the first one, and stays in progress.
    let erin = named(&s, "erin", Role::TeamLead);
    let r = call(
        &s,
        "POST",
        "/api/compliance/access-reviews",
        Some(&officer),
        Some(
            r#"{"title": "Q4 again", "populations": [{"evidence": "team.members", "reviewers": ["token:erin"]}]}"#,
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id2 = r.json()["campaign"]["id"].as_str().unwrap().to_string();
    let base2 = format!("/api/compliance/access-reviews/{id2}");
    for account in ["alice", "bob"] {
        let r = call(
            &s,
            "POST",
            &format!("{base2}/decisions"),
            Some(&erin),
            Some(
                &json!({"population": "team.members", "account": account, "decision": "keep"})
                    .to_string(),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = call(
        &s,
        "POST",
        &format!("{base2}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"ssh"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(&file, &r.body).unwrap();
    let sha2 = sha256_hex(&r.body);
    let at2 = r.json()["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let by_mallory = sign_with("mallory");
    let mallory_pub = std::fs::read_to_string(tmp.path().join("mallory.pub")).unwrap();
    let r = call(
        &s,
        "POST",
        &format!("{base2}/complete"),
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &by_mallory,
            &mallory_pub,
            &sha2,
            &at2,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let alice_fpr = String::from_utf8(
        run_tool(
            std::process::Command::new("ssh-keygen")
                .arg("-lf")
                .arg(tmp.path().join("alice.pub")),
        )
        .stdout,
    )
    .unwrap();
    let alice_fpr = alice_fpr.split_whitespace().nth(1).unwrap().to_string();
    assert!(r.text().contains(&alice_fpr), "{alice_fpr}: {}", r.text());
    assert_eq!(
        call(&s, "GET", &base2, Some(&auditor), None).json()["campaign"]["status"],
        "in_progress"
    );
    // A tampered document fails `vouch verify`'s check, naming the file.
    let text = std::fs::read_to_string(dir.join("access-review.json")).unwrap();
    std::fs::write(
        dir.join("access-review.json"),
        text.replace("\"revoke\"", "\"keep\""),
    )
    .unwrap();
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    let failed: Vec<_> = steps.iter().filter(|s| !s.ok).collect();
    assert!(!failed.is_empty(), "{steps:#?}");
    assert!(
        failed
            .iter()
            .all(|s| s.check.contains("access-review.json")),
        "{failed:#?}"
    );
});

// The same over the API with OpenPGP: `gpg --detach-sign` on the completer's side,
// checked by the server with only the public key sent; `gpg --verify` passes on the
// files written, and the fingerprint recorded is the key's.
on_both!(ext_access_review_detached_gpg_signature, |kind| {
    if !vouch_test_support::ext::require(vouch_test_support::ext::have(&["gpg"]), "gpg is missing")
    {
        return;
    }
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let (officer, _auditor, id) = decided_campaign(&s);
    let base = format!("/api/compliance/access-reviews/{id}");
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let gpg = || {
        let mut c = std::process::Command::new("gpg");
        c.env("GNUPGHOME", home.path()).arg("--batch");
        c
    };
    for uid in ["Alice <alice@example>", "Mallory <mallory@example>"] {
        run_tool(gpg().args([
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ]));
    }
    let export = |who: &str| {
        String::from_utf8(run_tool(gpg().args(["--armor", "--export", who])).stdout).unwrap()
    };
    let (alice_pub, mallory_pub) = (export("alice@example"), export("mallory@example"));
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"gpg"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let bytes = r.body.clone();
    let sha = sha256_hex(&bytes);
    let at = r.json()["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let file = home.path().join("draft.json");
    std::fs::write(&file, &bytes).unwrap();
    let sig = String::from_utf8(
        run_tool(
            gpg()
                .args([
                    "--yes",
                    "--armor",
                    "--local-user",
                    "alice@example",
                    "--output",
                    "-",
                    "--detach-sign",
                ])
                .arg(&file),
        )
        .stdout,
    )
    .unwrap();
    let complete = format!("{base}/complete");
    // Alice's signature checked with Mallory's key: 400 naming the signature.
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("gpg", &sig, &mallory_pub, &sha, &at)),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature")),
        "{}",
        r.text()
    );
    // Signed as gpg, sent as ssh: another document than the one signed, 409.
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("ssh", &sig, "ssh-ed25519 AAAA", &sha, &at)),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "draft_changed", "{}", r.text());
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body("gpg", &sig, &alice_pub, &sha, &at)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let fpr = String::from_utf8(
        run_tool(gpg().args(["--with-colons", "--list-keys", "alice@example"])).stdout,
    )
    .unwrap();
    let fpr = fpr
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .unwrap()
        .trim_matches(':')
        .to_string();
    assert_eq!(
        r.json()["campaign"]["personal_signature"]["key_id"],
        fpr.as_str()
    );
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("access-review-{id}"));
    assert_eq!(
        std::fs::read(dir.join("access-review.json")).unwrap(),
        bytes
    );
    let o = gpg()
        .arg("--verify")
        .arg(dir.join("access-review.json.asc"))
        .arg(dir.join("access-review.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("gpg_fingerprint"))
            .unwrap()
            .trim(),
        fpr
    );
});

/// ssh-keygen keys `names` in `dir` (no passphrase); the public key of the first.
fn ssh_keys(dir: &std::path::Path, names: &[&str]) -> String {
    for k in names {
        run_tool(
            std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", k, "-f"])
                .arg(dir.join(k)),
        );
    }
    std::fs::read_to_string(dir.join(format!("{}.pub", names[0]))).unwrap()
}

/// `ssh-keygen -Y sign` of `bytes` with `key` in `dir`: the armored signature.
fn ssh_sign(dir: &std::path::Path, key: &str, bytes: &[u8]) -> String {
    let file = dir.join("draft.json");
    std::fs::write(&file, bytes).unwrap();
    let _ = std::fs::remove_file(dir.join("draft.json.sig"));
    run_tool(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", "vouch-attestation", "-f"])
            .arg(dir.join(key))
            .arg(&file),
    );
    std::fs::read_to_string(dir.join("draft.json.sig")).unwrap()
}

// The detached signature's completed_at is the caller's: a document made to say it was
// completed before the decisions it records (correctly signed, within the hour) is 409
// draft_changed naming why; a draft over an hour old is draft_changed too (as
// documented); the campaign's stored end is the document's completed_at (what packets
// select by), not the moment the request arrived; the record holds the files' hashes
// as the ledger event does.
on_both!(ext_access_review_detached_completed_at, |kind| {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["ssh-keygen"]),
        "ssh-keygen is missing",
    ) {
        return;
    }
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let (officer, auditor, id) = decided_campaign(&s);
    let base = format!("/api/compliance/access-reviews/{id}");
    let tmp = tempfile::tempdir().unwrap();
    let alice_pub = ssh_keys(tmp.path(), &["alice"]);
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"ssh"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let bytes = r.body.clone();
    let at = r.json()["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let at_t = vouch_core::period::parse_instant(&at).unwrap();
    let complete = format!("{base}/complete");
    // Ten minutes before the draft: before the campaign started and every decision.
    let early = vouch_core::event::format_timestamp(&(at_t - chrono::Duration::minutes(10)));
    let text = String::from_utf8(bytes.clone()).unwrap();
    let needle = format!("\"completed_at\":\"{at}\"");
    assert_eq!(text.matches(&needle).count(), 1, "{text}");
    let backdated = text.replace(&needle, &format!("\"completed_at\":\"{early}\""));
    let sig = ssh_sign(tmp.path(), "alice", backdated.as_bytes());
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &sig,
            &alice_pub,
            &sha256_hex(backdated.as_bytes()),
            &early,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "draft_changed", "{}", r.text());
    assert!(r.text().contains("is before"), "{}", r.text());
    // A draft more than an hour old: draft_changed, as docs/access-reviews.md lists it.
    let stale = vouch_core::event::format_timestamp(&(at_t - chrono::Duration::hours(2)));
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &sig,
            &alice_pub,
            &"0".repeat(64),
            &stale,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "draft_changed", "{}", r.text());
    assert_eq!(
        call(&s, "GET", &base, Some(&auditor), None).json()["campaign"]["status"],
        "in_progress"
    );
    // The draft as fetched, completed a moment later: the stored end is the document's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let sig = ssh_sign(tmp.path(), "alice", &bytes);
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &sig,
            &alice_pub,
            &sha256_hex(&bytes),
            &at,
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["campaign"]["ended_at"], at.as_str(), "{v:#}");
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM access_reviews WHERE id = '{id}' AND ended_at = '{at}'"
        )),
        1
    );
    let leaves = s.leaves();
    let ev = leaves
        .iter()
        .find(|l| l["action"] == "access_review.completed")
        .unwrap();
    assert_ne!(ev["timestamp"], at.as_str(), "{ev:#}");
    assert_eq!(v["campaign"]["files"], ev["metadata"]["files"], "{v:#}");
});

// A revoke whose remediation finding could not be opened when it was decided: a refused
// completion opens nothing; fetching the draft opens it (so the draft is the document
// completion rebuilds), and the completion signed over that draft succeeds.
on_both!(ext_access_review_missing_finding_opened_by_draft, |kind| {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["ssh-keygen"]),
        "ssh-keygen is missing",
    ) {
        return;
    }
    let s = Server::start_with(kind, |t| t.push_str(CATALOG));
    let (officer, _auditor, id) = decided_campaign(&s);
    let base = format!("/api/compliance/access-reviews/{id}");
    let tmp = tempfile::tempdir().unwrap();
    let alice_pub = ssh_keys(tmp.path(), &["alice", "mallory"]);
    s.store
        .write(&mut |sql| {
            sql.execute(
                "UPDATE access_review_entries SET finding_id = NULL WHERE account = 'bob'",
                &[],
            )
            .map(|_| ())
        })
        .unwrap();
    let findings = || s.count("SELECT count(*) FROM findings");
    let n0 = findings();
    let complete = format!("{base}/complete");
    // Refused completions (a signature by another key: 400; another document: 409)
    // open no finding.
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"ssh"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(findings(), n0 + 1, "the draft opens the missing finding");
    let draft = r.json();
    let at = draft["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let fid = draft["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["account"] == "bob")
        .unwrap()["finding_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Drop it again: as if the draft had been fetched before the finding was opened
    // (the document without it: what such a draft held).
    let text = String::from_utf8(r.body.clone()).unwrap();
    let needle = format!("\"finding_id\":\"{fid}\"");
    assert_eq!(text.matches(&needle).count(), 1, "{text}");
    let bytes = text.replace(&needle, "\"finding_id\":null").into_bytes();
    s.store
        .write(&mut |sql| {
            sql.execute(
                "UPDATE access_review_entries SET finding_id = NULL WHERE account = 'bob'",
                &[],
            )
            .map(|_| ())
        })
        .unwrap();
    let n1 = findings();
    let by_mallory = ssh_sign(tmp.path(), "mallory", &bytes);
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &by_mallory,
            &alice_pub,
            &sha256_hex(&bytes),
            &at,
        )),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(findings(), n1, "a refused completion opened a finding");
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &by_mallory,
            &alice_pub,
            &"0".repeat(64),
            &at,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(findings(), n1, "a refused completion opened a finding");
    // The draft without the finding, correctly signed: refused naming the entry, nothing
    // opened.
    let good = ssh_sign(tmp.path(), "alice", &bytes);
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &good,
            &alice_pub,
            &sha256_hex(&bytes),
            &at,
        )),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "draft_changed", "{}", r.text());
    assert!(r.text().contains("`bob`"), "{}", r.text());
    assert_eq!(findings(), n1);
    // Fetch again (opens it), sign, complete: the first detached completion succeeds.
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"ssh"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(findings(), n1 + 1);
    let bytes = r.body.clone();
    let at = r.json()["access_review"]["completed_at"]
        .as_str()
        .unwrap()
        .to_string();
    let good = ssh_sign(tmp.path(), "alice", &bytes);
    let r = call(
        &s,
        "POST",
        &complete,
        Some(&officer),
        Some(&complete_body(
            "ssh",
            &good,
            &alice_pub,
            &sha256_hex(&bytes),
            &at,
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(findings(), n1 + 1);
});

// One person, one key, under concurrency too: a person's first personal signatures on
// two campaigns at the same moment, with two different keys, cannot both register.
// The pin is stored in the completing transaction (`signer_key_pins`, one row per
// signer), so exactly one completion is accepted and the other is 409 naming the key
// that won; a few rounds, each with a new completer, to give the race a chance.
on_both!(
    ext_access_review_first_use_pin_holds_under_concurrency,
    |kind| {
        if !vouch_test_support::ext::require(
            vouch_test_support::ext::have(&["ssh-keygen"]),
            "ssh-keygen is missing",
        ) {
            return;
        }
        let s = Server::start_with(kind, |t| t.push_str(CATALOG));
        let (_officer, _auditor, first) = decided_campaign(&s);
        let erin = named(&s, "erin", Role::TeamLead);
        let base = "/api/compliance/access-reviews";
        let tmp = tempfile::tempdir().unwrap();
        let mut campaigns = vec![first];
        for round in 0..4 {
            // Two decided campaigns for this round's completer.
            while campaigns.len() < 2 {
                let body = r#"{"title": "Q4 compliance group (again)", "populations": [{"evidence": "team.members", "reviewers": ["token:erin"]}]}"#;
                let officer = named(&s, &format!("setup{round}"), Role::ComplianceOfficer);
                let r = call(&s, "POST", base, Some(&officer), Some(body));
                assert_eq!(r.status, 201, "{}", r.text());
                let id = r.json()["campaign"]["id"].as_str().unwrap().to_string();
                for (account, decision) in [("alice", "keep"), ("bob", "revoke")] {
                    let r = call(&s, "POST", &format!("{base}/{id}/decisions"), Some(&erin), Some(&json!({"population": "team.members", "account": account, "decision": decision, "note": "checked with HR"}).to_string()));
                    assert_eq!(r.status, 200, "{}", r.text());
                }
                campaigns.push(id);
            }
            let completer = named(&s, &format!("officer{round}"), Role::ComplianceOfficer);
            let keys = [format!("k{round}a"), format!("k{round}b")];
            ssh_keys(tmp.path(), &[&keys[0], &keys[1]]);
            let bodies: Vec<(String, String)> = campaigns
                .iter()
                .zip(&keys)
                .map(|(id, key)| {
                    let r = call(
                        &s,
                        "POST",
                        &format!("{base}/{id}/draft"),
                        Some(&completer),
                        Some(r#"{"signature_kind":"ssh"}"#),
                    );
                    assert_eq!(r.status, 200, "{}", r.text());
                    let at = r.json()["access_review"]["completed_at"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let sig = ssh_sign(tmp.path(), key, &r.body);
                    let public =
                        std::fs::read_to_string(tmp.path().join(format!("{key}.pub"))).unwrap();
                    (
                        format!("{base}/{id}/complete"),
                        complete_body("ssh", &sig, &public, &sha256_hex(&r.body), &at),
                    )
                })
                .collect();
            let barrier = std::sync::Barrier::new(bodies.len());
            let answers: Vec<(u16, String)> = std::thread::scope(|sc| {
                let hs: Vec<_> = bodies
                    .iter()
                    .map(|(path, body)| {
                        let (s, completer, barrier) = (&s, &completer, &barrier);
                        sc.spawn(move || {
                            barrier.wait();
                            let r = call(s, "POST", path, Some(completer), Some(body));
                            (r.status, r.text())
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let ok = answers.iter().filter(|(st, _)| *st == 200).count();
            let refused: Vec<_> = answers.iter().filter(|(st, _)| *st == 409).collect();
            let short: Vec<_> = answers
                .iter()
                .map(|(st, t)| (st, t.chars().take(160).collect::<String>()))
                .collect();
            assert_eq!((ok, refused.len()), (1, 1), "round {round}: {short:?}");
            assert!(refused[0].1.contains("pinned to"), "{}", refused[0].1);
            // The refused campaign is still in progress: the next round completes it.
            campaigns.retain(|id| {
                call(&s, "GET", &format!("{base}/{id}"), Some(&completer), None).json()["campaign"]
                    ["status"]
                    == "in_progress"
            });
            assert_eq!(campaigns.len(), 1, "round {round}");
        }
    }
);
