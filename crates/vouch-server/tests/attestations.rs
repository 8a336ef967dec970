//! Attestations over real loopback HTTP on SQLite and PostgreSQL (issue 15): an officer
//! opens and signs, auditors read and sign nothing, another role is refused by the
//! document (403), bad input is a 4xx naming the field, a second signature is 409, and
//! the scrape reports the window and then the signature.

use crate::common::*;
use serde_json::Value;
use vouch_server::roles::Role;

on_both!(attestation_api_roles_bad_input_and_freeze, |kind| {
    // Monthly attestations whose window is open all month, whatever today's date.
    let s = Server::start_with(kind, |t| {
        *t = t
            .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
            .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1)
    });
    let officer = token(&s, Role::ComplianceOfficer, None);
    let auditor = token(&s, Role::Auditor, None);
    let lead = token(&s, Role::TeamLead, None);
    let ingest = token(&s, Role::Ingest, None);
    let base = "/api/compliance/attestations";
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    // Bad input names the field.
    let r = call(&s, "POST", base, Some(&officer), Some("{}"));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(r#"{"period":"2026-Q9"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(r#"{"period":"2026-Q3"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "not a monthly period: {}",
        r.text()
    );
    assert_eq!(
        call(&s, "POST", base, Some(&auditor), Some("{}")).status,
        403
    );
    let body = format!("{{\"period\":\"{month}\"}}");
    let r = call(&s, "POST", base, Some(&officer), Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&s, "POST", base, Some(&officer), Some(&body)).status,
        409
    );
    // Auditors read it; ingest tokens do not.
    let r = call(&s, "GET", base, Some(&auditor), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["id"], id.as_str());
    assert_eq!(call(&s, "GET", base, Some(&ingest), None).status, 403);
    let r = call(
        &s,
        "GET",
        &format!("{base}?status=nope"),
        Some(&auditor),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["parameter"].as_str()),
        (400, Some("status"))
    );
    let one = call(&s, "GET", &format!("{base}/{id}"), Some(&auditor), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["attestation"]["status"], "open");
    assert!(one.json()["signed_document"].is_null());
    assert_eq!(
        call(&s, "GET", &format!("{base}/0123abcd"), Some(&auditor), None).status,
        404
    );
    // Signing: auditors and ingest by permission, the team lead by the document's role.
    let sign = format!("{base}/{id}/sign");
    assert_eq!(
        call(&s, "POST", &sign, Some(&auditor), Some("{}")).status,
        403
    );
    assert_eq!(
        call(&s, "POST", &sign, Some(&ingest), Some("{}")).status,
        403
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&lead),
        Some(r#"{"opinion":"qualified"}"#),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("compliance-officer"), "{}", r.text());
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"maybe"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("opinion"))
    );
    let r = call(&s, "POST", &sign, Some(&officer), Some(r#"{"notes":"x"}"#));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("notes"))
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"unqualified"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("opinion")),
        "{}",
        r.text()
    );
    assert!(r.text().contains("nothing was attested"), "{}", r.text());
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"qualified","notes":{"1":"x"}}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("note")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"qualified"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json();
    assert_eq!(v["attestation"]["status"], "signed");
    assert_eq!(
        v["attestation"]["signed"]["signer"]["role"],
        "compliance-officer"
    );
    assert_eq!(v["attestation"]["signed"]["via"], Value::Null);
    assert_eq!(v["attestation"]["signed"]["signer"]["via"], "api");
    let sha = v["signed_document"]["sha256"].as_str().unwrap().to_string();
    // Frozen.
    assert_eq!(
        call(
            &s,
            "POST",
            &sign,
            Some(&officer),
            Some(r#"{"opinion":"qualified"}"#)
        )
        .status,
        409
    );
    // The files are beside the packets; the ledger holds the signature with the hash.
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("{month}-attestation"));
    for f in [
        "attestation.json",
        "attestation.json.sig",
        "attestation.md",
        "attestation.pdf",
        "attestation.pdf.sig",
        "public_key.pem",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "attestation.signed"
            && l["metadata"]["document_sha256"] == sha.as_str()));
    let m = call(&s, "GET", "/metrics", None, None).text();
    assert!(
        m.contains(&format!("vouch_attestation_signed{{period=\"{month}\"}} 1")),
        "{m}"
    );
});

/// A server attesting monthly, its window open all month whatever today's date.
fn monthly(kind: Kind) -> Server {
    Server::start_with(kind, |t| {
        *t = t
            .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
            .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1)
    })
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

/// Open this month's attestation as the officer; its id.
fn open_this_month(s: &Server, officer: &str) -> String {
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let r = call(
        s,
        "POST",
        "/api/compliance/attestations",
        Some(officer),
        Some(&format!("{{\"period\":\"{month}\"}}")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Fetch the draft for a detached signature; (bytes, signed_at, sha).
fn draft(s: &Server, officer: &str, id: &str, kind: &str) -> (Vec<u8>, String, String) {
    let r = call(
        s,
        "POST",
        &format!("/api/compliance/attestations/{id}/draft"),
        Some(officer),
        Some(&format!(
            "{{\"opinion\":\"qualified\",\"signature_kind\":\"{kind}\"}}"
        )),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sha = sha256_hex(&r.body);
    assert_eq!(r.header("x-vouch-document-sha256"), Some(sha.as_str()));
    let v = r.json();
    assert_eq!(v["signed"]["personal_signature"], kind);
    assert_eq!(v["signed"]["opinion"], "qualified");
    (
        r.body.clone(),
        v["signed"]["signed_at"].as_str().unwrap().to_string(),
        sha,
    )
}

fn sign_body(kind: &str, sig: &str, key: &str, sha: &str, at: &str) -> String {
    serde_json::json!({
        "opinion": "qualified", "document_sha256": sha, "signed_at": at,
        "signature": {"kind": kind, "signature": sig, "public_key": key},
    })
    .to_string()
}

// Issue 15 item 3: the signer fetches the draft's bytes, signs them with ssh-keygen on
// their side, and posts the signature: verified against exactly the bytes frozen; a
// signature by another key is 400 naming `signature`, a changed draft 409.
vouch_test_support::on_both!(ext_attestation_api_detached_ssh_signature, |kind| {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["ssh-keygen"]),
        "ssh-keygen is missing",
    ) {
        return;
    }
    let s = monthly(kind);
    let officer = token(&s, Role::ComplianceOfficer, None);
    let id = open_this_month(&s, &officer);
    let base = format!("/api/compliance/attestations/{id}");
    let tmp = tempfile::tempdir().unwrap();
    for k in ["alice", "mallory"] {
        run_tool(
            std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", k, "-f"])
                .arg(tmp.path().join(k)),
        );
    }
    let alice_pub = std::fs::read_to_string(tmp.path().join("alice.pub")).unwrap();
    // Bad requests name the field.
    let r = call(
        &s,
        "POST",
        &format!("{base}/draft"),
        Some(&officer),
        Some(r#"{"signature_kind":"x509"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature_kind")),
        "{}",
        r.text()
    );
    let auditor = token(&s, Role::Auditor, None);
    assert_eq!(
        call(
            &s,
            "POST",
            &format!("{base}/draft"),
            Some(&auditor),
            Some(r#"{"signature_kind":"ssh"}"#)
        )
        .status,
        403
    );

    let (bytes, at, sha) = draft(&s, &officer, &id, "ssh");
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
    let sign = format!("{base}/sign");
    // Mallory's signature with Alice's key named: does not verify.
    let bad = sign_with("mallory");
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("ssh", &bad, &alice_pub, &sha, &at)),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature")),
        "{}",
        r.text()
    );
    // A private key is refused unread.
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body(
            "ssh",
            &bad,
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            &sha,
            &at,
        )),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("public_key")),
        "{}",
        r.text()
    );
    let good = sign_with("alice");
    // Over other bytes than the server would freeze: 409 (here: the draft's bytes do
    // not match the SHA-256 given; below: the draft itself changes).
    let other = "0".repeat(64);
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("ssh", &good, &alice_pub, &other, &at)),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // A high finding opened after the draft was fetched changes the document: 409.
    let (bytes2, at2, sha2) = draft(&s, &officer, &id, "ssh");
    std::fs::write(&file, &bytes2).unwrap();
    let good2 = sign_with("alice");
    let r = call(
        &s,
        "POST",
        "/api/compliance/findings",
        Some(&officer),
        Some(r#"{"title":"Backups stopped","severity":"high"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("ssh", &good2, &alice_pub, &sha2, &at2)),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("draft changed"), "{}", r.text());
    // Nothing of these was signed.
    assert_eq!(
        call(&s, "GET", &base, Some(&officer), None).json()["attestation"]["status"],
        "open"
    );
    // A fresh draft, signed by Alice, with her allowed-signers line: frozen exactly.
    let (bytes, at, sha) = draft(&s, &officer, &id, "ssh");
    std::fs::write(&file, &bytes).unwrap();
    let good = sign_with("alice");
    let line = format!("alice namespaces=\"vouch-attestation\" {alice_pub}");
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("ssh", &good, &line, &sha, &at)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["signed_document"]["sha256"], sha.as_str());
    assert_eq!(v["signed_document"]["personal"]["kind"], "ssh");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("{month}-attestation"));
    assert_eq!(std::fs::read(dir.join("attestation.json")).unwrap(), bytes);
    // The principal: the signer's name with all but [A-Za-z0-9._@-] as `_`.
    let principal: String = v["attestation"]["signed"]["signer"]["name"]
        .as_str()
        .unwrap()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ssh-keygen -Y verify -f allowed_signers -I '{principal}' -n vouch-attestation -s attestation.json.ssh.sig < attestation.json"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        call(
            &s,
            "POST",
            &sign,
            Some(&officer),
            Some(&sign_body("ssh", &good, &line, &sha, &at))
        )
        .status,
        409
    );
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "attestation.signed"
            && l["metadata"]["personal_signature"] == "ssh"
            && l["metadata"]["document_sha256"] == sha.as_str()));
});

// Issue 15 (review): the key of a detached signature must be the signer's pinned one
// (`[attestations] signer_keys`): a valid signature by another key — what anyone with
// the API credential could make — is 409 naming the pinned key's fingerprint, and the
// document stays unsigned; the pinned key signs.
vouch_test_support::on_both!(
    ext_attestation_api_detached_signature_key_is_pinned,
    |kind| {
        if !vouch_test_support::ext::require(
            vouch_test_support::ext::have(&["ssh-keygen"]),
            "ssh-keygen is missing",
        ) {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut fpr = std::collections::BTreeMap::new();
        for k in ["alice", "mallory"] {
            run_tool(
                std::process::Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", k, "-f"])
                    .arg(tmp.path().join(k)),
            );
            let out = run_tool(
                std::process::Command::new("ssh-keygen")
                    .arg("-lf")
                    .arg(tmp.path().join(format!("{k}.pub"))),
            );
            let line = String::from_utf8_lossy(&out.stdout).to_string();
            fpr.insert(k, line.split_whitespace().nth(1).unwrap().to_string());
        }
        let key = |k: &str| {
            std::fs::read_to_string(tmp.path().join(format!("{k}.pub")))
                .unwrap()
                .trim()
                .to_string()
        };
        let alice_pub = key("alice");
        let s = Server::start_with(kind, |t| {
            *t = t
                .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
                .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1)
                .replacen(
                    "\nsigner_keys = {}",
                    &format!("\nsigner_keys = {{ \"token:officer-alice\" = \"{alice_pub}\" }}"),
                    1,
                );
            assert!(t.contains("officer-alice"), "the template has signer_keys");
        });
        let officer = vouch_server::auth::create_token(
            &s.store,
            "officer-alice",
            Role::ComplianceOfficer,
            None,
        )
        .unwrap()
        .1;
        let id = open_this_month(&s, &officer);
        let base = format!("/api/compliance/attestations/{id}");
        let (bytes, at, sha) = draft(&s, &officer, &id, "ssh");
        let file = tmp.path().join("draft.json");
        std::fs::write(&file, &bytes).unwrap();
        let sign_with = |k: &str| -> String {
            let _ = std::fs::remove_file(tmp.path().join("draft.json.sig"));
            run_tool(
                std::process::Command::new("ssh-keygen")
                    .args(["-q", "-Y", "sign", "-n", "vouch-attestation", "-f"])
                    .arg(tmp.path().join(k))
                    .arg(&file),
            );
            std::fs::read_to_string(tmp.path().join("draft.json.sig")).unwrap()
        };
        // Mallory's own valid signature with her own key, presented as the officer's.
        let r = call(
            &s,
            "POST",
            &format!("{base}/sign"),
            Some(&officer),
            Some(&sign_body(
                "ssh",
                &sign_with("mallory"),
                &key("mallory"),
                &sha,
                &at,
            )),
        );
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(
            r.text().contains(&fpr["alice"]) && r.text().contains("pinned"),
            "{}",
            r.text()
        );
        assert_eq!(
            call(&s, "GET", &base, Some(&officer), None).json()["attestation"]["status"],
            "open"
        );
        assert!(!s
            .leaves()
            .iter()
            .any(|l| l["action"] == "attestation.signed"));
        // The pinned key signs; the ledger records which key and why it counts.
        let r = call(
            &s,
            "POST",
            &format!("{base}/sign"),
            Some(&officer),
            Some(&sign_body(
                "ssh",
                &sign_with("alice"),
                &alice_pub,
                &sha,
                &at,
            )),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(s
            .leaves()
            .iter()
            .any(|l| l["action"] == "attestation.signed"
                && l["metadata"]["signer_key"]["fingerprint"] == fpr["alice"].as_str()
                && l["metadata"]["signer_key"]["pinned_by"] == "config"));
    }
);

// Issue 15 item 3 with OpenPGP: `gpg --detach-sign` on the signer's side, verified by
// the server with the public key sent (a throwaway keyring); the fingerprint recorded.
vouch_test_support::on_both!(ext_attestation_api_detached_gpg_signature, |kind| {
    if !vouch_test_support::ext::require(vouch_test_support::ext::have(&["gpg"]), "gpg is missing")
    {
        return;
    }
    let s = monthly(kind);
    let officer = token(&s, Role::ComplianceOfficer, None);
    let id = open_this_month(&s, &officer);
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
    let (bytes, at, sha) = draft(&s, &officer, &id, "gpg");
    let file = home.path().join("draft.json");
    std::fs::write(&file, &bytes).unwrap();
    let sign_as = |who: &str| -> String {
        String::from_utf8(
            run_tool(
                gpg()
                    .args([
                        "--yes",
                        "--armor",
                        "--local-user",
                        who,
                        "--output",
                        "-",
                        "--detach-sign",
                    ])
                    .arg(&file),
            )
            .stdout,
        )
        .unwrap()
    };
    let by_alice = sign_as("alice@example");
    let sign = format!("/api/compliance/attestations/{id}/sign");
    // Alice's signature checked with Mallory's key: 400 naming the signature.
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("gpg", &by_alice, &mallory_pub, &sha, &at)),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("signature")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("gpg", &by_alice, "not a key", &sha, &at)),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("public_key")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(&sign_body("gpg", &by_alice, &alice_pub, &sha, &at)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
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
    assert_eq!(v["signed_document"]["personal"]["key_id"], fpr.as_str());
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("{month}-attestation"));
    assert_eq!(std::fs::read(dir.join("attestation.json")).unwrap(), bytes);
    assert_eq!(
        std::fs::read_to_string(dir.join("gpg_fingerprint"))
            .unwrap()
            .trim(),
        fpr
    );
    let out = gpg()
        .args(["--verify", "attestation.json.asc", "attestation.json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
});

// Issue 15 item 5: a window whose opening is ahead is refused (400 naming `period` and
// when it opens) instead of being listed open and then refusing every signature.
vouch_test_support::on_both!(attestation_api_future_window_refused, |kind| {
    let s = Server::start(kind);
    let officer = token(&s, Role::ComplianceOfficer, None);
    let next_year = (chrono::Utc::now() + chrono::Duration::days(400))
        .format("%Y")
        .to_string();
    let r = call(
        &s,
        "POST",
        "/api/compliance/attestations",
        Some(&officer),
        Some(&format!("{{\"period\":\"{next_year}-Q2\"}}")),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains(&format!("window opens at {next_year}-06-26T00:00:00")),
        "{}",
        r.text()
    );
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/compliance/attestations",
            Some(&officer),
            None
        )
        .json(),
        serde_json::json!([])
    );
});

// Issue 15 items 1 and 2 over HTTP: the September collection (a job run) requests the Q3
// review with a PR sample from the collected PR evidence; the team lead decides each
// sampled PR through the API (other roles 403, bad input 400 naming the field), each
// decision a ledger event, and the step passes only when all are approved.
vouch_test_support::on_both!(quarterly_review_pr_decisions_over_the_api, |kind| {
    let prs = tempfile::tempdir().unwrap();
    let file = prs.path().join("prs.json");
    let rows: Vec<Value> = [412, 418, 431]
        .iter()
        .map(|n| serde_json::json!({"number": n, "title": format!("PR {n}"), "html_url": format!("https://github.com/acme/app/pull/{n}"), "user": {"login": "dev"}, "pull_request": {"merged_at": "2026-09-10T10:00:00Z"}}))
        .collect();
    std::fs::write(&file, serde_json::json!(rows).to_string()).unwrap();
    let catalog = format!(
        "\n[[source]]\nname = \"gh\"\nkind = \"command\"\n\n[[evidence]]\nid = \"change.merged-prs\"\ntitle = \"Merged PRs\"\nsource = \"gh\"\nargv = [\"cat\", \"{}\"]\ncriteria = [\"CC8.1\"]\n",
        file.display()
    );
    let s = Server::start_with(kind, |t| t.push_str(&catalog));
    let officer = token(&s, Role::ComplianceOfficer, None);
    let lead = token(&s, Role::TeamLead, None);
    let auditor = token(&s, Role::Auditor, None);
    let r = call(
        &s,
        "POST",
        "/api/compliance/jobs/generate-soc2-evidence/run?period=2026-09",
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let review_id = r.json()["outputs"]["quarterly_review"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text()))
        .to_string();
    let r = call(
        &s,
        "GET",
        "/api/compliance/attestations?kind=quarterly-review",
        Some(&auditor),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], review_id.as_str());
    let step = &v[0]["steps"][3];
    assert_eq!(
        (step["control_id"].as_str(), step["status"].as_str()),
        (Some("pr-sample"), Some("not_tested"))
    );
    assert_eq!(
        step["sample"]["prs"].as_array().unwrap().len(),
        3,
        "fewer PRs than the sample size: all"
    );
    let path = format!("/api/compliance/attestations/{review_id}/pr-decisions");
    assert_eq!(
        call(
            &s,
            "POST",
            &path,
            Some(&auditor),
            Some(r#"{"pr":"412","decision":"approved"}"#)
        )
        .status,
        403
    );
    let r = call(
        &s,
        "POST",
        &path,
        Some(&officer),
        Some(r#"{"pr":"412","decision":"approved"}"#),
    );
    assert_eq!(r.status, 403, "the review's role decides: {}", r.text());
    for (body, field) in [
        (r#"{"decision":"approved"}"#, "pr"),
        (r#"{"pr":"412","decision":"ok"}"#, "decision"),
        (r#"{"pr":"412","decision":"exception"}"#, "note"),
        (r#"{"pr":"999","decision":"approved"}"#, "pr"),
    ] {
        let r = call(&s, "POST", &path, Some(&lead), Some(body));
        assert_eq!(
            (r.status, r.json()["error"]["details"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {}",
            r.text()
        );
    }
    let r = call(
        &s,
        "POST",
        &path,
        Some(&lead),
        Some(r##"{"pr":"#418","decision":"exception","note":"merged without a second review"}"##),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["steps"][3]["status"], "fail");
    for n in ["412", "418", "431"] {
        let r = call(
            &s,
            "POST",
            &path,
            Some(&lead),
            Some(&format!("{{\"pr\":\"{n}\",\"decision\":\"approved\"}}")),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let a = call(
        &s,
        "GET",
        &format!("/api/compliance/attestations/{review_id}"),
        Some(&auditor),
        None,
    )
    .json();
    assert_eq!(a["attestation"]["steps"][3]["status"], "pass");
    let decided: Vec<Value> = s
        .leaves()
        .into_iter()
        .filter(|l| l["action"] == "quarterly_review.pr_decided")
        .collect();
    assert_eq!(decided.len(), 4);
    assert_eq!(decided[0]["metadata"]["decision"], "exception");
});

/// `n` collection sign-offs (months 2026-01…) made before the server starts; their ids.
fn collection_signoffs(data: &Data, n: u32) -> Vec<String> {
    use vouch_engine::signoff::{attest::Signoffs, collection::CollectionFacts};
    let config = data.config();
    let (store, keys, ledger) = vouch_engine::open(&config).unwrap();
    let s = Signoffs {
        config: &config,
        store,
        ledger: &ledger,
        keys: &keys,
    };
    let now = chrono::Utc::now();
    let facts = CollectionFacts {
        completed_at: now,
        exports: Vec::new(),
        chain: Ok(0),
        archive: None,
    };
    (1..=n)
        .map(|m| {
            let p = vouch_core::period::Period::parse(&format!("2026-{m:02}"), now).unwrap();
            s.request_collection_signoff(&p, &facts, now).unwrap().id
        })
        .collect()
}

/// An ed25519 key pair `dir/name` (+ `.pub`); its `SHA256:…` fingerprint.
fn ssh_key(dir: &std::path::Path, name: &str) -> String {
    run_tool(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(dir.join(name)),
    );
    let out = run_tool(
        std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.join(format!("{name}.pub"))),
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// The body signing `id`'s draft with the SSH key `dir/name` (detached, as a signer does
/// on their own machine).
fn detached_ssh(s: &Server, who: &str, id: &str, dir: &std::path::Path, name: &str) -> String {
    let (bytes, at, sha) = draft(s, who, id, "ssh");
    let file = dir.join(format!("{id}.json"));
    std::fs::write(&file, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.join(format!("{id}.json.sig")));
    run_tool(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", "vouch-attestation", "-f"])
            .arg(dir.join(name))
            .arg(&file),
    );
    let sig = std::fs::read_to_string(dir.join(format!("{id}.json.sig"))).unwrap();
    let key = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    sign_body("ssh", &sig, key.trim(), &sha, &at)
}

// Issue 15: trust on first use is atomic. Eight concurrent first signatures by the same
// signer, each with another SSH key (eight collection sign-offs, detached signatures over
// the HTTP API): exactly one is accepted and pins its key; the seven others are 409
// naming that key's fingerprint, and nothing of theirs is signed or recorded. Then an
// admin rotates the pinned key (a ledger event naming both fingerprints): the old key is
// refused, the new one signs.
vouch_test_support::on_both!(
    ext_attestation_first_use_pin_is_atomic_and_rotates,
    |kind| {
        if !vouch_test_support::ext::require(
            vouch_test_support::ext::have(&["ssh-keygen"]),
            "ssh-keygen is missing",
        ) {
            return;
        }
        const N: usize = 8;
        let data = Data::new(kind, |t| {
            *t = t.replace("jwt_algorithm = \"\"", "jwt_algorithm = \"HS256\"")
        });
        let ids = collection_signoffs(&data, N as u32);
        let s = Server::on(data, None);
        let lead = vouch_server::auth::create_token(&s.store, "lead-lee", Role::TeamLead, None)
            .unwrap()
            .1;
        let tmp = tempfile::tempdir().unwrap();
        let fprs: Vec<String> = (0..N)
            .map(|i| ssh_key(tmp.path(), &format!("k{i}")))
            .collect();
        let bodies: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| detached_ssh(&s, &lead, id, tmp.path(), &format!("k{i}")))
            .collect();
        let barrier = std::sync::Barrier::new(N);
        let results: Vec<(u16, String)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..N)
                .map(|i| {
                    let (s, lead, ids, bodies, barrier) = (&s, &lead, &ids, &bodies, &barrier);
                    sc.spawn(move || {
                        barrier.wait();
                        let r = call(
                            s,
                            "POST",
                            &format!("/api/compliance/attestations/{}/sign", ids[i]),
                            Some(lead),
                            Some(&bodies[i]),
                        );
                        (r.status, r.text())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<usize> = (0..N).filter(|&i| results[i].0 == 200).collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one first signature pins a key: {results:?}"
        );
        let w = won[0];
        for (i, (status, text)) in results.iter().enumerate().filter(|(i, _)| *i != w) {
            assert_eq!(*status, 409, "signature {i}: {text}");
            assert!(
                text.contains(&fprs[w]) && text.contains("pinned"),
                "signature {i} names the pinned key {}: {text}",
                fprs[w]
            );
        }
        let signed: Vec<Value> = s
            .leaves()
            .into_iter()
            .filter(|l| l["action"] == "attestation.signed")
            .collect();
        assert_eq!(signed.len(), 1, "{signed:?}");
        assert_eq!(
            signed[0]["metadata"]["signer_key"]["fingerprint"],
            fprs[w].as_str()
        );
        assert_eq!(
            signed[0]["metadata"]["signer_key"]["pinned_by"],
            "registered"
        );
        assert_eq!(
            s.count("SELECT COUNT(*) FROM attestations WHERE document IS NOT NULL"),
            1
        );
        // The winner's key signs the next one too (pinned by first use).
        let next = (0..N).find(|&i| i != w).unwrap();
        let r = call(
            &s,
            "POST",
            &format!("/api/compliance/attestations/{}/sign", ids[next]),
            Some(&lead),
            Some(&detached_ssh(
                &s,
                &lead,
                &ids[next],
                tmp.path(),
                &format!("k{w}"),
            )),
        );
        assert_eq!(r.status, 200, "{}", r.text());

        // An admin rotates the signer's key to another one, with a reason.
        let new = (0..N).find(|&i| i != w && i != next).unwrap();
        {
            let config = s.data.config();
            let (store, keys, ledger) = vouch_engine::open(&config).unwrap();
            let so = vouch_engine::signoff::attest::Signoffs {
                config: &config,
                store,
                ledger: &ledger,
                keys: &keys,
            };
            let pub_new = std::fs::read_to_string(tmp.path().join(format!("k{new}.pub"))).unwrap();
            let e = so
                .rotate_signer_key(
                    "token:lead-lee",
                    &pub_new,
                    " ",
                    "admin-ann",
                    chrono::Utc::now(),
                )
                .unwrap_err();
            assert!(e.to_string().contains("reason"), "{e}");
            let pin = so
                .rotate_signer_key(
                    "token:lead-lee",
                    &pub_new,
                    "laptop lost",
                    "admin-ann",
                    chrono::Utc::now(),
                )
                .unwrap();
            assert_eq!(pin.fingerprint, fprs[new]);
            let pins = so.signer_pins().unwrap();
            assert_eq!(pins.len(), 1, "{pins:?}");
            assert_eq!(
                (pins[0].pinned_by.as_str(), pins[0].fingerprint.as_str()),
                ("rotated", fprs[new].as_str())
            );
        }
        assert!(s
            .leaves()
            .iter()
            .any(|l| l["action"] == "attestation.signer_key_rotated"
                && l["metadata"]["old_fingerprint"] == fprs[w].as_str()
                && l["metadata"]["new_fingerprint"] == fprs[new].as_str()
                && l["metadata"]["reason"] == "laptop lost"
                && l["actor"]["id"] == "admin-ann"));
        // The old key is refused now, naming the new pin; the new key signs.
        let other = (0..N).find(|&i| i != w && i != next && i != new).unwrap();
        let r = call(
            &s,
            "POST",
            &format!("/api/compliance/attestations/{}/sign", ids[other]),
            Some(&lead),
            Some(&detached_ssh(
                &s,
                &lead,
                &ids[other],
                tmp.path(),
                &format!("k{w}"),
            )),
        );
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(r.text().contains(&fprs[new]), "{}", r.text());
        let r = call(
            &s,
            "POST",
            &format!("/api/compliance/attestations/{}/sign", ids[other]),
            Some(&lead),
            Some(&detached_ssh(
                &s,
                &lead,
                &ids[other],
                tmp.path(),
                &format!("k{new}"),
            )),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(s
            .leaves()
            .iter()
            .any(|l| l["action"] == "attestation.signed"
                && l["metadata"]["signer_key"]["fingerprint"] == fprs[new].as_str()
                && l["metadata"]["signer_key"]["pinned_by"] == "rotated"));
    }
);

// Issue 18: signing over the API with `[timestamp] url` set stores the RFC 3161 token
// beside the signed document (`attestation.json.tsr`, verified by `openssl ts -verify`)
// and its SHA-256 in the `attestation.signed` event.
vouch_test_support::on_both!(ext_attestation_api_sign_is_timestamped, |kind| {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::have(&["openssl"]),
        "openssl is missing",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tsa = vouch_test_support::tsa::LocalTsa::start(tmp.path());
    let url = tsa.url.clone();
    let s = Server::start_with(kind, |t| {
        *t = t
            .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
            .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1)
            + &format!("\n[timestamp]\nurl = \"{url}\"\n");
    });
    let officer = token(&s, Role::ComplianceOfficer, None);
    let id = open_this_month(&s, &officer);
    let r = call(
        &s,
        "POST",
        &format!("/api/compliance/attestations/{id}/sign"),
        Some(&officer),
        Some(r#"{"opinion":"qualified"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("{month}-attestation"));
    let (ok, text) =
        vouch_test_support::tsa::openssl_verify(&dir.join("attestation.json"), &tsa.ca);
    assert!(ok, "openssl ts -verify: {text}");
    let tsr = std::fs::read(dir.join("attestation.json.tsr")).unwrap();
    assert_eq!(
        r.json()["signed_document"]["timestamp"]["token_sha256"],
        sha256_hex(&tsr).as_str()
    );
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "attestation.signed"
            && l["metadata"]["timestamp"]["token_sha256"] == sha256_hex(&tsr).as_str()));
});
