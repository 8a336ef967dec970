//! `vouch review`: a campaign from the command line, JSON output, the own-account rule and
//! the pending-entries refusal as one-line errors with a non-zero exit, the signed
//! document written with --out and checked with openssl.

use crate::util::*;
use serde_json::{json, Value};

const CATALOG: &str = r#"
[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "org.members"
title = "GitHub organisation members"
source = "directory"
argv = ["cat", "{{pack_dir}}/members.json"]
population = true
account_key = "login"
"#;

#[test]
fn ext_review_start_decide_complete() {
    if !ext::have(&["openssl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(&run(d, &["init", "--org", "Acme"]));
    let cfg = d.join("vouch.toml");
    let main = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("include = [\"members.toml\"]\n{main}")).unwrap();
    std::fs::write(d.join("members.toml"), CATALOG).unwrap();
    std::fs::write(
        d.join("members.json"),
        json!([{"login": "alice"}, {"login": "bob"}]).to_string(),
    )
    .unwrap();
    ok(&run(
        d,
        &[
            "collect",
            "--evidence",
            "org.members",
            "--period",
            "2026-10",
        ],
    ));

    let v: Value = serde_json::from_str(&ok(&run(
        d,
        &[
            "--json",
            "review",
            "start",
            "--title",
            "Q4 GitHub members",
            "--population",
            "org.members=alice,dave",
            "--by",
            "officer",
        ],
    )))
    .unwrap();
    let id = v["campaign"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["summary"]["undecided"], 2);

    let o = run(
        d,
        &[
            "review",
            "decide",
            &id,
            "--population",
            "org.members",
            "--account",
            "alice",
            "--decision",
            "keep",
            "--by",
            "alice",
        ],
    );
    assert!(!o.status.success());
    assert!(
        err_line(&o).contains("your own account"),
        "{}",
        err_line(&o)
    );
    ok(&run(
        d,
        &[
            "review",
            "decide",
            &id,
            "--population",
            "org.members",
            "--account",
            "alice",
            "--decision",
            "keep",
            "--by",
            "dave",
        ],
    ));
    let o = run(d, &["review", "complete", &id, "--by", "officer"]);
    assert!(!o.status.success());
    assert!(
        err_line(&o).contains("1 of 2 entries have no decision"),
        "{}",
        err_line(&o)
    );
    let o = run(
        d,
        &[
            "review",
            "decide",
            &id,
            "--population",
            "org.members",
            "--account",
            "bob",
            "--decision",
            "revoke",
            "--by",
            "alice",
        ],
    );
    assert!(!o.status.success(), "a revoke needs a note");
    ok(&run(
        d,
        &[
            "review",
            "decide",
            &id,
            "--population",
            "org.members",
            "--account",
            "bob",
            "--decision",
            "revoke",
            "--note",
            "contractor, contract ended",
            "--by",
            "alice",
        ],
    ));
    let out = d.join("signed");
    ok(&run(
        d,
        &[
            "review",
            "complete",
            &id,
            "--by",
            "officer",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let list: Value = serde_json::from_str(&ok(&run(
        d,
        &["--json", "review", "list", "--status", "completed"],
    )))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // openssl, as for packets.
    let keys: Value = serde_json::from_str(&ok(&run(d, &["--json", "keys", "show"]))).unwrap();
    std::fs::write(
        d.join("public.pem"),
        keys["signing_public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    let doc = out.join(format!("access-review-{id}.json"));
    let sig = std::fs::read_to_string(out.join(format!("access-review-{id}.json.sig"))).unwrap();
    std::fs::write(d.join("sig.bin"), vouch_core::unb64(sig.trim()).unwrap()).unwrap();
    let o = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(d.join("public.pem"))
        .arg("-signature")
        .arg(d.join("sig.bin"))
        .arg(&doc)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    // bob is removed; the next collection closes the revoke's finding.
    std::fs::write(
        d.join("members.json"),
        json!([{"login": "alice"}]).to_string(),
    )
    .unwrap();
    let o = ok(&run(
        d,
        &[
            "collect",
            "--evidence",
            "org.members",
            "--period",
            "2026-10",
        ],
    ));
    assert!(
        o.contains("revoked account `bob` is gone from `org.members`"),
        "{o}"
    );
    let open: Value = serde_json::from_str(&ok(&run(
        d,
        &["--json", "findings", "list", "--status", "open"],
    )))
    .unwrap();
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|f| f["source"] != "access_review"),
        "{open}"
    );
}
