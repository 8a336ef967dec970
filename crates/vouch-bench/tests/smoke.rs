//! The benchmarks end to end at tiny sizes: `vouch-bench ledger`, `auditlog` and `dashboard`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn positive(v: &Value, path: &str) -> f64 {
    let n = path
        .split('.')
        .fold(v, |v, k| match k.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[k],
        })
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"));
    assert!(n > 0.0, "{path} = {n}, not positive");
    n
}

/// The `vouch` binary the bench would find on its own (next to it), or VOUCH_BIN.
fn vouch_binary(bench: &Path) -> Option<PathBuf> {
    std::env::var_os("VOUCH_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(bench.parent()?.join("vouch")))
        .filter(|p| p.is_file())
}

#[test]
fn ledger_bench_smallest_run_on_sqlite() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_vouch-bench"));
    let dir = tempfile::tempdir().expect("tempdir");
    let scratch = dir.path().join("scratch");
    let out = dir.path().join("ledger.json");
    let base = |cmd: &mut Command| {
        cmd.args([
            "ledger",
            "--events",
            "300",
            "--batch-size",
            "100",
            "--concurrent-events",
            "64",
            "--appenders",
            "4",
            "--postgres",
            "none",
            "--pg-verify-sizes",
        ])
        .arg("--dir")
        .arg(&scratch);
    };

    // Verification needs the `vouch` binary: missing, the run stops at once and says so.
    let mut cmd = Command::new(&bench);
    base(&mut cmd);
    let r = cmd
        .args(["--verify-sizes", "300", "--vouch", "/nonexistent/vouch"])
        .output()
        .expect("run vouch-bench");
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("the vouch binary is not at /nonexistent/vouch") && err.contains("--vouch"),
        "{err}"
    );

    let vouch = vouch_binary(&bench);
    let mut cmd = Command::new(&bench);
    base(&mut cmd);
    match &vouch {
        Some(v) => cmd.args(["--verify-sizes", "300"]).arg("--vouch").arg(v),
        None => {
            eprintln!("no vouch binary next to vouch-bench: verification not exercised");
            cmd.arg("--verify-sizes")
        }
    };
    let r = cmd
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run vouch-bench");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: Value = serde_json::from_slice(&r.stdout).expect("JSON on stdout");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("--out written")).expect("JSON");
    assert_eq!(v, saved);

    assert_eq!(v["benchmark"], "ledger");
    assert!(v["vouch_version"].is_string() && v["date"].is_string());
    positive(&v, "machine.cores");
    assert_eq!(v["parameters"]["batched_events"], 300);
    for bench in ["append_batched", "append_batched_pipelined"] {
        assert_eq!(v[bench]["sqlite"]["events"], 300, "{bench}");
        positive(&v, &format!("{bench}.sqlite.seconds"));
        positive(&v, &format!("{bench}.sqlite.events_per_sec"));
        assert!(v[bench].get("postgres").is_none());
    }
    let c = &v["append_concurrent"]["sqlite"];
    assert_eq!(c["events"], 64);
    assert_eq!(c["appenders"], 4);
    for k in ["seconds", "events_per_sec", "p50_ms", "p99_ms", "max_ms"] {
        positive(&v, &format!("append_concurrent.sqlite.{k}"));
    }
    // Without PostgreSQL there is no baseline, and the output says why.
    assert!(
        v["baseline_pgcrypto_trigger"]["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("PostgreSQL")),
        "{v}"
    );
    assert!(v["goals"].is_object());
    if vouch.is_some() {
        let runs = v["verify"]["sqlite"].as_array().expect("verify runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["events"], 300);
        for k in ["seconds", "events_per_sec", "peak_rss_mb"] {
            positive(&v, &format!("verify.sqlite.0.{k}"));
        }
    } else {
        assert!(v.get("verify").is_none());
    }
    // The scratch directory is removed afterwards.
    assert!(!scratch.exists());
}

/// `vouch-bench auditlog` at a tiny size: the fill, the comparison fills, both paths per
/// case; then the kept ledger (`--sqlite-db`) queried again without a refill.
#[test]
fn auditlog_bench_keeps_and_reuses_its_sqlite_ledger() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_vouch-bench"));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("kept.db");
    let run = |extra: &[&str]| -> Value {
        let out = Command::new(&bench)
            .args(["auditlog", "--events", "3000", "--queries", "3"])
            .args(["--baseline-budget-secs", "1", "--database", "none"])
            .args(["--only", "action+category,actor_id+action"])
            .arg("--sqlite-db")
            .arg(&db)
            .arg("--dir")
            .arg(dir.path().join("scratch"))
            .args(extra)
            .output()
            .expect("run vouch-bench");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let first = run(&["--fill-compare", "2000"]);
    let r = &first["results"][0];
    positive(r, "fill.events_per_sec");
    for v in [
        "shipped",
        "without_actor_cover_index",
        "without_audit_indexes",
    ] {
        positive(r, &format!("fill_compare.{v}.events_per_sec"));
    }
    assert_eq!(r["events"], 3000);
    let cases = r["queries"].as_array().expect("queries");
    // The pairs themselves and their `+month` and three-filter variants.
    assert!(cases.len() >= 2, "{cases:?}");
    for c in cases {
        positive(c, "index.n");
        positive(c, "baseline.n");
    }
    assert!(db.is_file(), "the kept ledger is gone");
    // Again: the same ledger, not refilled.
    let second = run(&[]);
    let r = &second["results"][0];
    assert_eq!(r["fill"]["reused"], true, "{r:#}");
    assert_eq!(r["events"], 3000);
}

/// `vouch-bench dashboard` at tiny sizes: two `vouch demo` ledgers, every page timed as
/// the officer (password + TOTP) and the auditor, all 200 with p50/p95/p99; then the kept
/// data directory timed again without a refill (and a TOTP code not used before).
#[test]
fn dashboard_bench_times_every_page_and_reuses_its_data_dir() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_vouch-bench"));
    let Some(vouch) = vouch_binary(&bench) else {
        eprintln!("no vouch binary next to vouch-bench: the dashboard bench is not exercised");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = dir.path().join("kept");
    let run = |baseline: &str| -> Value {
        let out = Command::new(&bench)
            .args(["dashboard", "--events", "2000", "--requests", "3"])
            .args(["--baseline-events", baseline, "--database", "none"])
            .arg("--vouch")
            .arg(&vouch)
            .arg("--data-dir")
            .arg(&kept)
            .arg("--dir")
            .arg(dir.path().join("scratch"))
            .output()
            .expect("run vouch-bench");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let v = run("1200");
    assert_eq!(v["benchmark"], "dashboard");
    let ledgers = v["ledgers"].as_array().expect("ledgers");
    assert_eq!(ledgers.len(), 2, "{v:#}");
    assert_eq!(ledgers[0]["name"], "baseline");
    assert_eq!(ledgers[1]["name"], "ledger");
    let expected = [
        "overview",
        "effectiveness",
        "timeline",
        "findings",
        "packets",
        "criterion",
        "control",
        "evidence",
        "proof_download",
        "finding",
        "access_review",
    ];
    for l in ledgers {
        positive(l, "events");
        positive(l, "fill.append_events_per_sec");
        assert!(l["load_average_before"].is_array() && l["load_average_after"].is_array());
        let pages = l["pages"].as_array().expect("pages");
        for login in ["officer", "auditor"] {
            for page in expected {
                let p = pages
                    .iter()
                    .find(|p| p["page"] == page && p["login"] == login)
                    .unwrap_or_else(|| panic!("{login} {page} not timed: {l:#}"));
                assert_eq!(p["status"]["200"], 3, "{p}");
                assert_eq!(p["status"].as_object().unwrap().len(), 1, "{p}");
                assert_eq!(p["time_source"], "server", "{p}");
                for k in ["p50_ms", "p95_ms", "p99_ms", "bytes", "client_ms.p95"] {
                    positive(p, k);
                }
            }
        }
        assert_eq!(pages.len(), 2 * expected.len());
    }
    assert_eq!(
        v["growth_p95"].as_array().map(Vec::len),
        Some(2 * expected.len())
    );
    // The scratch directory (the baseline's data) is removed; the kept one is not.
    assert!(!dir.path().join("scratch").exists());
    assert!(kept.join("vouch.toml").is_file());

    // Again on the kept data directory: no refill, the officer logs in with a new code.
    let again = run("0");
    let ledgers = again["ledgers"].as_array().expect("ledgers");
    assert_eq!(ledgers.len(), 1);
    assert_eq!(ledgers[0]["fill"]["reused"], true, "{again:#}");
    assert_eq!(
        ledgers[0]["pages"].as_array().unwrap().len(),
        2 * expected.len()
    );

    // A data directory the bench did not fill is never replaced.
    std::fs::remove_file(kept.join("bench-dashboard.json")).expect("state file");
    let out = Command::new(&bench)
        .args(["dashboard", "--events", "2000", "--baseline-events", "0"])
        .arg("--vouch")
        .arg(&vouch)
        .arg("--data-dir")
        .arg(&kept)
        .arg("--dir")
        .arg(dir.path().join("scratch"))
        .output()
        .expect("run vouch-bench");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not filled by this benchmark"), "{err}");
    assert!(kept.join("vouch.toml").is_file());
}

/// The same on PostgreSQL (VOUCH_TEST_DATABASE_URL): the demo's ledger in a schema of its
/// own, every page 200, and the scratch schema dropped afterwards.
#[test]
fn dashboard_bench_on_postgres() {
    let Some(url) = std::env::var("VOUCH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("VOUCH_TEST_DATABASE_URL is not set: the PostgreSQL dashboard bench is skipped");
        return;
    };
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_vouch-bench"));
    let Some(vouch) = vouch_binary(&bench) else {
        eprintln!("no vouch binary next to vouch-bench: the dashboard bench is not exercised");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(&bench)
        .args(["dashboard", "--events", "1200", "--requests", "2"])
        .args(["--baseline-events", "0", "--database", &url])
        .arg("--vouch")
        .arg(&vouch)
        .arg("--dir")
        .arg(dir.path().join("scratch"))
        .output()
        .expect("run vouch-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["parameters"]["database"], "postgresql");
    let l = &v["ledgers"][0];
    let db = l["database"].as_str().expect("database");
    let schema = db
        .strip_prefix("postgresql (schema ")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{db}"));
    let pages = l["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 22, "{l:#}");
    for p in pages {
        assert_eq!(p["status"]["200"], 2, "{p}");
        positive(p, "p95_ms");
    }
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let left = c
        .query(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1",
            &[&schema.to_string()],
        )
        .expect("query");
    assert!(left.is_empty(), "schema {schema} was not dropped");
}
