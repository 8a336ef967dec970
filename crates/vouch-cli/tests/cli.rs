//! The `vouch` binary as a user runs it: init, keys and modes, config errors, append
//! errors, verify output, proofs checked by an independent Python verifier, the demo,
//! and the same commands against PostgreSQL.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{err_line, ok, vouch as bin, PgSchema};

fn vouch(dir: &Path, args: &[&str]) -> Output {
    crate::util::run(dir, args)
}

fn vouch_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    crate::util::run_stdin(dir, args, input)
}

fn init(dir: &Path) {
    ok(&vouch(
        dir,
        &[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ],
    ));
}

fn events(n: usize) -> String {
    (0..n)
        .map(|i| format!(r#"{{"timestamp":"2025-01-{:02}T10:{:02}:00Z","actor":{{"id":"u{}"}},"action":"user.login","category":"authentication","result":"success"}}"#, 1 + i % 28, i % 60, i % 7))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg(unix)]
fn init_creates_private_keys_and_never_overwrites_them() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    let toml = std::fs::read_to_string(d.join("vouch.toml")).unwrap();
    for key in [
        "[organization]",
        "[database]",
        "[ledger]",
        "checkpoint_interval_secs",
        "[keys]",
        "[server]",
    ] {
        assert!(toml.contains(key), "vouch.toml lacks {key}");
    }
    let keys = ["keys/log.key", "keys/signing.pem", "keys/hmac.key"];
    let before: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| std::fs::read(d.join(k)).unwrap())
        .collect();
    for k in keys {
        assert_eq!(mode(&d.join(k)), 0o600, "{k}");
    }
    let out = ok(&vouch(&d, &["init"]));
    assert!(out.contains("kept existing key"), "{out}");
    let after: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| std::fs::read(d.join(k)).unwrap())
        .collect();
    assert_eq!(before, after, "a second init must not change keys");
    assert!(d.join("vouch.db").exists());
}

#[test]
#[cfg(unix)]
fn refuses_keys_readable_by_others_naming_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    for k in ["keys/log.key", "keys/signing.pem", "keys/hmac.key"] {
        let p = d.join(k);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = err_line(&vouch(&d, &["ledger", "verify"]));
        assert!(
            e.contains(&p.display().to_string()) && e.contains("readable by group or others"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    ok(&vouch(&d, &["ledger", "verify"]));
}

// config_errors_name_file_line_and_key: now data, tests/cmd/config/ (cmd.rs).

#[test]
fn bad_events_are_rejected_whole_with_line_and_field() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    let cases = [
        (format!("{}\n{{\"timestamp\":\"2025-01-01T00:00:00Z\",\"action\":\"a\",\"category\":\"nope\",\"result\":\"success\"}}", events(3)), "line 4: field `category`"),
        (format!("{}\n{{\"timestamp\":\"2025-13-01\",\"action\":\"a\",\"category\":\"system\",\"result\":\"success\"}}", events(2)), "line 3: field `timestamp`"),
        (format!("{}\n{{\"timestamp\":\"2025-01-01T00:00:00Z\",\"category\":\"system\",\"result\":\"success\"}}", events(1)), "line 2: field `action`"),
        (format!("{}\n{{\"timestamp\":\"2025-01-01T00:00:00Z\",\"action\":\"a\",\"category\":\"system\",\"result\":\"maybe\"}}", events(1)), "line 2: field `result`"),
        (format!("{}\n{{not json", events(1)), "line 2: field `(event)`: invalid JSON"),
        (format!("{{\"timestamp\":\"2025-01-01T00:00:00Z\",\"action\":\"a\",\"category\":\"system\",\"result\":\"success\",\"metadata\":{{\"x\":\"{}\"}}}}", "y".repeat(70_000)), "64 KiB"),
        ("[{\"timestamp\":\"2025-01-01T00:00:00Z\",\"action\":\"a\",\"category\":\"system\",\"result\":\"success\"}, {\"action\":\"b\"}]".to_string(), "item 1: field `timestamp`"),
    ];
    for (input, want) in cases {
        let e = err_line(&vouch_stdin(&d, &["ledger", "append", "-"], &input));
        assert!(e.contains(want), "want {want:?} in {e}");
        assert!(e.contains("nothing was appended"), "{e}");
    }
    let r: Value = serde_json::from_str(&ok(&vouch(&d, &["--json", "ledger", "verify"]))).unwrap();
    assert_eq!(r["tree_size"], 0, "nothing may have been appended");
}

#[test]
fn ext_verify_output_shape_and_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    let seqs = ok(&vouch_stdin(&d, &["ledger", "append"], &events(50)));
    assert_eq!(seqs.lines().count(), 50);
    let r: Value = serde_json::from_str(&ok(&vouch(&d, &["--json", "ledger", "verify"]))).unwrap();
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["valid", "broken_at", "checked", "tree_size", "root"] {
        assert!(keys.contains(&k), "{k} missing from {r}");
    }
    assert_eq!(
        (
            r["valid"].clone(),
            r["broken_at"].clone(),
            r["checked"].clone()
        ),
        (Value::Bool(true), Value::Null, Value::from(50))
    );
    // The CLI append ended with a checkpoint covering what it appended.
    let cp = ok(&vouch(&d, &["ledger", "checkpoint"]));
    assert_eq!(cp.lines().nth(1), Some("50"));
    assert_eq!(cp.lines().nth(2), r["root"].as_str());
    // Tamper with the database directly: exit code 1 and broken_at.
    let conn = rusqlite_free_update(
        &d.join("vouch.db"),
        "UPDATE ledger_entries SET leaf = replace(leaf, 'user.login', 'user.logon') WHERE seq = 17",
    );
    assert!(conn);
    let o = vouch(&d, &["--json", "ledger", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (r["valid"].clone(), r["broken_at"].clone()),
        (Value::Bool(false), Value::from(17))
    );
}

/// Tamper through the sqlite3 command-line shell when present, else through Python.
fn rusqlite_free_update(db: &Path, sql: &str) -> bool {
    let py = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute({:?}); c.commit()",
        db.display().to_string(),
        sql
    );
    Command::new("python3")
        .args(["-c", &py])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn independent() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/independent/verify_tlog.py")
}

fn python_check(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(independent())
        .args(args)
        .output()
        .expect("python3 is needed for the independent verifier")
}

#[test]
fn ext_proofs_pass_an_independent_verifier() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    ok(&vouch_stdin(&d, &["ledger", "append"], &events(300)));
    ok(&vouch_stdin(
        &d,
        &["ledger", "append"],
        &events(700).replace("2025-01-", "2025-02-"),
    ));
    let keys: Value = serde_json::from_str(&ok(&vouch(&d, &["--json", "keys", "show"]))).unwrap();
    let vkey = keys["log_verifier_key"].as_str().unwrap();
    assert!(vkey.starts_with("acme.example/vouch/audit+"));
    let py = python_check(&["vectors"]);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
    for index in ["0", "299", "300", "511", "999"] {
        let p = t.path().join(format!("p{index}.tlog-proof"));
        ok(&vouch(
            &d,
            &[
                "ledger",
                "prove",
                "--index",
                index,
                "--out",
                p.to_str().unwrap(),
            ],
        ));
        ok(&vouch(
            &d,
            &["ledger", "verify-proof", p.to_str().unwrap(), "--key", vkey],
        ));
        let py = python_check(&["inclusion", "--key", vkey, p.to_str().unwrap()]);
        assert!(
            py.status.success(),
            "index {index}: {}",
            String::from_utf8_lossy(&py.stdout)
        );
        // A changed proof fails both verifiers.
        let text = std::fs::read_to_string(&p).unwrap();
        let bad = t.path().join(format!("bad{index}"));
        std::fs::write(
            &bad,
            text.replacen(
                &format!("index {index}\n"),
                &format!("index {}\n", index.parse::<u64>().unwrap() + 1),
                1,
            ),
        )
        .unwrap();
        assert!(
            !python_check(&["inclusion", "--key", vkey, bad.to_str().unwrap()])
                .status
                .success()
        );
        assert!(!vouch(
            &d,
            &[
                "ledger",
                "verify-proof",
                bad.to_str().unwrap(),
                "--key",
                vkey
            ]
        )
        .status
        .success());
    }
    let c = t.path().join("c.json");
    std::fs::write(
        &c,
        ok(&vouch(
            &d,
            &["ledger", "consistency", "--from", "300", "--to", "1000"],
        )),
    )
    .unwrap();
    let py = python_check(&["consistency", "--key", vkey, c.to_str().unwrap()]);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
    // The export alone lets anyone recompute the root of the signed checkpoint.
    let export = t.path().join("all.ndjson");
    ok(&vouch(
        &d,
        &[
            "ledger",
            "export",
            "--period",
            "2025",
            "--out",
            export.to_str().unwrap(),
        ],
    ));
    let cp = t.path().join("cp.txt");
    std::fs::write(&cp, ok(&vouch(&d, &["ledger", "checkpoint"]))).unwrap();
    let py = python_check(&[
        "root",
        "--key",
        vkey,
        "--checkpoint",
        cp.to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
}

#[test]
fn bad_proof_requests_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    ok(&vouch_stdin(&d, &["ledger", "append"], &events(10)));
    // The bad periods and the uninitialised data directory: tests/cmd/periods/ (cmd.rs).
    assert!(err_line(&vouch(&d, &["ledger", "prove", "--index", "10"]))
        .contains("index 10 is not below tree size 10"));
    assert!(err_line(&vouch(
        &d,
        &["ledger", "consistency", "--from", "5", "--to", "11"]
    ))
    .contains("beyond"));
}

#[test]
fn demo_runs_end_to_end() {
    let t = tempfile::tempdir().unwrap();
    let into = t.path().join("demo");
    let out = ok(&bin()
        .args(["demo", "--into", into.to_str().unwrap(), "--events", "6000"])
        .output());
    assert!(out.contains("valid = true, broken_at = null"), "{out}");
    let proofs: Vec<_> = std::fs::read_dir(into.join("proofs")).unwrap().collect();
    assert_eq!(proofs.len(), 2);
    // Seed 003's quarterly soc2 report, made by a job run.
    assert!(out.contains("quarterly soc2 report for 20"), "{out}");
    // Issue 15: the completed access review, signed like an attestation (its files
    // verify), is CC6.2/CC6.3 evidence in the packet that covers its completion, with
    // its document set's hashes.
    let reviews: Vec<_> = std::fs::read_dir(into.join("attestations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("access-review-")
        })
        .collect();
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let v = ok(&bin()
        .data_dir(&into)
        .args(["verify", reviews[0].to_str().unwrap()])
        .output());
    assert!(v.contains("access-review.pdf: signature"), "{v}");
    let packet: Value = serde_json::from_slice(
        &std::fs::read(into.join("packets/month-to-date/SOC2_Evidence.json")).unwrap(),
    )
    .unwrap();
    let ev = packet["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["evidence_id"] == "access-review")
        .unwrap_or_else(|| panic!("no access review in {packet:#}"));
    let pdf = std::fs::read(reviews[0].join("access-review.pdf")).unwrap();
    assert_eq!(
        ev["produced_by"]["parameters"]["files"]["access-review.pdf"].as_str(),
        Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf)).as_str()),
        "{ev:#}"
    );
    assert!(out.contains("month-to-date packet"), "{out}");
    let list: Value = serde_json::from_str(&ok(&bin()
        .data_dir(&into)
        .args(["reports", "list", "--json"])
        .output()))
    .unwrap();
    assert_eq!(list[0]["report_type"], "soc2");
    assert_eq!(list[0]["status"], "succeeded");
    // The final printout: the dashboard's URL (from `[server] listen`), the officer's
    // login and an auditor token, and both of them work against a real `vouch serve`.
    demo_dashboard_logins_work(&into, &out);
    // Running it again replaces the earlier demo.
    ok(&bin()
        .args(["demo", "--into", into.to_str().unwrap(), "--events", "1200"])
        .output());
    // It refuses a directory that is not a demo.
    let other = t.path().join("mine");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("precious.txt"), "keep").unwrap();
    let o = bin()
        .args(["demo", "--into", other.to_str().unwrap()])
        .output();
    assert!(!o.status.success());
    assert!(other.join("precious.txt").exists());
}

/// The text after `prefix` up to the first of `ends` on the line that has it.
fn after<'a>(out: &'a str, prefix: &str, ends: &[char]) -> &'a str {
    let line = out
        .lines()
        .find(|l| l.contains(prefix))
        .unwrap_or_else(|| panic!("no line with {prefix:?} in:\n{out}"));
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    rest.split(ends).next().unwrap()
}

fn demo_dashboard_logins_work(data: &Path, out: &str) {
    let url = after(out, "then open ", &[' ']);
    let toml = std::fs::read_to_string(data.join("vouch.toml")).unwrap();
    let listen = toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = \""))
        .map_or("127.0.0.1:4000", |l| l.trim_end_matches('"'));
    assert_eq!(
        url,
        format!(
            "http://{}/admin/compliance",
            listen.replace("0.0.0.0", "127.0.0.1")
        )
    );
    let user = after(out, "and log in as `", &['`']);
    assert_eq!(user, "officer", "{out}");
    let password = after(out, "(compliance officer) with the password ", &[' ']);
    assert_eq!(password.len(), 20, "{out}");
    let token = after(out, "read-only as an auditor, paste the token ", &[' ']);
    assert!(token.starts_with("vch_"), "{out}");
    // Serve the demo on a free port (the configured one may be taken) and use both.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = bin()
        .data_dir(data)
        .env("VOUCH_SCHEDULER", "off")
        .into_command()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let up = (0..200).any(|_| {
        let ok = agent
            .get(format!("{base}/healthz"))
            .call()
            .is_ok_and(|r| r.status() == 200);
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ok
    });
    let check = || {
        assert!(up, "vouch serve on the demo did not come up");
        let mut r = agent
            .post(format!("{base}/api/compliance/auth/login"))
            .header("Content-Type", "application/json")
            .send(serde_json::json!({"username": user, "password": password}).to_string())
            .unwrap();
        let body = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status(), 200, "officer login: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["user"]["role"], "compliance-officer", "{body}");
        let mut r = agent
            .get(format!("{base}/api/compliance/auth/whoami"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let body = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status(), 200, "auditor token: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["role"], "auditor", "{body}");
        let r = agent
            .get(format!("{base}/admin/compliance/login"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn ext_postgres_via_the_cli() {
    let Some(url) = crate::util::pg_url() else {
        return;
    };
    let pg = PgSchema::new(&url, "vouch_cli");
    let schema = pg.name.clone();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    let run = |args: &[&str], input: Option<&str>| -> Output {
        bin()
            .data_dir(&d)
            .args(args)
            .env("VOUCH_DATABASE_URL", &url)
            .env("VOUCH_DATABASE_SCHEMA", &schema)
            .stdin(input.unwrap_or(""))
            .output()
    };
    let out = ok(&run(&["init", "--origin", "pg.example/vouch/audit"], None));
    assert!(
        out.contains("postgres://") && out.contains(&schema),
        "{out}"
    );
    ok(&run(&["ledger", "append"], Some(&events(120))));
    let r: Value = serde_json::from_str(&ok(&run(&["--json", "ledger", "verify"], None))).unwrap();
    assert_eq!(
        (r["valid"].clone(), r["checked"].clone()),
        (Value::Bool(true), Value::from(120))
    );
    assert!(
        !d.join("vouch.db").exists(),
        "nothing may go to SQLite when a Postgres URL is set"
    );
    drop(pg);
}

#[test]
fn database_passwords_never_appear_in_errors() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    // Nothing listens on port 1: the connection fails, and the message must not
    // carry the password (URL userinfo or query parameter).
    for url in [
        "postgres://vouch:S3cretPw0rd@127.0.0.1:1/db",
        "postgres://vouch@127.0.0.1:1/db?password=S3cretPw0rd",
    ] {
        let o = bin()
            .data_dir(&d)
            .args(["ledger", "verify"])
            .env("VOUCH_DATABASE_URL", url)
            .output();
        assert!(!o.status.success());
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains("S3cretPw0rd"), "password leaked: {all}");
        assert!(
            all.contains("127.0.0.1:1"),
            "the error should still say where: {all}"
        );
    }
}

/// `vouch reports create|list|show|download`: a report made by a job run, downloaded
/// with its signature (checked with openssl); a bad flag is one line naming it.
#[test]
fn ext_reports_create_show_download() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    let v: Value = serde_json::from_str(&ok(&bin()
        .data_dir(&d)
        .args([
            "reports",
            "create",
            "--type",
            "soc2",
            "--period-start",
            "2025-01-01",
            "--period-end",
            "2025-03-31",
            "--criteria",
            "security,availability,confidentiality",
            "--json",
        ])
        .output()))
    .unwrap();
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(v["period"]["label"], "2025-Q1");
    let id = v["id"].as_str().unwrap();
    let shown = ok(&bin().data_dir(&d).args(["reports", "show", id]).output());
    assert!(shown.contains("status: no_evidence"), "{shown}");
    let out = t.path().join("q1.pdf");
    ok(&bin()
        .data_dir(&d)
        .args([
            "reports",
            "download",
            id,
            "--format",
            "pdf",
            "--out",
            out.to_str().unwrap(),
        ])
        .output());
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
    if vouch_test_support::ext::have(&["openssl", "base64"]) {
        let keys: Value = serde_json::from_str(&ok(&bin()
            .data_dir(&d)
            .args(["keys", "show", "--json"])
            .output()))
        .unwrap();
        let pem = t.path().join("pub.pem");
        std::fs::write(&pem, keys["signing_public_key_pem"].as_str().unwrap()).unwrap();
        let der = Command::new("base64")
            .arg("-d")
            .arg(t.path().join("q1.pdf.sig"))
            .output()
            .unwrap();
        assert!(der.status.success());
        std::fs::write(t.path().join("sig.der"), der.stdout).unwrap();
        let o = Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(t.path().join("sig.der"))
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = bin()
        .data_dir(&d)
        .args(["reports", "create", "--type", "pentest"])
        .output();
    assert!(!o.status.success());
    assert!(err_line(&o).contains("--type"), "{}", err_line(&o));
    let o = bin()
        .data_dir(&d)
        .args([
            "reports",
            "create",
            "--type",
            "soc2",
            "--period-start",
            "2025-03-31",
            "--period-end",
            "2025-01-01",
        ])
        .output();
    assert!(!o.status.success());
    assert!(err_line(&o).contains("--period-end"), "{}", err_line(&o));
    let o = bin()
        .data_dir(&d)
        .args(["reports", "download", id, "--format", "docx"])
        .output();
    assert!(!o.status.success());
}

/// Two active tokens share a name: revoking by that name is refused, naming the count,
/// and revokes nothing (it used to revoke both while printing one name); by id works.
#[test]
fn revoking_a_shared_token_name_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    init(&d);
    for _ in 0..2 {
        ok(&vouch(
            &d,
            &["tokens", "create", "--role", "admin", "--name", "t-admin"],
        ));
    }
    let out = vouch(&d, &["tokens", "revoke", "t-admin"]);
    assert!(!out.status.success());
    assert_eq!(
        err_line(&out),
        "error: 2 active tokens are named `t-admin`: revoke each by its id (see `vouch tokens list`)"
    );
    let list: Value = serde_json::from_str(&ok(&vouch(&d, &["--json", "tokens", "list"]))).unwrap();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .inspect(|t| assert!(t["revoked_at"].is_null(), "nothing revoked: {t}"))
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ok(&vouch(&d, &["tokens", "revoke", &ids[0]])).trim(),
        format!("revoked {}", ids[0])
    );
}
