//! Issue 18's "done when", the part about samples: the company and the auditor play
//! both sides with separate directories, and only files pass between them — the
//! commitment, the population, the revealed nonce, the sample, the requests and
//! answers — and the auditor checks the sample with the Python verifier alone (no
//! vouch). On SQLite and on PostgreSQL.

use crate::util::{err_line, ext, ok, pg_url, vouch, PgSchema};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POPULATION: &str = r#"
[[population]]
id = "role-grants"
control = "CC6.2"
title = "Role grants"
action = "role.granted"
frequency = "weekly"
risk = "high"
"#;

fn events(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"timestamp":"2026-10-{:02}T10:{:02}:00Z","actor":{{"id":"admin{}"}},"action":"{}","category":"authorization","resource":{{"type":"role","id":"r{i}"}},"result":"success"}}"#,
                1 + i % 28,
                i % 60,
                i % 3,
                if i % 4 == 3 { "role.revoked" } else { "role.granted" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn verifier(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/independent/verify_sample.py"),
        )
        .args(args)
        .output()
        .unwrap()
}

fn play(company: &Path, auditor: &Path, env: &[(&str, &str)]) {
    let co = |args: &[&str]| -> Output {
        vouch()
            .data_dir(company)
            .envs(env.iter().copied())
            .args(args)
            .output()
    };
    let co_stdin = |args: &[&str], input: &str| -> Output {
        vouch()
            .data_dir(company)
            .envs(env.iter().copied())
            .args(args)
            .stdin(input)
            .output()
    };
    // The auditor's tool never opens a data directory: point it at one that does not exist.
    let au = |args: &[&str]| -> Output {
        vouch()
            .data_dir(auditor.join("no-vouch-data"))
            .current_dir(auditor)
            .args(args)
            .output()
    };
    ok(&co(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]));
    let toml = company.join("vouch.toml");
    let text = std::fs::read_to_string(&toml).unwrap() + POPULATION;
    std::fs::write(&toml, text).unwrap();
    ok(&co_stdin(&["ledger", "append"], &events(80)));
    let key = ok(&co(&["--json", "keys", "show"]));
    let key: Value = serde_json::from_str(&key).unwrap();
    let key = key["log_verifier_key"].as_str().unwrap().to_string();

    // 1. The auditor commits to a nonce; only the hash goes to the company.
    ok(&au(&[
        "sample",
        "commit",
        "--population",
        "role-grants",
        "--period",
        "2026-10",
        "--nonce-file",
        "nonce.txt",
        "--new",
        "--out",
        "commitment.json",
        "--by",
        "auditor@firm.example",
    ]));
    assert!(!auditor.join("no-vouch-data").exists());
    let nonce = std::fs::read_to_string(auditor.join("nonce.txt")).unwrap();
    let sent = std::fs::read_to_string(auditor.join("commitment.json")).unwrap();
    assert!(
        !sent.contains(nonce.trim()),
        "the nonce must not leave the auditor"
    );
    // Never overwritten.
    let e = err_line(&au(&[
        "sample",
        "commit",
        "--population",
        "role-grants",
        "--period",
        "2026-10",
        "--nonce-file",
        "nonce.txt",
        "--new",
        "--out",
        "c2.json",
    ]));
    assert!(e.contains("never overwritten"), "{e}");
    std::fs::copy(
        auditor.join("commitment.json"),
        company.join("commitment.json"),
    )
    .unwrap();
    let c: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "sample",
        "commit",
        "--commitment-file",
        company.join("commitment.json").to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(c["committed_by"], "auditor@firm.example");
    let commitment_id = c["id"].as_str().unwrap().to_string();

    // Before the population is taken and in a signed checkpoint, `sample draw` refuses
    // without reading the nonce file (here it does not even exist).
    let e = err_line(&co(&[
        "sample",
        "draw",
        "--commitment",
        &commitment_id,
        "--nonce-file",
        company.join("not-yet-revealed.txt").to_str().unwrap(),
    ]));
    assert!(e.contains("take it now"), "{e}");

    // 2. The company takes the population and sends its files.
    let p: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "population",
        "take",
        "role-grants",
        "--period",
        "2026-10",
        "--by",
        "officer",
    ])))
    .unwrap();
    assert_eq!(p["size"], 60);
    let pop_id = p["id"].as_str().unwrap().to_string();
    let pop_dir = company.join("out");
    ok(&co(&[
        "population",
        "export",
        &pop_id[..8],
        "--out",
        pop_dir.to_str().unwrap(),
    ]));
    for f in [
        "population.ndjson",
        "population.csv",
        "population.json",
        "population-event.tlog-proof",
    ] {
        std::fs::copy(pop_dir.join(f), auditor.join(f)).unwrap();
    }
    // A draw with another nonce is refused, one line naming it.
    std::fs::write(company.join("wrong.txt"), "11".repeat(32)).unwrap();
    let e = err_line(&co(&[
        "sample",
        "draw",
        "--commitment",
        &commitment_id,
        "--nonce-file",
        company.join("wrong.txt").to_str().unwrap(),
    ]));
    assert!(e.contains("nonce") && e.contains("does not match"), "{e}");

    // 3. The auditor reveals the nonce; the company draws and sends the sample.
    std::fs::copy(
        auditor.join("nonce.txt"),
        company.join("revealed-nonce.txt"),
    )
    .unwrap();
    let s: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "sample",
        "draw",
        "--commitment",
        &commitment_id,
        "--nonce-file",
        company.join("revealed-nonce.txt").to_str().unwrap(),
        "--by",
        "auditor@firm.example",
    ])))
    .unwrap();
    // weekly, high risk: 15.
    assert_eq!(s["indices"].as_array().unwrap().len(), 15);
    assert_eq!(s["basis"]["method"], "frequency");
    let sample_id = s["id"].as_str().unwrap().to_string();
    ok(&co(&[
        "sample",
        "export",
        &sample_id,
        "--out",
        company.join("sample.json").to_str().unwrap(),
    ]));
    std::fs::copy(company.join("sample.json"), auditor.join("sample.json")).unwrap();

    // 4. The auditor verifies with Python alone.
    let a = |f: &str| auditor.join(f).to_str().unwrap().to_string();
    let out = verifier(&[
        "--key",
        &key,
        "--population",
        &a("population.ndjson"),
        "--nonce-file",
        &a("nonce.txt"),
        &a("sample.json"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.starts_with("OK sample"),
        "{text}"
    );
    let tlog = Command::new("python3")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/independent/verify_tlog.py"),
        )
        .args([
            "inclusion",
            "--key",
            &key,
            &a("population-event.tlog-proof"),
        ])
        .output()
        .unwrap();
    assert!(
        tlog.status.success(),
        "{}",
        String::from_utf8_lossy(&tlog.stdout)
    );
    // Another auditor's nonce file is caught.
    std::fs::write(auditor.join("other.txt"), "22".repeat(32)).unwrap();
    let out = verifier(&[
        "--key",
        &key,
        "--nonce-file",
        &a("other.txt"),
        &a("sample.json"),
    ]);
    assert!(!out.status.success());

    // 5. Requests and answers, as files: the auditor's requests…
    let first = s["indices"][0].as_u64().unwrap().to_string();
    let req: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "pbc",
        "request",
        "--sample",
        &sample_id,
        "--item",
        &first,
        "--text",
        "The approval for this grant",
        "--by",
        "auditor@firm.example",
    ])))
    .unwrap();
    let req_id = req["id"].as_str().unwrap().to_string();
    // …the company's answer, an upload…
    std::fs::write(
        company.join("approval.txt"),
        "CHG-1042 approved by the data owner",
    )
    .unwrap();
    let ans: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "pbc",
        "answer",
        &req_id,
        "--file",
        company.join("approval.txt").to_str().unwrap(),
        "--note",
        "ticket CHG-1042",
        "--by",
        "officer",
    ])))
    .unwrap();
    assert_eq!(ans["status"], "answered");
    let e = err_line(&co(&["pbc", "return", &req_id[..8], "--comment", " "]));
    assert!(e.contains("comment"), "{e}");
    ok(&co(&[
        "pbc",
        "return",
        &req_id[..8],
        "--comment",
        "unsigned",
        "--by",
        "auditor@firm.example",
    ]));
    ok(&co(&[
        "pbc",
        "answer",
        &req_id[..8],
        "--evidence-item",
        ans["answers"][0]["evidence_item"].as_str().unwrap(),
        "--by",
        "officer",
    ]));
    let done: Value = serde_json::from_str(&ok(&co(&[
        "--json",
        "pbc",
        "accept",
        &req_id[..8],
        "--by",
        "auditor@firm.example",
    ])))
    .unwrap();
    assert_eq!(done["status"], "accepted");
    let list = ok(&co(&["pbc", "list", "--sample", &sample_id]));
    assert!(
        list.contains("accepted") && list.contains("returned"),
        "{list}"
    );
    // Every step is in the ledger, and the ledger verifies.
    let exported = ok(&co(&[
        "ledger",
        "export",
        "--period",
        &format!("{}..2100-01-01", chrono::Utc::now().format("%Y-%m-%d")),
    ]));
    for action in [
        "population.taken",
        "sample.nonce_committed",
        "sample.drawn",
        "pbc.requested",
        "pbc.answered",
        "pbc.returned",
        "pbc.accepted",
    ] {
        assert!(
            exported.contains(&format!("\"action\":\"{action}\"")),
            "{action} missing"
        );
    }
    ok(&co(&["ledger", "verify"]));
}

fn have_python() -> bool {
    ext::require(
        ext::runs(&ext::tool_path(), &["python3", "-c", "import cryptography"]),
        "python3 with `cryptography` is needed",
    )
}

#[test]
fn ext_company_and_auditor_sample_with_only_files_between_them() {
    if !have_python() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (company, auditor) = (t.path().join("company"), t.path().join("auditor"));
    std::fs::create_dir_all(&auditor).unwrap();
    play(&company, &auditor, &[]);
}

#[test]
fn ext_company_and_auditor_sample_on_postgres() {
    if !have_python() {
        return;
    }
    let Some(url) = pg_url() else { return };
    let pg = PgSchema::new(&url, "vouch_sample");
    let t = tempfile::tempdir().unwrap();
    let (company, auditor) = (t.path().join("company"), t.path().join("auditor"));
    std::fs::create_dir_all(&auditor).unwrap();
    play(
        &company,
        &auditor,
        &[
            ("VOUCH_DATABASE_URL", url.as_str()),
            ("VOUCH_DATABASE_SCHEMA", pg.name.as_str()),
        ],
    );
}
