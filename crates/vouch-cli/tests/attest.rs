//! `vouch attest` and `vouch signoff` end to end on the binary: open a window, refuse an
//! unqualified opinion with nothing attested, sign with the signer's SSH key too, verify
//! the files offline (`vouch verify`, `ssh-keygen -Y verify`), refuse a second signature
//! and a tampered document; every error one readable line.

use crate::util::{err_line, ext, ok, run};
use serde_json::Value;
use std::process::Command;

#[test]
fn ext_attest_open_sign_with_ssh_and_verify() {
    if !ext::have(&["openssl"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("vouch-data");
    ok(&run(
        &data,
        &[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ],
    ));
    // Monthly attestations whose window is open all month (it opens 40 days before the
    // 1st of the next month), so the test does not depend on today's date.
    let toml = data.join("vouch.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
        .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1);
    std::fs::write(&toml, text).unwrap();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let opened: Value = serde_json::from_str(&ok(&run(
        &data,
        &["--json", "attest", "open", "--period", &month],
    )))
    .unwrap();
    let id = opened["id"].as_str().unwrap().to_string();
    assert_eq!(opened["status"], "open");
    assert_eq!(
        opened["exceptions"][0],
        "no controls in scope: nothing was attested"
    );
    let e = err_line(&run(&data, &["attest", "open", "--period", &month]));
    assert!(e.contains("exists already"), "{e}");
    let list: Value =
        serde_json::from_str(&ok(&run(&data, &["--json", "attest", "list"]))).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    // Nothing attested: an unqualified opinion is refused, naming why.
    let e = err_line(&run(&data, &["attest", "sign", &id]));
    assert!(
        e.contains("an unqualified") && e.contains("no controls in scope"),
        "{e}"
    );
    let e = err_line(&run(
        &data,
        &["attest", "sign", &id, "--qualified", "--note", "1=x"],
    ));
    assert!(e.contains("note: `1`"), "{e}");
    let e = err_line(&run(&data, &["signoff", "sign", &id, "--qualified"]));
    assert!(e.contains("use `vouch attest`"), "{e}");
    let e = err_line(&run(&data, &["attest", "show", "0123abcd"]));
    assert!(e.contains("no attestation 0123abcd"), "{e}");
    // Signed with the signer's SSH key as well.
    let key = t.path().join("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
        .arg(&key)
        .status();
    if !ext::require(st.is_ok_and(|s| s.success()), "ssh-keygen is missing") {
        return;
    }
    let signed: Value = serde_json::from_str(&ok(&run(
        &data,
        &[
            "--json",
            "attest",
            "sign",
            &id,
            "--qualified",
            "--signer",
            "alice",
            "--ssh-key",
            key.to_str().unwrap(),
        ],
    )))
    .unwrap();
    assert_eq!(signed["attestation"]["status"], "signed");
    assert_eq!(signed["attestation"]["signed"]["opinion"], "qualified");
    let dir = data
        .join("attestations")
        .join(format!("{month}-attestation"));
    let out = ok(&run(&data, &["verify", dir.to_str().unwrap()]));
    assert!(
        out.contains("vouch signature") && out.contains("signer's SSH signature"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    let o = Command::new("sh")
        .arg("-c")
        .arg("ssh-keygen -Y verify -f allowed_signers -I alice -n vouch-attestation -s attestation.json.ssh.sig < attestation.json")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = ok(&run(&data, &["attest", "show", &id, "--markdown"]));
    assert!(md.contains("opinion **qualified**"), "{md}");
    // Frozen.
    let e = err_line(&run(&data, &["attest", "sign", &id, "--qualified"]));
    assert!(e.contains("signed already"), "{e}");
    // A tampered document fails verification (exit 1).
    let json = std::fs::read_to_string(dir.join("attestation.json")).unwrap();
    std::fs::write(
        dir.join("attestation.json"),
        json.replace("\"qualified\"", "\"unqualified\""),
    )
    .unwrap();
    let o = run(&data, &["verify", dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Collection sign-offs: none requested yet.
    assert!(ok(&run(&data, &["signoff", "list"])).contains("no collection-signoffs yet"));
}

// Issue 15: an admin rotates a signer's pinned key on the vouch host, with a reason;
// `attest keys list` shows it; the same key again, an empty reason or a configured
// signer are refused in one readable line.
#[test]
fn ext_attest_keys_rotate_and_list() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("vouch-data");
    ok(&run(
        &data,
        &[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ],
    ));
    let key = t.path().join("alice_new");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
        .arg(&key)
        .status();
    if !ext::require(st.is_ok_and(|s| s.success()), "ssh-keygen is missing") {
        return;
    }
    let fpr = {
        let o = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(t.path().join("alice_new.pub"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert!(ok(&run(&data, &["attest", "keys", "list"])).contains("no signer key is pinned"));
    let pubkey = t.path().join("alice_new.pub");
    let e = err_line(&run(
        &data,
        &[
            "attest",
            "keys",
            "rotate",
            "alice",
            "--ssh-key",
            pubkey.to_str().unwrap(),
            "--reason",
            " ",
        ],
    ));
    assert!(e.contains("reason"), "{e}");
    // The private key file works too (its .pub beside it is read).
    let out = ok(&run(
        &data,
        &[
            "attest",
            "keys",
            "rotate",
            "alice",
            "--ssh-key",
            key.to_str().unwrap(),
            "--reason",
            "laptop stolen",
            "--actor",
            "admin-ann",
        ],
    ));
    assert!(out.contains(&fpr), "{out}");
    let list: Value =
        serde_json::from_str(&ok(&run(&data, &["--json", "attest", "keys", "list"]))).unwrap();
    assert_eq!(list[0]["signer"], "alice");
    assert_eq!(list[0]["fingerprint"], fpr.as_str());
    assert_eq!(list[0]["pinned_by"], "rotated");
    let e = err_line(&run(
        &data,
        &[
            "attest",
            "keys",
            "rotate",
            "alice",
            "--ssh-key",
            pubkey.to_str().unwrap(),
            "--reason",
            "again",
        ],
    ));
    assert!(e.contains("nothing to rotate"), "{e}");
    let e = err_line(&run(
        &data,
        &[
            "attest",
            "keys",
            "rotate",
            "bob",
            "--gpg-fingerprint",
            "not-hex",
            "--reason",
            "x",
        ],
    ));
    assert!(e.contains("OpenPGP fingerprint"), "{e}");
}
