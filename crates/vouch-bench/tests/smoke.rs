//! The smallest benchmark end to end: `vouch-bench ledger` at tiny sizes on SQLite.

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
