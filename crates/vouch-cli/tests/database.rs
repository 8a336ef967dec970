//! The data directory remembers which database holds its ledger: forgetting
//! `VOUCH_DATABASE_URL` in a later shell must not open (and create) a fresh, empty
//! SQLite ledger that verifies as "valid, 0 entries".

use crate::util::{pg_url, text, vouch as bin, PgSchema};
use std::path::Path;
use std::process::{Command, Output};

fn vouch(data: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Output {
    bin()
        .data_dir(data)
        .args(args)
        .envs(env.iter().copied())
        .stdin(input.unwrap_or(""))
        .output()
}

fn events(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"timestamp\":\"2026-10-01T10:00:{:02}Z\",\"action\":\"user.login\",\"category\":\"authentication\",\"result\":\"success\",\"actor\":{{\"id\":\"u{i}\"}}}}\n", i % 60))
        .collect()
}

#[test]
fn ext_a_forgotten_database_url_does_not_open_a_new_sqlite_ledger() {
    let Some(base) = pg_url() else {
        eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
        return;
    };
    // A password in the URL (the test server trusts loopback, so any works): it must
    // be neither recorded nor shown.
    let secret = "Rec0rd-Pw-S3cret";
    let url = base.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{secret}@"),
        1,
    );
    let guard = PgSchema::new(&base, "vouch_db");
    let schema = guard.name.clone();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    let pg = [
        ("VOUCH_DATABASE_URL", url.as_str()),
        ("VOUCH_DATABASE_SCHEMA", schema.as_str()),
    ];
    let o = vouch(
        &d,
        &["init", "--origin", "pg.example/vouch/audit"],
        &pg,
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = vouch(&d, &["ledger", "append"], &pg, Some(&events(5)));
    assert!(o.status.success(), "{}", text(&o));
    let recorded = std::fs::read_to_string(d.join("ledger-database.json")).unwrap();
    assert!(recorded.contains(&schema), "{recorded}");
    assert!(!recorded.contains(secret), "password recorded: {recorded}");

    // A later shell without the variables: refused, both databases named, nothing made.
    for args in [&["ledger", "verify"][..], &["init"][..]] {
        let o = vouch(&d, args, &[], None);
        let all = text(&o);
        assert!(!o.status.success(), "{args:?} must fail: {all}");
        assert!(
            all.contains("refusing to start a new, empty ledger"),
            "{all}"
        );
        assert!(all.contains(&schema) && all.contains("127.0.0.1"), "{all}");
        assert!(all.contains("vouch.db"), "{all}");
        assert!(!all.contains(secret), "password shown: {all}");
        assert!(
            !d.join("vouch.db").exists(),
            "an empty SQLite ledger was created"
        );
    }
    // With the variables back, all is well.
    let o = vouch(&d, &["--json", "ledger", "verify"], &pg, None);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["valid"].clone(), v["checked"].clone()),
        (true.into(), 5.into()),
        "{v}"
    );
    drop(guard);
}

#[test]
fn ext_a_sqlite_ledger_is_not_replaced_by_an_empty_postgres_one() {
    let Some(base) = pg_url() else {
        eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    let o = vouch(
        &d,
        &["init", "--origin", "lite.example/vouch/audit"],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = vouch(&d, &["ledger", "append"], &[], Some(&events(3)));
    assert!(o.status.success(), "{}", text(&o));
    let guard = PgSchema::new(&base, "vouch_db");
    let schema = guard.name.clone();
    let pg = [
        ("VOUCH_DATABASE_URL", base.as_str()),
        ("VOUCH_DATABASE_SCHEMA", schema.as_str()),
    ];
    let o = vouch(&d, &["ledger", "verify"], &pg, None);
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(
        all.contains("holds 3 entries") && all.contains("SQLite"),
        "{all}"
    );
    // Nothing was created in PostgreSQL either.
    let out = Command::new("psql")
        .args([
            &base,
            "-qtAc",
            &format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    // An empty data directory may move to PostgreSQL (the fixtures of other tests do).
    let t2 = tempfile::tempdir().unwrap();
    let d2 = t2.path().join("data");
    let o = vouch(&d2, &["init"], &[], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = vouch(&d2, &["ledger", "verify"], &pg, None);
    assert!(o.status.success(), "{}", text(&o));
    drop(guard);
}
