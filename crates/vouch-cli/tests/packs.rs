//! The evidence packs in `packs/`, end to end through the `vouch` binary: `init`, an
//! `include` of the pack, `config check`, `collect`, `evidence cat` / `list`, against real
//! sources where a test can have them (PostgreSQL, a moto server with the aws CLI, a git
//! repository, a loopback HTTP server standing in for GitHub) and the velero stand-in in
//! tests/fixtures/packs. Every test checks the rows the pack's README promises, and the
//! ones that handle a credential plant one and search every output and every file under
//! the data directory for it. Then `vouch check` runs the pack's checks on what was
//! collected: each planted problem fails its check with the planted rows as failing items,
//! the rest pass, controls follow, findings open once and are updated (not duplicated)
//! by the next run, and resolved by a passing one.
//!
//! A missing tool (PostgreSQL URL, moto, aws CLI) skips the test, except with CI=true,
//! where it fails: CI must run them all.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

// --- helpers ------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn pack(name: &str) -> PathBuf {
    root().join("packs").join(name).join("pack.toml")
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/packs")
}

use crate::util::ext::{require, runs, tool_path, Moto};
use crate::util::{ok, pg_url, text, vouch as bin, PgSchema as DropSchema};

fn unique(prefix: &str) -> String {
    vouch_test_support::unique_name(prefix)
}

fn sha256_of(bytes: &[u8]) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    c.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = ok(&c.wait_with_output().unwrap());
    out.split_whitespace().next().unwrap().to_string()
}

/// A data directory initialised with `vouch init`, including packs.
struct Vouch {
    t: tempfile::TempDir,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Vouch {
    /// `vouch init`, then `include = [...]` as the first line of vouch.toml, then
    /// `vouch config check`, which must count the packs' sources and evidence.
    fn new(packs: &[PathBuf], sources: usize, evidence: usize) -> Vouch {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        let v = Vouch {
            t,
            dir,
            env: Vec::new(),
        };
        ok(&v.run(&[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ]));
        let cfg = v.dir.join("vouch.toml");
        let old = std::fs::read_to_string(&cfg).unwrap();
        let list: Vec<String> = packs
            .iter()
            .map(|p| {
                let s = p.display().to_string();
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            })
            .collect();
        std::fs::write(&cfg, format!("include = [{}]\n{old}", list.join(", "))).unwrap();
        let check: Value =
            serde_json::from_str(&ok(&v.run(&["--json", "config", "check"]))).unwrap();
        assert_eq!(check["valid"], true, "{check}");
        assert_eq!(check["sources"], sources, "{check}");
        assert_eq!(check["evidence"], evidence, "{check}");
        v
    }

    fn tmp(&self) -> &Path {
        self.t.path()
    }

    /// Append to vouch.toml (pack settings, sources), then `config check` must pass.
    fn append_config(&self, extra: &str) {
        let cfg = self.dir.join("vouch.toml");
        let old = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, format!("{old}\n{extra}\n")).unwrap();
        ok(&self.run(&["config", "check"]));
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.to_string(), v.to_string()));
    }

    fn run(&self, args: &[&str]) -> Output {
        // The environment is the shared allowlist (never the developer's credentials:
        // VOUCH_RBAC_DATABASE_URL, GITHUB_TOKEN, AWS_*, KUBECONFIG...) plus what the
        // test set.
        bin()
            .data_dir(&self.dir)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
    }

    /// `vouch --json collect --period P [--evidence ID]...`: the report and the output.
    /// The exit code must be 1 exactly when the report counts failed runs.
    fn collect(&self, period: &str, ids: &[&str]) -> (Value, Output) {
        let mut args = vec!["--json", "collect", "--period", period];
        for id in ids {
            args.extend(["--evidence", id]);
        }
        let o = self.run(&args);
        let report: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("collect printed no JSON ({e}): {}", text(&o)));
        let failed = report["failed"].as_u64().unwrap();
        assert_eq!(
            o.status.code(),
            Some(if failed > 0 { 1 } else { 0 }),
            "exit code vs failed runs: {}",
            text(&o)
        );
        assert_eq!(report["period"], period, "{report}");
        (report, o)
    }

    /// `vouch evidence cat ID`, checked against the record's sha256 and size.
    fn content(&self, rec: &Value) -> Vec<u8> {
        let o = self.run(&["evidence", "cat", rec["id"].as_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            sha256_of(&o.stdout),
            rec["sha256"],
            "content vs record hash"
        );
        assert_eq!(o.stdout.len() as u64, rec["size"].as_u64().unwrap());
        o.stdout
    }

    /// The content's rows: NDJSON lines, or the array at the record's `rows` path of a
    /// JSON document. Their number must be the record's `count`.
    fn rows(&self, rec: &Value) -> Vec<Value> {
        let bytes = self.content(rec);
        let rows: Vec<Value> = match rec["media_type"].as_str().unwrap() {
            "application/x-ndjson" => String::from_utf8(bytes)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            "application/json" => {
                let doc: Value = serde_json::from_slice(&bytes).unwrap();
                let path = rec["operation"]["rows"].as_str().unwrap_or("");
                let mut v = &doc;
                for part in path.split('.').filter(|p| !p.is_empty()) {
                    v = &v[part];
                }
                v.as_array().expect("rows path is an array").clone()
            }
            other => panic!("unexpected media type {other}"),
        };
        assert_eq!(rows.len() as u64, rec["count"].as_u64().unwrap(), "{rec}");
        rows
    }

    /// `vouch --json evidence list [--evidence ID]`.
    fn list(&self, id: Option<&str>) -> (Vec<Value>, Output) {
        let mut args = vec!["--json", "evidence", "list", "--limit", "1000"];
        if let Some(id) = id {
            args.extend(["--evidence", id]);
        }
        let o = self.run(&args);
        let v: Value = serde_json::from_str(&ok(&o)).unwrap();
        (v.as_array().unwrap().clone(), o)
    }

    /// `secret` is nowhere: not in these outputs, the records `evidence list` prints,
    /// nor any byte of any file under the data directory (database, ledger, blobs).
    fn assert_secret_absent(&self, secret: &str, outputs: &[&Output]) {
        assert!(secret.len() >= 8, "plant a distinctive secret");
        let (_, listed) = self.list(None);
        for o in outputs.iter().copied().chain([&listed]) {
            for stream in [&o.stdout, &o.stderr] {
                assert!(
                    !contains(stream, secret.as_bytes()),
                    "secret in vouch output: {}",
                    text(o)
                );
            }
        }
        let mut stack = vec![self.dir.clone()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files += 1;
                    let bytes = std::fs::read(&p).unwrap();
                    assert!(
                        !contains(&bytes, secret.as_bytes()),
                        "secret found in {}",
                        p.display()
                    );
                }
            }
        }
        assert!(files > 3, "the data directory was searched ({files} files)");
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The one item of the report for this evidence id.
fn item<'a>(report: &'a Value, evidence_id: &str) -> &'a Value {
    let found: Vec<&Value> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["evidence_id"] == evidence_id)
        .collect();
    assert_eq!(found.len(), 1, "items for {evidence_id} in {report}");
    found[0]
}

/// A successful item: status, source, period, hash and count as expected.
fn assert_ok(rec: &Value, source: &str, kind: &str, count: u64) {
    assert_eq!(rec["status"], "ok", "{rec}");
    assert_eq!(rec["error"], Value::Null, "{rec}");
    assert_eq!(rec["source"]["name"], source, "{rec}");
    assert_eq!(rec["source"]["kind"], kind, "{rec}");
    assert_eq!(rec["count"], count, "{}: {rec}", rec["evidence_id"]);
    let sha = rec["sha256"].as_str().unwrap();
    assert!(
        sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{rec}"
    );
    assert_eq!(rec["collector"]["name"], format!("vouch/{kind}"), "{rec}");
    for k in ["id", "started_at", "finished_at", "effective_at"] {
        assert!(rec[k].is_string(), "{k}: {rec}");
    }
}

fn strs(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap_or("<none>").to_string())
        .collect()
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("no time: {v}")))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

// --- checks, controls and findings ----------------------------------------------------

impl Vouch {
    /// `vouch --json check --period P --no-fail`: the report (exit 0 whatever failed).
    fn check(&self, period: &str) -> Value {
        let o = self.run(&["--json", "check", "--period", period, "--no-fail"]);
        let report: Value = serde_json::from_str(&ok(&o))
            .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {}", text(&o)));
        assert_eq!(report["period"], period, "{report}");
        report
    }

    /// `vouch --json check --period P` without --no-fail: the report, asserting the exit
    /// code is the literal `expected` one of the scenario (0 all pass, 1 a control fails,
    /// 2 the run was incomplete) and that the report's flags say the same.
    fn check_exit(&self, period: &str, expected: i32) -> Value {
        let o = self.run(&["--json", "check", "--period", period]);
        let report: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {}", text(&o)));
        assert_eq!(o.status.code(), Some(expected), "exit code: {}", text(&o));
        assert_eq!(
            (
                report["incomplete"] == true,
                report["failed"] == true || expected == 2
            ),
            (expected == 2, expected != 0),
            "the report's flags vs the exit code {expected}: {report}"
        );
        report
    }

    /// `vouch --json findings list [--status S]`.
    fn findings(&self, status: Option<&str>) -> Vec<Value> {
        let mut args = vec!["--json", "findings", "list"];
        if let Some(s) = status {
            args.extend(["--status", s]);
        }
        let v: Value = serde_json::from_str(&ok(&self.run(&args))).unwrap();
        v.as_array().unwrap().clone()
    }
}

/// The result record of check `id` in a `vouch check` report.
fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    let found: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["check_id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "results for {id} in {report}");
    found[0]
}

fn control<'a>(report: &'a Value, id: &str) -> &'a Value {
    let found: Vec<&Value> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "control {id} in {report}");
    found[0]
}

/// `v` with every RFC 3339 time written in UTC (`2026-05-11T22:07:00Z`): a server's
/// TimeZone setting changes how PostgreSQL writes a time, not which time it is.
fn utc_times(v: Value) -> Value {
    match v {
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(&s) {
            Ok(t) => Value::String(
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Err(_) => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(utc_times).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, utc_times(v))).collect()),
        other => other,
    }
}

/// What a `vouch check` report concludes, without what differs from run to run (ids,
/// hashes of evidence, ledger positions, run times): each check's status, message and
/// failing items, each control's status and the checks it rests on.
fn check_view(report: &Value) -> Value {
    let checks: Vec<Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!({
                "check_id": r["check_id"],
                "kind": r["kind"],
                "status": r["status"],
                "message": r["message"],
                "failing_count": r["failing_count"],
                "failing": utc_times(r["failing"].clone()),
                "controls": r["controls"],
            })
        })
        .collect();
    let controls: Vec<Value> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!({
                "id": c["id"],
                "title": c["title"],
                "status": c["status"],
                "checks": c["checks"].as_array().unwrap().iter().map(|e| json!({"id": e["id"], "status": e["status"]})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"period": report["period"], "failed": report["failed"], "checks": checks, "controls": controls})
}

/// The value at dotted `key` of each failing item of check `id`.
fn failing(report: &Value, id: &str, key: &str) -> Vec<Value> {
    result(report, id)["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut v = f;
            for part in key.split('.') {
                v = &v[part];
            }
            v.clone()
        })
        .collect()
}

/// Every check of the report has the expected status (and there is no other check), and
/// every control has its status, its check entries mirroring the results. Every result is
/// bound to the period, its definition and (unless nothing was collected) evidence.
fn assert_statuses(report: &Value, checks: &[(&str, &str)], controls: &[(&str, &str)]) {
    let got: Vec<(String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["check_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = checks
        .iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want, "check statuses");
    for r in report["checks"].as_array().unwrap() {
        let sha = r["definition_sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{r}"
        );
        assert_eq!(r["period"]["label"], report["period"], "{r}");
        assert_eq!(
            r["reference_time"], r["period"]["end"],
            "the period is over: {r}"
        );
        assert!(r["ledger_seq"].as_u64().is_some(), "{r}");
        let n = r["failing"].as_array().unwrap().len() as u64;
        assert_eq!(r["failing_count"].as_u64().unwrap(), n, "{r}");
        match r["status"].as_str().unwrap() {
            "fail" => assert!(n > 0 || r["kind"] == "non_empty", "{r}"),
            "pass" => assert_eq!(n, 0, "{r}"),
            _ => {}
        }
        if r["status"] == "no_evidence" {
            // Nothing collected, or a collection with nothing in it to judge.
            let m = r["message"].as_str().unwrap();
            assert!(
                r["evidence"] == json!([]) || m.starts_with("0 rows judged"),
                "{r}"
            );
        } else if r["status"] != "not_applicable" {
            assert!(!r["evidence"].as_array().unwrap().is_empty(), "{r}");
        }
    }
    let got: Vec<(String, String)> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = controls
        .iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want, "control statuses");
    for c in report["controls"].as_array().unwrap() {
        for entry in c["checks"].as_array().unwrap() {
            let r = result(report, entry["id"].as_str().unwrap());
            assert_eq!(entry["status"], r["status"], "{c}");
            assert_eq!(entry["result_id"], r["id"], "{c}");
            assert!(
                r["controls"].as_array().unwrap().contains(&c["id"].clone()),
                "{r}"
            );
        }
    }
    let failed = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "fail");
    assert_eq!(report["failed"], failed, "{report}");
}

/// After a first `vouch check`: one open finding per failing check (`expected`: check id
/// and severity), opened by this run, with the result's failing items.
fn assert_findings_opened(v: &Vouch, report: &Value, expected: &[(&str, &str)]) {
    let open = v.findings(Some("open"));
    let mut ids: Vec<&str> = open
        .iter()
        .map(|f| f["check_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
    want.sort();
    assert_eq!(ids, want, "open findings: {open:?}");
    let changes = report["findings"].as_array().unwrap();
    assert_eq!(changes.len(), expected.len(), "{changes:?}");
    for (id, severity) in expected {
        let f = open.iter().find(|f| f["check_id"] == *id).unwrap();
        let r = result(report, id);
        assert_eq!(r["status"], "fail", "{r}");
        assert_eq!(f["severity"], *severity, "{f}");
        assert_eq!(r["severity"], *severity, "{r}");
        assert_eq!(f["source"], "check", "{f}");
        assert_eq!(f["occurrences"], 1, "{f}");
        assert_eq!(f["title"], r["title"], "{f}");
        assert_eq!(f["controls"], r["controls"], "{f}");
        assert!(!f["controls"].as_array().unwrap().is_empty(), "{f}");
        assert_eq!(f["failing"], r["failing"], "{f}");
        assert_eq!(f["latest_result"]["result_id"], r["id"], "{f}");
        let change = changes
            .iter()
            .find(|c| c["finding"]["check_id"] == *id)
            .unwrap();
        assert_eq!(change["action"], "opened", "{change}");
        assert_eq!(change["finding"]["id"], f["id"], "{change}");
    }
}

/// `vouch check` again on the same evidence: the same statuses, and each open finding
/// updated (occurrences 2, first seen unchanged, the new result), none duplicated.
fn assert_second_check_updates(v: &Vouch, period: &str, first: &Value) {
    let before = v.findings(None);
    let again = v.check(period);
    for r in first["checks"].as_array().unwrap() {
        let r2 = result(&again, r["check_id"].as_str().unwrap());
        assert_eq!(r2["status"], r["status"], "{r2}");
        assert_eq!(r2["failing"], r["failing"], "{r2}");
        assert_eq!(r2["definition_sha256"], r["definition_sha256"], "{r2}");
        assert_ne!(r2["id"], r["id"], "a new result is stored");
    }
    let after = v.findings(None);
    assert_eq!(
        after.len(),
        before.len(),
        "no finding duplicated: {after:?}"
    );
    let changes = again["findings"].as_array().unwrap();
    let open: Vec<&Value> = before.iter().filter(|f| f["status"] == "open").collect();
    assert_eq!(changes.len(), open.len(), "{changes:?}");
    for f in open {
        let f2 = after.iter().find(|x| x["id"] == f["id"]).unwrap();
        assert_eq!(f2["status"], "open", "{f2}");
        assert_eq!(f2["occurrences"], 2, "{f2}");
        assert_eq!(f2["first_seen"], f["first_seen"], "{f2}");
        assert_ne!(f2["last_seen"], f["last_seen"], "{f2}");
        let r2 = result(&again, f["check_id"].as_str().unwrap());
        assert_eq!(f2["latest_result"]["result_id"], r2["id"], "{f2}");
        let change = changes
            .iter()
            .find(|c| c["finding"]["id"] == f["id"])
            .unwrap();
        assert_eq!(change["action"], "updated", "{change}");
    }
}

// --- postgres-rbac --------------------------------------------------------------------

fn psql(url: &str, schema: Option<&str>, args: &[&str]) {
    let mut c = Command::new("psql");
    c.arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(args);
    if let Some(s) = schema {
        c.env("PGOPTIONS", format!("-c search_path={s}"));
    }
    let o = c.output().expect("psql");
    assert!(o.status.success(), "psql {args:?}: {}", text(&o));
}

/// The URL with `:password` added to its userinfo, when it has a user and no password
/// (with trust authentication the server never asks for it).
fn with_password(url: &str, pw: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let at = rest[..auth_end].rfind('@')?;
    if rest[..at].contains(':') {
        return None;
    }
    Some(format!("{scheme}://{}:{pw}{}", &rest[..at], &rest[at..]))
}

fn db_name(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let path = rest.split_once('/').map(|x| x.1).unwrap_or("");
    path.split('?').next().unwrap().to_string()
}

#[test]
fn ext_postgres_rbac_pack_shows_the_planted_findings() {
    let Some(url) = pg_url() else {
        eprintln!("skipped: VOUCH_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = unique("vouch_rbac");
    psql(&url, None, &["-c", &format!("CREATE SCHEMA {schema}")]);
    let _drop = DropSchema {
        url: url.clone(),
        name: schema.clone(),
    };
    let dir = root().join("packs/postgres-rbac");
    for f in ["schema.sql", "sample-data.sql"] {
        psql(&url, Some(&schema), &["-f", dir.join(f).to_str().unwrap()]);
    }

    // The pack reads the DSN from VOUCH_RBAC_DATABASE_URL; the sample's schema is chosen
    // with libpq's `options` parameter, which the collector's client honours too.
    let planted = "Rbac-Planted-Pw-7c1e";
    let base = with_password(&url, planted);
    let dsn = format!(
        "{}{}options=-c%20search_path%3D{schema}",
        base.as_deref().unwrap_or(&url),
        if url.contains('?') { "&" } else { "?" }
    );
    // 8 evidence definitions for the seed's steps and 3 guards; the sample's settings
    // (leavers column, authorized auditors, change windows) from sample-vouch.toml.
    let mut v = Vouch::new(&[pack("postgres-rbac")], 1, 11);
    v.append_config(&std::fs::read_to_string(dir.join("sample-vouch.toml")).unwrap());
    v.set("VOUCH_RBAC_DATABASE_URL", &dsn);

    let (r, out) = v.collect("2026-Q2", &[]);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    assert_eq!(r["items"].as_array().unwrap().len(), 11);
    for rec in r["items"].as_array().unwrap() {
        assert_eq!(rec["media_type"], "application/x-ndjson", "{rec}");
        assert_eq!(rec["details"]["read_only"], true, "{rec}");
        assert_eq!(rec["source"]["fingerprint"]["database"], db_name(&url));
        assert_eq!(
            rec["period"],
            json!({"label": "2026-Q2", "start": "2026-04-01T00:00:00.000000Z", "end": "2026-07-01T00:00:00.000000Z"}),
            "{rec}"
        );
    }

    // Every row of every item, as one reviewed snapshot
    // (tests/snapshots/tests__packs__postgres_rbac_rows.snap): the planted problems of the
    // README's steps and everything else the queries returned, in their order.
    // Step 1/2: the external auditor, and Grace Lin, deactivated but still a member.
    // Step 1: Dan's direct grant of the compliance role. Step 3: April, May and June
    // monthly runs, all pass (numbers stay numbers). Step 4: five runs in the window, the
    // 2026-06-03 cold-storage run failed, the July run is after the period. Step 5: the
    // oldest hot row, and the latest completed cold archive (the retry). Step 6: one row
    // per day of the quarter, 05-12 and 05-13 empty. Step 7: four privileged grants;
    // Dan's has no window, Carla's names an unknown one, Farid's (07-02) is after it.
    let mut collected = serde_json::Map::new();
    for rec in r["items"].as_array().unwrap() {
        let rows = v.rows(rec);
        collected.insert(
            rec["evidence_id"].as_str().unwrap().to_string(),
            utc_times(Value::Array(rows)),
        );
    }
    // The test's own schema name (unique per run) is the one thing that varies.
    let collected: Value = serde_json::from_str(
        &Value::Object(collected)
            .to_string()
            .replace(&schema, "[schema]"),
    )
    .unwrap();
    insta::assert_json_snapshot!("postgres_rbac_rows", collected);

    // What the snapshot cannot say: the records themselves.
    let rec = item(&r, "rbac.compliance-group-members");
    assert_ok(rec, "rbac-db", "postgres", 2);
    assert_eq!(rec["operation"]["params"]["group"], "compliance-auditors");
    let rec = item(&r, "rbac.compliance-direct-grants");
    assert_ok(rec, "rbac-db", "postgres", 1);
    // Column order is the query's.
    let first = String::from_utf8(v.content(rec)).unwrap();
    assert!(
        first.starts_with(r#"{"role":"audit-compliance","email":"dan.kowalski@example.com","deactivated_at":null,"granted_at":"#),
        "{first}"
    );
    let rec = item(&r, "rbac.integrity-monthly-runs");
    assert_ok(rec, "rbac-db", "postgres", 3);
    let q = rec["operation"]["query"].as_str().unwrap();
    assert!(
        q.contains("LEAST('2026-04-01T00:00:00Z'::timestamptz, '2026-07-01T00:00:00Z'::timestamptz - INTERVAL '90 days')"),
        "the recorded query is the one that ran, placeholders filled in: {q}"
    );
    // effective_at is the last run's.
    assert_eq!(
        time(&rec["effective_at"]),
        time(&json!("2026-06-01T02:40:19Z"))
    );
    let rec = item(&r, "rbac.archival-runs");
    assert_ok(rec, "rbac-db", "postgres", 5);
    assert_eq!(
        time(&rec["effective_at"]),
        time(&json!("2026-06-04T09:35:48Z"))
    );
    assert_ok(item(&r, "rbac.oldest-hot-row"), "rbac-db", "postgres", 1);
    assert_ok(
        item(&r, "rbac.latest-cold-archive"),
        "rbac-db",
        "postgres",
        1,
    );
    assert_ok(
        item(&r, "rbac.audit-events-daily"),
        "rbac-db",
        "postgres",
        91,
    );
    assert_ok(
        item(&r, "rbac.privileged-grant-changes"),
        "rbac-db",
        "postgres",
        4,
    );

    // Collecting the same period again gives the same bytes (the window is the
    // period's, not now()'s), and both runs are listed.
    let (again, out2) = v.collect(
        "2026-Q2",
        &["rbac.archival-runs", "rbac.audit-events-daily"],
    );
    assert_eq!(again["failed"], 0);
    for id in ["rbac.archival-runs", "rbac.audit-events-daily"] {
        assert_eq!(item(&again, id)["sha256"], item(&r, id)["sha256"], "{id}");
        let (listed, _) = v.list(Some(id));
        assert_eq!(listed.len(), 2, "{id}: {listed:?}");
    }
    let (all, _) = v.list(None);
    assert_eq!(all.len(), 13);

    // The pack's checks: each planted finding fails its check, with the planted rows as
    // the failing items; everything else passes.
    let report = v.check("2026-Q2");
    assert_statuses(
        &report,
        &[
            ("rbac.no-direct-compliance-grants", "fail"),
            ("rbac.compliance-group-authorized", "fail"),
            ("rbac.compliance-group-no-leavers", "fail"),
            ("rbac.integrity-runs-clean", "pass"),
            ("rbac.integrity-run-every-month", "pass"),
            ("rbac.archive-run-every-month", "pass"),
            ("rbac.no-failed-archive-runs", "fail"),
            ("rbac.hot-rows-within-retention", "pass"),
            ("rbac.cold-archive-fresh", "pass"),
            ("rbac.audit-events-no-gap", "fail"),
            ("rbac.privileged-grants-in-change-window", "fail"),
        ],
        &[
            ("RBAC-1", "fail"),
            ("RBAC-2", "fail"),
            ("RBAC-3", "fail"),
            ("AUDIT-INT-1", "pass"),
            ("AUDIT-RET-1", "fail"),
            ("AUDIT-LOG-1", "fail"),
        ],
    );
    // The results, their messages and failing items, and the controls, as one reviewed
    // snapshot (tests/snapshots/tests__packs__postgres_rbac_checks.snap). Step 1: Dan's direct
    // grant. Step 2: Grace, not in the authorization memo and deactivated; Erin passes
    // both. Step 4: the failed June run. Step 6: the one gap, from the last event of 05-11
    // to the first of 05-14. Step 7: Dan's grant without a window and Carla's naming an
    // unknown one; the two grants inside their windows pass. Steps 3 and 5 pass: 3 months
    // with a clean run, 7-year and 90-day bounds.
    insta::assert_json_snapshot!("postgres_rbac_checks", check_view(&report));
    // The result names the evidence item it read...
    let read = &result(&report, "rbac.no-direct-compliance-grants")["evidence"];
    let grants = item(&r, "rbac.compliance-direct-grants");
    // ... and the guard's item, which proved the role exists.
    assert_eq!(read.as_array().unwrap().len(), 2, "{read}");
    assert_eq!(read[1]["evidence_id"], "rbac.guard-roles", "{read}");
    assert_eq!(read[0]["item_id"], grants["id"]);
    assert_eq!(read[0]["sha256"], grants["sha256"]);
    // The check read the latest of the two collections.
    assert_eq!(
        result(&report, "rbac.no-failed-archive-runs")["evidence"][0]["item_id"],
        item(&again, "rbac.archival-runs")["id"]
    );
    assert_findings_opened(
        &v,
        &report,
        &[
            ("rbac.no-direct-compliance-grants", "high"),
            ("rbac.compliance-group-authorized", "high"),
            ("rbac.compliance-group-no-leavers", "medium"),
            ("rbac.no-failed-archive-runs", "medium"),
            ("rbac.audit-events-no-gap", "high"),
            ("rbac.privileged-grants-in-change-window", "high"),
        ],
    );
    let f = v
        .findings(Some("open"))
        .into_iter()
        .find(|f| f["check_id"] == "rbac.compliance-group-no-leavers")
        .unwrap();
    assert_eq!(f["controls"], json!(["RBAC-2"]));
    assert_second_check_updates(&v, "2026-Q2", &report);
    // Without --no-fail, a failing control exits 1.
    let plain = v.check_exit("2026-Q2", 1);
    assert_eq!(plain["failed"], json!(true));
    assert_eq!(
        v.findings(Some("open"))
            .iter()
            .map(|f| f["occurrences"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [3; 6]
    );
    // The criteria view: CC6.1 carries RBAC-1, A1.2 the retention control.
    let o = v.run(&["--json", "controls", "list", "--period", "2026-Q2"]);
    let listed: Value = serde_json::from_str(&ok(&o)).unwrap();
    let criterion = |id: &str| {
        listed["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["controls"]
            .clone()
    };
    assert_eq!(
        criterion("CC6.1"),
        json!([{"id": "RBAC-1", "title": control(&report, "RBAC-1")["title"], "status": "fail"}])
    );
    assert_eq!(criterion("A1.2")[0]["id"], "AUDIT-RET-1");
    assert_eq!(criterion("CC7.2").as_array().unwrap().len(), 2);

    // Issue 12: the monthly archiver check counts only complete runs. May's run stuck in
    // `running` no longer hides that May has no completed run.
    psql(
        &url,
        Some(&schema),
        &[
            "-c",
            "UPDATE audit_archival_runs SET status = 'running', completed_at = NULL WHERE run_id = '5c1d9e22-2026-4a00-9b00-000000000503'",
        ],
    );
    let (stuck, _) = v.collect("2026-Q2", &["rbac.archival-runs"]);
    assert_eq!(stuck["failed"], 0);
    let report = v.check("2026-Q2");
    let monthly = result(&report, "rbac.archive-run-every-month");
    assert_eq!(monthly["status"], "fail", "{monthly}");
    assert_eq!(
        monthly["failing"],
        json!([{"from": "2026-05-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "count": 0, "expected_at_least": 1}]),
        "{monthly}"
    );
    assert!(
        monthly["message"]
            .as_str()
            .unwrap()
            .contains("status = \"complete\""),
        "{monthly}"
    );

    if base.is_some() {
        v.assert_secret_absent(planted, &[&out, &out2]);
    }
}

// --- aws (moto) -----------------------------------------------------------------------

/// A moto server on a free loopback port, stopped on drop.
/// Start moto (None: skipped because moto, boto3 or the aws CLI is missing).
fn moto() -> Option<Moto> {
    Moto::start(&[&["aws", "--version"]])
}

/// The AWS environment of a collection against moto, with a planted secret key.
fn aws_env(v: &mut Vouch, m: &Moto, secret: &str) {
    let none = v.tmp().join("no-such-aws-file").display().to_string();
    for (k, val) in [
        ("PATH", m.path.as_str()),
        ("AWS_ENDPOINT_URL", m.url.as_str()),
        // At least 8 characters: shorter secrets are refused (they cannot be scrubbed).
        ("AWS_ACCESS_KEY_ID", "AKIAVOUCHTESTKEY01"),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        // Not the developer's ~/.aws: nothing but the variables above.
        ("AWS_CONFIG_FILE", none.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", none.as_str()),
    ] {
        v.set(k, val);
    }
}

/// Run seed_moto_aws.py against the server: what it created.
fn seed_moto(m: &Moto) -> Value {
    let o = Command::new("python3")
        .arg(fixtures().join("seed_moto_aws.py"))
        .arg(&m.url)
        .env("PATH", &m.path)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    serde_json::from_str(&ok(&o)).unwrap()
}

/// The wrong region (or account): every inventory is empty. Nothing may pass over it:
/// the `all` and Rego checks say no_evidence ("0 rows judged"), the daily-rule check
/// fails (no daily rule), and `vouch check` exits 2.
#[test]
fn ext_aws_pack_wrong_region_is_no_evidence_not_pass() {
    let Some(m) = moto() else { return };
    seed_moto(&m); // us-east-1 has volumes, keys, plans, vaults and a cluster
    let mut v = Vouch::new(&[pack("aws")], 1, 5);
    aws_env(&mut v, &m, "vouchPlantedAwsSecret/9Zq+X4mK2pLr");
    v.set("AWS_DEFAULT_REGION", "us-west-2");
    let (r, out) = v.collect("2026-10", &[]);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    let report = v.check_exit("2026-10", 2);
    assert_statuses(
        &report,
        &[
            ("aws.ebs-volumes-encrypted", "no_evidence"),
            ("aws.ebs-volumes-kms-key", "no_evidence"),
            ("aws.kms-customer-keys-rotate", "no_evidence"),
            ("aws.backup-daily-rule", "fail"),
            ("aws.backup-vaults-encrypted", "no_evidence"),
            ("aws.eks-audit-logging", "no_evidence"),
        ],
        &[
            ("AWS-ENC-1", "no_evidence"),
            ("AWS-ENC-2", "no_evidence"),
            ("AWS-BAK-1", "fail"),
            ("AWS-LOG-1", "no_evidence"),
        ],
    );
    for id in ["aws.ebs-volumes-encrypted", "aws.eks-audit-logging"] {
        let m = result(&report, id)["message"].as_str().unwrap().to_string();
        assert!(m.starts_with("0 rows judged"), "{id}: {m}");
    }
}

#[test]
fn ext_aws_pack_against_moto() {
    let Some(m) = moto() else { return };
    let seeded = seed_moto(&m);
    let secret = "vouchPlantedAwsSecret/9Zq+X4mK2pLr";
    let mut v = Vouch::new(&[pack("aws")], 1, 5);
    aws_env(&mut v, &m, secret);

    let (r, out) = v.collect("2026-10", &[]);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    assert_eq!(r["items"].as_array().unwrap().len(), 5);
    for rec in r["items"].as_array().unwrap() {
        let env = &rec["operation"]["env"];
        assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "***", "{rec}");
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "***", "{rec}");
        assert_eq!(env["AWS_ENDPOINT_URL"], m.url.as_str(), "{rec}");
        assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1", "{rec}");
        assert_eq!(rec["details"]["exit_code"], 0, "{rec}");
        assert!(
            !rec["operation"]["argv"]
                .to_string()
                .contains(m.url.as_str()),
            "the endpoint is never put in argv: {rec}"
        );
    }
    let rotating = seeded["kms"]["rotating"].as_str().unwrap();
    let legacy = seeded["kms"]["not_rotating"].as_str().unwrap();

    // Volumes: 4, one unencrypted; the others with the rotating key.
    let rec = item(&r, "aws.ebs-volumes");
    assert_ok(rec, "aws", "command", 4);
    assert_eq!(rec["media_type"], "application/json");
    assert_eq!(
        rec["operation"]["argv"],
        json!(["aws", "ec2", "describe-volumes", "--output", "json"])
    );
    let rows = v.rows(rec);
    let plain: Vec<&Value> = rows.iter().filter(|r| r["Encrypted"] == false).collect();
    assert_eq!(plain.len(), 1, "{rows:?}");
    assert_eq!(plain[0]["VolumeId"], seeded["volumes"]["unencrypted"][0]);
    assert_eq!(plain[0]["Size"], 8);
    let mut enc: Vec<String> = rows
        .iter()
        .filter(|r| r["Encrypted"] == true)
        .map(|r| {
            assert!(r["KmsKeyId"].as_str().unwrap().ends_with(rotating), "{r}");
            r["VolumeId"].as_str().unwrap().to_string()
        })
        .collect();
    let mut want: Vec<String> = seeded["volumes"]["encrypted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    enc.sort();
    want.sort();
    assert_eq!(enc, want);

    // KMS: rotation per key.
    let rec = item(&r, "aws.kms-keys");
    assert_ok(rec, "aws", "command", 2);
    assert_eq!(rec["media_type"], "application/x-ndjson");
    let pd = root().join("packs/aws").display().to_string();
    assert_eq!(
        rec["operation"]["argv"],
        json!(["python3", format!("{pd}/bin/kms_keys.py")])
    );
    let rows = v.rows(rec);
    let key = |id: &str| rows.iter().find(|r| r["KeyId"] == id).unwrap().clone();
    let (k1, k2) = (key(rotating), key(legacy));
    assert_eq!(k1["KeyRotationEnabled"], true);
    assert_eq!(k1["Aliases"], json!(["alias/vouch-test-ebs"]));
    assert_eq!(k2["KeyRotationEnabled"], false);
    assert_eq!(k2["Aliases"], json!(["alias/vouch-test-legacy"]));
    for k in [&k1, &k2] {
        assert_eq!(k["KeyManager"], "CUSTOMER");
        assert_eq!(k["KeyState"], "Enabled");
        assert_eq!(k["RotationStatusError"], Value::Null);
        assert!(
            k["CreationDate"].as_str().unwrap().contains('T'),
            "timestamps are ISO 8601: {k}"
        );
    }

    // Backup plan: the daily rule and its 7-day lifecycle.
    let rec = item(&r, "aws.backup-plans");
    assert_ok(rec, "aws", "command", 1);
    let rows = v.rows(rec);
    assert_eq!(rows[0]["BackupPlanName"], "vouch-test-daily");
    assert_eq!(rows[0]["BackupPlanId"], seeded["backup_plan_id"]);
    let rule = &rows[0]["Rules"][0];
    assert_eq!(rule["RuleName"], "daily-ebs-backup");
    assert_eq!(rule["ScheduleExpression"], "cron(0 5 * * ? *)");
    assert_eq!(rule["Lifecycle"]["DeleteAfterDays"], 7);
    assert_eq!(rule["TargetBackupVaultName"], "vouch-test-vault");

    // Vault: encrypted with the rotating key.
    let rec = item(&r, "aws.backup-vaults");
    assert_ok(rec, "aws", "command", 1);
    assert_eq!(rec["operation"]["rows"], "BackupVaultList");
    let rows = v.rows(rec);
    assert_eq!(rows[0]["BackupVaultName"], "vouch-test-vault");
    assert_eq!(
        rows[0]["EncryptionKeyArn"],
        format!("arn:aws:kms:us-east-1:123456789012:key/{rotating}")
    );

    // EKS: api and audit logging only.
    let rec = item(&r, "aws.eks-control-plane-logging");
    assert_ok(rec, "aws", "command", 1);
    let rows = v.rows(rec);
    assert_eq!(rows[0]["name"], "vouch-test-eks");
    assert_eq!(rows[0]["enabledLogTypes"], json!(["api", "audit"]));
    assert!(rows[0].get("certificateAuthority").is_none());
    let off = &rows[0]["logging"]["clusterLogging"];
    assert!(
        off.as_array().unwrap().iter().any(|s| s["enabled"] == false
            && s["types"] == json!(["authenticator", "controllerManager", "scheduler"])),
        "{off}"
    );

    // The checks: the unencrypted volume and the key without rotation fail; the backup
    // plan (daily, 7 days = the policy minimum), the vault and EKS logging pass.
    let report = v.check("2026-10");
    assert_statuses(
        &report,
        &[
            ("aws.ebs-volumes-encrypted", "fail"),
            ("aws.ebs-volumes-kms-key", "fail"),
            ("aws.kms-customer-keys-rotate", "fail"),
            ("aws.backup-daily-rule", "pass"),
            ("aws.backup-vaults-encrypted", "pass"),
            ("aws.eks-audit-logging", "pass"),
        ],
        &[
            ("AWS-ENC-1", "fail"),
            ("AWS-ENC-2", "fail"),
            ("AWS-BAK-1", "pass"),
            ("AWS-LOG-1", "pass"),
        ],
    );
    let unencrypted = &seeded["volumes"]["unencrypted"][0];
    assert_eq!(
        failing(&report, "aws.ebs-volumes-encrypted", "VolumeId"),
        std::slice::from_ref(unencrypted)
    );
    assert_eq!(
        result(&report, "aws.ebs-volumes-encrypted")["message"],
        "1 of 4 row(s) do not have Encrypted = true"
    );
    assert_eq!(
        failing(&report, "aws.ebs-volumes-kms-key", "VolumeId"),
        std::slice::from_ref(unencrypted)
    );
    assert_eq!(
        failing(&report, "aws.kms-customer-keys-rotate", "KeyId"),
        [json!(legacy)]
    );
    assert_eq!(
        failing(&report, "aws.kms-customer-keys-rotate", "Aliases"),
        [json!(["alias/vouch-test-legacy"])]
    );
    assert_findings_opened(
        &v,
        &report,
        &[
            ("aws.ebs-volumes-encrypted", "high"),
            ("aws.ebs-volumes-kms-key", "medium"),
            ("aws.kms-customer-keys-rotate", "medium"),
        ],
    );
    assert_second_check_updates(&v, "2026-10", &report);
    v.check_exit("2026-10", 1);

    // Rotation turned on and the keys collected again: the check passes on the new
    // collection and resolves its finding, naming the result and evidence that did.
    let o = Command::new("aws")
        .args(["kms", "enable-key-rotation", "--key-id", legacy])
        .env("PATH", &m.path)
        .env("AWS_ENDPOINT_URL", &m.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", v.tmp().join("no-such-aws-file"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            v.tmp().join("no-such-aws-file"),
        )
        .output()
        .unwrap();
    ok(&o);
    let (r2, _) = v.collect("2026-10", &["aws.kms-keys"]);
    let keys = item(&r2, "aws.kms-keys");
    let report = v.check("2026-10");
    assert_eq!(
        result(&report, "aws.kms-customer-keys-rotate")["status"],
        "pass"
    );
    assert_eq!(
        result(&report, "aws.kms-customer-keys-rotate")["evidence"][0]["item_id"],
        keys["id"]
    );
    assert_eq!(control(&report, "AWS-ENC-2")["status"], "pass");
    assert_eq!(control(&report, "AWS-ENC-1")["status"], "fail");
    let changes = report["findings"].as_array().unwrap();
    let resolved: Vec<&Value> = changes
        .iter()
        .filter(|c| c["action"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1, "{changes:?}");
    let f = &resolved[0]["finding"];
    assert_eq!(f["check_id"], "aws.kms-customer-keys-rotate");
    assert_eq!(f["status"], "resolved");
    assert_eq!(
        f["resolution"]["result"]["result_id"],
        result(&report, "aws.kms-customer-keys-rotate")["id"]
    );
    assert_eq!(f["resolution"]["evidence"][0]["item_id"], keys["id"]);
    let open: Vec<String> = v
        .findings(Some("open"))
        .iter()
        .map(|f| f["check_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        open,
        ["aws.ebs-volumes-encrypted", "aws.ebs-volumes-kms-key"]
    );

    v.assert_secret_absent(secret, &[&out]);
}

// --- backups --------------------------------------------------------------------------

#[test]
fn ext_backups_pack_velero_history_and_aws_backup() {
    let mut v = Vouch::new(&[pack("backups")], 2, 3);
    let path = format!("{}:{}", fixtures().display(), tool_path());
    v.set("PATH", &path);

    let (r, out) = v.collect("2026-06", &["backups.velero-backups"]);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    let rec = item(&r, "backups.velero-backups");
    assert_ok(rec, "backups-velero", "command", 6);
    assert_eq!(rec["media_type"], "application/x-ndjson");
    assert_eq!(
        rec["operation"]["argv"],
        json!([
            "python3",
            root()
                .join("packs/backups/bin/velero_backups.py")
                .display()
                .to_string()
        ])
    );
    // effective_at: the latest status.completionTimestamp (the manual backup).
    assert_eq!(
        time(&rec["effective_at"]),
        time(&json!("2026-06-30T14:26:02Z"))
    );
    let rows = v.rows(rec);
    let phase = |p: &str| -> Vec<String> {
        rows.iter()
            .filter(|b| b["status"]["phase"] == p)
            .map(|b| b["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(phase("Failed"), ["daily-20260628050017"]);
    assert_eq!(phase("PartiallyFailed"), ["daily-20260629050004"]);
    assert_eq!(phase("Completed").len(), 4);
    let failed = rows
        .iter()
        .find(|b| b["status"]["phase"] == "Failed")
        .unwrap();
    assert!(
        failed["status"]["failureReason"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{failed}"
    );
    assert_eq!(
        failed["metadata"]["labels"]["velero.io/schedule-name"],
        "daily"
    );
    assert!(rows.iter().all(|b| b["kind"] == "Backup"));

    // The checks for June. The stand-in holds only 06-26..06-30 (a cluster whose older
    // backups have expired, or that began backing up on 06-26), so June 1-25 rightly
    // have no completed backup in the evidence; so do 06-28 (Failed) and 06-29
    // (PartiallyFailed). The AWS checks have no evidence for June.
    let report = v.check("2026-06");
    let aws_na = [
        ("backups.aws-daily-backup-rule", "no_evidence"),
        ("backups.aws-recovery-points-present", "no_evidence"),
        ("backups.aws-recovery-points-daily", "no_evidence"),
        (
            "backups.aws-recovery-points-complete-encrypted",
            "no_evidence",
        ),
    ];
    let mut want = vec![
        ("backups.velero-daily-completed", "fail"),
        ("backups.velero-no-failed", "fail"),
    ];
    want.extend(aws_na);
    assert_statuses(
        &report,
        &want,
        &[
            ("BAK-1", "fail"),
            ("BAK-2", "no_evidence"),
            ("BAK-3", "no_evidence"),
        ],
    );
    let days: Vec<String> = failing(&report, "backups.velero-daily-completed", "day")
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let mut want_days: Vec<String> = (1..=25).map(|d| format!("2026-06-{d:02}")).collect();
    want_days.extend(["2026-06-28".to_string(), "2026-06-29".to_string()]);
    assert_eq!(days, want_days);
    let daily = &result(&report, "backups.velero-daily-completed")["failing"];
    assert_eq!(
        daily[25]["backups"],
        json!(["daily-20260628050017 (Failed)"])
    );
    assert_eq!(
        daily[26]["backups"],
        json!(["daily-20260629050004 (PartiallyFailed)"])
    );
    assert_eq!(daily[0]["backups"], json!([]));
    assert_eq!(
        failing(&report, "backups.velero-no-failed", "name"),
        [json!("daily-20260628050017"), json!("daily-20260629050004")]
    );
    assert_eq!(
        failing(&report, "backups.velero-no-failed", "phase"),
        [json!("Failed"), json!("PartiallyFailed")]
    );
    assert!(
        failing(&report, "backups.velero-no-failed", "failureReason")[0]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{report}"
    );
    assert_findings_opened(
        &v,
        &report,
        &[
            ("backups.velero-daily-completed", "high"),
            ("backups.velero-no-failed", "medium"),
        ],
    );
    assert_second_check_updates(&v, "2026-06", &report);
    // BAK-2 and BAK-3 have no evidence for June.
    v.check_exit("2026-06", 2);

    // Without the velero CLI, the run fails with a readable reason; the checks on that
    // latest collection are in error (not passing), and the findings stay open.
    v.set("PATH", &tool_path());
    if !runs(&tool_path(), &["velero", "version", "--client-only"]) {
        let (r, _) = v.collect("2026-06", &["backups.velero-backups"]);
        let rec = item(&r, "backups.velero-backups");
        assert_eq!(rec["status"], "error");
        assert!(
            rec["error"]
                .as_str()
                .unwrap()
                .contains("velero CLI not found on PATH"),
            "{rec}"
        );
        let report = v.check("2026-06");
        let mut want = vec![
            ("backups.velero-daily-completed", "error"),
            ("backups.velero-no-failed", "error"),
        ];
        want.extend(aws_na);
        assert_statuses(
            &report,
            &want,
            &[
                ("BAK-1", "error"),
                ("BAK-2", "no_evidence"),
                ("BAK-3", "no_evidence"),
            ],
        );
        let msg = result(&report, "backups.velero-no-failed")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("latest collection of `backups.velero-backups` failed"),
            "{msg}"
        );
        assert_eq!(report["findings"], json!([]));
        assert_eq!(v.findings(Some("open")).len(), 2);
        // A control in error: the run was incomplete, exit 2.
        v.check_exit("2026-06", 2);
    }

    // A period the stand-in covers whole (26 to 30 June), in a data directory of its own:
    // only the planted Failed and PartiallyFailed days are missing a completed backup.
    let mut week = Vouch::new(&[pack("backups")], 2, 3);
    week.set("PATH", &path);
    let range = "2026-06-26T00:00:00.000000Z..2026-07-01T00:00:00.000000Z";
    week.collect(range, &["backups.velero-backups"]);
    let report = week.check(range);
    assert_eq!(
        failing(&report, "backups.velero-daily-completed", "day"),
        [json!("2026-06-28"), json!("2026-06-29")]
    );
    assert_eq!(
        result(&report, "backups.velero-no-failed")["failing_count"],
        2
    );
    assert_eq!(control(&report, "BAK-1")["status"], "fail");

    // AWS Backup against moto: the plan, and recovery points, which moto does not
    // implement (ListRecoveryPointsByBackupVault answers 404): the recorded error says so.
    let Some(m) = moto() else { return };
    seed_moto(&m);
    let secret = "vouchPlantedBackupSecret+Qm3vT8";
    aws_env(&mut v, &m, secret);
    let (r, out) = v.collect(
        "2026-10",
        &["backups.aws-backup-plans", "backups.aws-recovery-points"],
    );
    let rec = item(&r, "backups.aws-backup-plans");
    assert_ok(rec, "backups-aws", "command", 1);
    let rows = v.rows(rec);
    assert_eq!(rows[0]["BackupPlanName"], "vouch-test-daily");
    assert_eq!(
        rows[0]["Rules"][0]["ScheduleExpression"],
        "cron(0 5 * * ? *)"
    );
    assert_eq!(rows[0]["Rules"][0]["Lifecycle"]["DeleteAfterDays"], 7);

    let rec = item(&r, "backups.aws-recovery-points");
    let pd = root().join("packs/backups").display().to_string();
    assert_eq!(
        rec["operation"]["argv"],
        json!([
            "python3",
            format!("{pd}/bin/recovery_points.py"),
            "--created-after",
            "2026-10-01T00:00:00Z",
            "--created-before",
            "2026-11-01T00:00:00Z"
        ])
    );
    if rec["status"] == "error" {
        let e = rec["error"].as_str().unwrap();
        assert!(
            e.contains("recovery_points.py: aws backup list-recovery-points-by-backup-vault")
                && e.contains("ListRecoveryPointsByBackupVault"),
            "{e}"
        );
        assert_eq!(rec["details"]["exit_code"], 1);
        assert_eq!(r["failed"], 1);
    } else {
        // A moto that implements it: nothing was backed up, so no points.
        assert_ok(rec, "backups-aws", "command", 0);
    }

    // October's checks: the plan passes (daily, 7 days = the policy minimum); the
    // recovery point checks are in error on the failed collection (or, with a moto that
    // lists points, fail: there are none); Velero has no evidence for October.
    let report = v.check("2026-10");
    let points_failed = rec["status"] == "error";
    let points = if points_failed { "error" } else { "fail" };
    assert_statuses(
        &report,
        &[
            ("backups.velero-daily-completed", "no_evidence"),
            ("backups.velero-no-failed", "no_evidence"),
            ("backups.aws-daily-backup-rule", "pass"),
            ("backups.aws-recovery-points-present", points),
            ("backups.aws-recovery-points-daily", points),
            (
                "backups.aws-recovery-points-complete-encrypted",
                if points_failed { "error" } else { "pass" },
            ),
        ],
        &[
            ("BAK-1", "no_evidence"),
            ("BAK-2", "pass"),
            ("BAK-3", points),
        ],
    );
    assert_eq!(
        result(&report, "backups.aws-daily-backup-rule")["evidence"][0]["item_id"],
        item(&r, "backups.aws-backup-plans")["id"]
    );
    if points_failed {
        let msg = result(&report, "backups.aws-recovery-points-present")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.contains("ListRecoveryPointsByBackupVault"), "{msg}");
        // Errors open no findings; June's Velero findings are still the only ones.
        assert_eq!(report["findings"], json!([]));
        assert_eq!(v.findings(Some("open")).len(), 2);
        v.check_exit("2026-10", 2);
    } else {
        assert_eq!(
            result(&report, "backups.aws-recovery-points-daily")["failing_count"],
            31
        );
        v.check_exit("2026-10", 2);
    }
    v.assert_secret_absent(secret, &[&out]);
}

// --- change: git ----------------------------------------------------------------------

fn git(repo: &Path, date: &str, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=Ada Dev",
            "-c",
            "user.email=ada@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap();
    ok(&o).trim().to_string()
}

fn commit(repo: &Path, date: &str, file: &str, subject: &str) -> String {
    std::fs::write(repo.join(file), format!("{subject}\n")).unwrap();
    git(repo, date, &["add", file]);
    git(repo, date, &["commit", "-q", "-m", subject]);
    git(repo, date, &["rev-parse", "HEAD"])
}

#[test]
fn ext_change_pack_git_commits_and_merges() {
    let mut v = Vouch::new(&[pack("change")], 2, 3);
    let repo = v.tmp().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, "2026-09-20T10:00:00Z", &["init", "-q", "-b", "main"]);
    commit(&repo, "2026-09-20T10:00:00Z", "a", "chore: initial import");
    // 2026-09-30 23:30 UTC, written with a +02:00 offset: before the period.
    commit(
        &repo,
        "2026-10-01T01:30:00+02:00",
        "b",
        "fix: late September hotfix",
    );
    // Exactly the period start: inside (the period is half-open).
    let c_start = commit(
        &repo,
        "2026-10-01T00:00:00Z",
        "c",
        "docs: period starts here",
    );
    git(
        &repo,
        "2026-10-01T00:00:00Z",
        &["checkout", "-q", "-b", "feature/audit-log"],
    );
    // Authored in September, committed in October: in the period by its commit date.
    std::fs::write(repo.join("d"), "feature\n").unwrap();
    git(&repo, "2026-10-05T09:00:00Z", &["add", "d"]);
    let o = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args([
            "-c",
            "user.name=Bo Feature",
            "-c",
            "user.email=bo@example.com",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "-m",
            "feat: audit log export",
        ])
        .env("GIT_AUTHOR_DATE", "2026-09-28T16:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-10-05T09:00:00Z")
        .output()
        .unwrap();
    ok(&o);
    let c_feature = git(&repo, "2026-10-05T09:00:00Z", &["rev-parse", "HEAD"]);
    git(&repo, "2026-10-06T12:00:00Z", &["checkout", "-q", "main"]);
    git(
        &repo,
        "2026-10-06T12:00:00Z",
        &[
            "merge",
            "-q",
            "--no-ff",
            "feature/audit-log",
            "-m",
            "Merge pull request #42 from acme/feature/audit-log",
            "-m",
            "Audit log export",
        ],
    );
    let c_merge = git(&repo, "2026-10-06T12:00:00Z", &["rev-parse", "HEAD"]);
    let c_direct = commit(
        &repo,
        "2026-10-20T08:00:00Z",
        "e",
        "chore: direct push to main",
    );
    // Exactly the period end: outside.
    commit(&repo, "2026-11-01T00:00:00Z", "f", "feat: November work");
    let head = git(&repo, "2026-11-01T00:00:00Z", &["rev-parse", "HEAD"]);

    v.set("VOUCH_CHANGE_REPO", repo.to_str().unwrap());
    let (r, out) = v.collect("2026-10", &["change.commits", "change.merge-commits"]);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    assert_eq!(r["items"].as_array().unwrap().len(), 2);

    let rec = item(&r, "change.commits");
    assert_ok(rec, "change-git", "git", 4);
    assert_eq!(rec["media_type"], "application/x-ndjson");
    assert_eq!(rec["source"]["fingerprint"]["head"], head.as_str());
    assert_eq!(
        rec["source"]["fingerprint"]["path"],
        repo.display().to_string()
    );
    assert_eq!(rec["operation"]["merges_only"], false);
    let rows = v.rows(rec);
    assert_eq!(
        strs(&rows, "subject"),
        [
            "chore: direct push to main",
            "Merge pull request #42 from acme/feature/audit-log",
            "feat: audit log export",
            "docs: period starts here"
        ]
    );
    assert_eq!(
        strs(&rows, "sha"),
        [&c_direct, &c_merge, &c_feature, &c_start].map(String::clone)
    );
    let merges: Vec<bool> = rows.iter().map(|r| r["is_merge"] == true).collect();
    assert_eq!(merges, [false, true, false, false]);
    assert_eq!(rows[1]["parents"], json!([c_start, c_feature]));
    assert_eq!(rows[2]["author"]["name"], "Bo Feature");
    assert_eq!(rows[2]["author"]["email"], "bo@example.com");
    assert_eq!(
        time(&rows[2]["author"]["date"]),
        time(&json!("2026-09-28T16:00:00Z"))
    );
    assert_eq!(
        time(&rows[2]["committer"]["date"]),
        time(&json!("2026-10-05T09:00:00Z"))
    );
    assert_eq!(rows[3]["signature"]["status"], "none");

    let rec = item(&r, "change.merge-commits");
    assert_ok(rec, "change-git", "git", 1);
    assert_eq!(rec["operation"]["merges_only"], true);
    assert!(
        rec["operation"]["argv"]
            .as_array()
            .unwrap()
            .contains(&json!("--merges")),
        "{rec}"
    );
    let rows = v.rows(rec);
    assert_eq!(rows[0]["sha"], c_merge.as_str());
    assert_eq!(rows[0]["is_merge"], true);
    assert_eq!(
        rows[0]["subject"],
        "Merge pull request #42 from acme/feature/audit-log"
    );
    assert_eq!(rows[0]["body"], "Audit log export");

    // September: the import and the hotfix written as 2026-10-01 +02:00.
    let (r, _) = v.collect("2026-09", &["change.commits"]);
    let rows = v.rows(item(&r, "change.commits"));
    assert_eq!(
        strs(&rows, "subject"),
        ["fix: late September hotfix", "chore: initial import"]
    );

    // October's checks: commits present, and the one merge names pull request #42. The
    // merged PRs come from GitHub, not collected here: CHG-1 is not tested.
    let report = v.check("2026-10");
    let statuses = |merges: &'static str| {
        [
            ("change.merged-prs-present", "no_evidence"),
            ("change.commits-present", "pass"),
            ("change.merges-reference-pr", merges),
        ]
    };
    assert_statuses(
        &report,
        &statuses("pass"),
        &[("CHG-1", "no_evidence"), ("CHG-2", "pass")],
    );
    assert_eq!(report["findings"], json!([]));
    v.check_exit("2026-10", 2);

    // A branch merged locally and pushed, without a pull request: its merge fails.
    git(
        &repo,
        "2026-10-25T09:00:00Z",
        &["checkout", "-q", "-b", "hotfix/retention"],
    );
    commit(
        &repo,
        "2026-10-25T09:00:00Z",
        "g",
        "fix: retention off by one",
    );
    git(&repo, "2026-10-25T09:30:00Z", &["checkout", "-q", "main"]);
    git(
        &repo,
        "2026-10-25T09:30:00Z",
        &[
            "merge",
            "-q",
            "--no-ff",
            "hotfix/retention",
            "-m",
            "Merge branch 'hotfix/retention'",
        ],
    );
    let c_local = git(&repo, "2026-10-25T09:30:00Z", &["rev-parse", "HEAD"]);
    let (r, _) = v.collect("2026-10", &["change.commits", "change.merge-commits"]);
    assert_ok(item(&r, "change.merge-commits"), "change-git", "git", 2);
    let report = v.check("2026-10");
    assert_statuses(
        &report,
        &statuses("fail"),
        &[("CHG-1", "no_evidence"), ("CHG-2", "fail")],
    );
    assert_eq!(
        failing(&report, "change.merges-reference-pr", "sha"),
        [json!(c_local)]
    );
    assert_eq!(
        failing(&report, "change.merges-reference-pr", "subject"),
        [json!("Merge branch 'hotfix/retention'")]
    );
    assert_findings_opened(&v, &report, &[("change.merges-reference-pr", "high")]);
    assert_second_check_updates(&v, "2026-10", &report);
    v.check_exit("2026-10", 2);

    // The merge taken back off the branch and collected again: the check passes and
    // resolves the finding.
    git(
        &repo,
        "2026-11-01T00:00:00Z",
        &["reset", "-q", "--hard", &head],
    );
    let (r, _) = v.collect("2026-10", &["change.commits", "change.merge-commits"]);
    assert_ok(item(&r, "change.merge-commits"), "change-git", "git", 1);
    let report = v.check("2026-10");
    assert_statuses(
        &report,
        &statuses("pass"),
        &[("CHG-1", "no_evidence"), ("CHG-2", "pass")],
    );
    let changes = report["findings"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "resolved");
    assert_eq!(changes[0]["finding"]["occurrences"], 3);
    assert!(v.findings(Some("open")).is_empty());
    assert_eq!(v.findings(Some("resolved")).len(), 1);
}

// --- change: GitHub (loopback stand-in) -----------------------------------------------

#[derive(Debug, Clone)]
struct Req {
    target: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn pr(n: u64, merged: &str, body: &str) -> Value {
    json!({
        "number": n,
        "title": format!("Change #{n}"),
        "user": {"login": "ada"},
        "html_url": format!("https://github.com/acme/widgets/pull/{n}"),
        "state": "closed",
        "closed_at": merged,
        "body": body,
        "labels": [{"name": "reviewed"}],
        "pull_request": {"merged_at": merged, "url": format!("https://api.github.com/repos/acme/widgets/pulls/{n}")},
    })
}

/// A GitHub search API stand-in: page 1 links to page 2, whose first request is
/// rate-limited (403 with X-RateLimit-Remaining: 0). Records every request.
fn fake_github(token: &str) -> (String, Arc<Mutex<Vec<Req>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
    let (b, s, token) = (base.clone(), seen.clone(), token.to_string());
    std::thread::spawn(move || {
        let first = "/search/issues?q=repo:acme/widgets+is:pr+is:merged+merged:2026-10-01..2026-10-31&per_page=100";
        let mut limited = false;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let mut lines = head.split("\r\n");
            let target = lines
                .next()
                .unwrap_or("")
                .split(' ')
                .nth(1)
                .unwrap_or("")
                .to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            let req = Req { target, headers };
            s.lock().unwrap().push(req.clone());
            let page2 = format!("{first}&page=2");
            let (status, extra, body) = if req.target == first {
                (
                    "200 OK",
                    format!("Link: <{b}{page2}>; rel=\"next\", <{b}{page2}>; rel=\"last\"\r\n"),
                    json!({"total_count": 3, "incomplete_results": false, "items": [
                        pr(101, "2026-10-03T10:00:00Z", "Adds the export."),
                        pr(102, "2026-10-14T16:30:00Z", "Fixes the retention job."),
                    ]}),
                )
            } else if req.target == page2 && !limited {
                limited = true;
                let reset = chrono::Utc::now().timestamp() + 1;
                (
                    "403 Forbidden",
                    format!("X-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: {reset}\r\n"),
                    json!({"message": "API rate limit exceeded"}),
                )
            } else if req.target == page2 {
                (
                    "200 OK",
                    format!("Link: <{b}{first}&page=1>; rel=\"prev\", <{b}{first}&page=1>; rel=\"first\"\r\n"),
                    json!({"total_count": 3, "incomplete_results": false, "items": [
                        // Someone pasted the token into a PR description.
                        pr(103, "2026-10-30T23:59:00Z", &format!("CI token was {token}, rotated")),
                    ]}),
                )
            } else {
                (
                    "404 Not Found",
                    String::new(),
                    json!({"message": "Not Found"}),
                )
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
        }
    });
    (base, seen)
}

#[test]
fn change_pack_github_merged_prs_follow_pages() {
    let token = "ghp_vouchPlantedToken0123456789abcdefXYZ";
    let (base, seen) = fake_github(token);
    // The pack as shipped, with base_url pointing at the stand-in (the only change).
    let shipped = std::fs::read_to_string(pack("change")).unwrap();
    let from = "base_url = \"https://api.github.com\"";
    assert!(shipped.contains(from), "the pack's base_url moved");
    let t = tempfile::tempdir().unwrap();
    let copy = t.path().join("change-pack.toml");
    std::fs::write(
        &copy,
        shipped.replace(from, &format!("base_url = \"{base}\"")),
    )
    .unwrap();
    // The policies its checks name, relative to the copy.
    let policies = t.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    for e in std::fs::read_dir(root().join("packs/change/policies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, policies.join(p.file_name().unwrap())).unwrap();
    }
    let mut v = Vouch::new(&[copy], 2, 3);
    v.set("GITHUB_TOKEN", token);

    // GITHUB_REPOSITORY unset: a recorded failure naming it, and no request.
    let (r, out1) = v.collect("2026-10", &["change.merged-prs"]);
    let rec = item(&r, "change.merged-prs");
    assert_eq!(rec["status"], "error");
    assert!(
        rec["error"].as_str().unwrap().contains("GITHUB_REPOSITORY"),
        "{rec}"
    );
    assert!(seen.lock().unwrap().is_empty());
    // A check on a failed collection is in error, and so is its control (the run was
    // incomplete: exit 2); the git checks have nothing collected.
    let git_na = [
        ("change.commits-present", "no_evidence"),
        ("change.merges-reference-pr", "no_evidence"),
    ];
    let report = v.check("2026-10");
    let mut want = vec![("change.merged-prs-present", "error")];
    want.extend(git_na);
    assert_statuses(
        &report,
        &want,
        &[("CHG-1", "error"), ("CHG-2", "no_evidence")],
    );
    assert!(
        result(&report, "change.merged-prs-present")["message"]
            .as_str()
            .unwrap()
            .contains("GITHUB_REPOSITORY"),
        "{report}"
    );
    v.check_exit("2026-10", 2);

    v.set("GITHUB_REPOSITORY", "acme/widgets");
    let (r, out2) = v.collect("2026-10", &["change.merged-prs"]);
    assert_eq!(r["failed"], 0, "{}", text(&out2));
    let rec = item(&r, "change.merged-prs");
    assert_ok(rec, "change-github", "http", 3);
    assert_eq!(rec["media_type"], "application/x-ndjson");
    let first = format!(
        "{base}/search/issues?q=repo:acme/widgets+is:pr+is:merged+merged:2026-10-01..2026-10-31&per_page=100"
    );
    assert_eq!(rec["operation"]["url"], first.as_str());
    assert_eq!(rec["operation"]["method"], "GET");
    assert_eq!(rec["details"]["rate_limit_waits"], 1, "{rec}");
    let pages: Vec<&str> = rec["details"]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(pages, [first.clone(), format!("{first}&page=2")]);

    let rows = v.rows(rec);
    let numbers: Vec<u64> = rows.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [101, 102, 103]);
    assert_eq!(rows[1]["pull_request"]["merged_at"], "2026-10-14T16:30:00Z");
    assert_eq!(rows[2]["user"]["login"], "ada");
    assert_eq!(
        rows[2]["body"], "CI token was ***, rotated",
        "the token is scrubbed from content too"
    );

    // What the server saw: page 1, page 2 (rate-limited), page 2 again; each with the
    // token and the pack's headers.
    let reqs = seen.lock().unwrap().clone();
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    let p1 = first.trim_start_matches(&base).to_string();
    let p2 = format!("{p1}&page=2");
    assert_eq!(targets, [p1.as_str(), p2.as_str(), p2.as_str()]);
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            [format!("Bearer {token}").as_str()],
            "{r:?}"
        );
        assert!(
            r.header("accept").contains(&"application/vnd.github+json"),
            "{r:?}"
        );
        assert_eq!(r.header("x-github-api-version"), ["2022-11-28"], "{r:?}");
    }

    // The latest collection succeeded: three merged PRs, CHG-1 passes, nothing opened.
    let report = v.check("2026-10");
    let mut want = vec![("change.merged-prs-present", "pass")];
    want.extend(git_na);
    assert_statuses(
        &report,
        &want,
        &[("CHG-1", "pass"), ("CHG-2", "no_evidence")],
    );
    assert_eq!(
        result(&report, "change.merged-prs-present")["message"],
        "3 row(s)"
    );
    assert_eq!(
        result(&report, "change.merged-prs-present")["evidence"][0]["item_id"],
        rec["id"]
    );
    assert_eq!(report["findings"], json!([]));
    assert!(v.findings(None).is_empty());

    v.assert_secret_absent(token, &[&out1, &out2]);
}

// --- pack settings, guards, seed-literal schemas, scrubbing -------------------------------

/// A fresh schema on the test database loaded from `files` (dropped with the guard), and
/// a DSN that selects it. None (the test skips) without VOUCH_TEST_DATABASE_URL.
fn pg_schema(prefix: &str, files: &[PathBuf]) -> Option<(String, String, DropSchema)> {
    let url = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap_or_default();
    if !require(!url.is_empty(), "VOUCH_TEST_DATABASE_URL is not set") {
        return None;
    }
    let schema = unique(prefix);
    psql(&url, None, &["-c", &format!("CREATE SCHEMA {schema}")]);
    let drop = DropSchema {
        url: url.clone(),
        name: schema.clone(),
    };
    for f in files {
        psql(&url, Some(&schema), &["-f", f.to_str().unwrap()]);
    }
    let sep = if url.contains('?') { "&" } else { "?" };
    let dsn = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    Some((dsn, url, drop))
}

/// The statuses of these checks in a `vouch check` report, in the same order.
fn statuses(report: &Value, ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| result(report, id)["status"].as_str().unwrap().to_string())
        .collect()
}

const RBAC_CHECKS: &[&str] = &[
    "rbac.no-direct-compliance-grants",
    "rbac.compliance-group-authorized",
    "rbac.compliance-group-no-leavers",
    "rbac.integrity-runs-clean",
    "rbac.integrity-run-every-month",
    "rbac.archive-run-every-month",
    "rbac.no-failed-archive-runs",
    "rbac.hot-rows-within-retention",
    "rbac.cold-archive-fresh",
    "rbac.audit-events-no-gap",
    "rbac.privileged-grants-in-change-window",
];

/// Seed 002's names and a pg_audit sink table, set from vouch.toml (the pack unchanged).
const SEED002_SETTINGS: &str = r#"
[packs.postgres-rbac.params]
group = "raxx-compliance-auditors"
compliance_role = "raptor-audit-compliance"
admin_role = "raptor-audit-admin"
cold_storage_prefix = "s3://raxx-audit-glacier/"
events_table = "sink.pgaudit_log"
events_time_column = "log_time"
change_windows = [{ id = "CW-2026-050", start = "2026-05-05T18:00:00Z", end = "2026-05-05T22:00:00Z" }]
"#;

#[test]
fn ext_postgres_rbac_pack_runs_on_the_seed_literal_schema_and_guards_its_names() {
    let Some((dsn, url, seed)) =
        pg_schema("vouch_seed002", &[fixtures().join("seed002-schema.sql")])
    else {
        return;
    };
    let mut v = Vouch::new(&[pack("postgres-rbac")], 1, 11);
    v.set("VOUCH_RBAC_DATABASE_URL", &dsn);
    // Every query runs on the seed's tables and columns alone.
    let (r, out) = v.collect("2026-Q2", &[]);
    assert_eq!(r["failed"], 0, "{}", text(&out));

    // The pack's example names are not the seed's: a check reading rows a name selects is
    // an error naming the parameter and its value, not a pass on no rows.
    let report = v.check("2026-Q2");
    for (check, param, value) in [
        (
            "rbac.no-direct-compliance-grants",
            "compliance_role",
            "audit-compliance",
        ),
        (
            "rbac.compliance-group-authorized",
            "group",
            "compliance-auditors",
        ),
        (
            "rbac.privileged-grants-in-change-window",
            "compliance_role",
            "audit-compliance",
        ),
    ] {
        let res = result(&report, check);
        assert_eq!(res["status"], "error", "{res}");
        let want = format!("parameter `{param}` = \"{value}\" matches nothing in the source");
        assert!(res["message"].as_str().unwrap().contains(&want), "{res}");
        let read: Vec<&str> = res["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["evidence_id"].as_str().unwrap())
            .collect();
        assert!(read.iter().any(|e| e.starts_with("rbac.guard-")), "{res}");
    }
    // The leavers check needs a column the seed does not name: off until a param names it.
    let leavers = result(&report, "rbac.compliance-group-no-leavers");
    assert_eq!(leavers["status"], "not_applicable", "{leavers}");
    assert!(leavers["message"]
        .as_str()
        .unwrap()
        .contains("deactivation_column"));

    // The seed's names, the change window and the pg_audit sink table from vouch.toml.
    // The sink has a 3-day gap in May the audited table does not: the gap check reads it.
    let sink = format!("{}_sink", seed.name);
    let sql = format!(
        "CREATE SCHEMA {sink}; CREATE TABLE {sink}.pgaudit_log (log_time timestamptz); \
         INSERT INTO {sink}.pgaudit_log SELECT t FROM generate_series('2026-01-01'::timestamptz, now(), INTERVAL '6 hours') t \
         WHERE t NOT BETWEEN '2026-05-10' AND '2026-05-13'"
    );
    let sink_drop = DropSchema {
        url: url.clone(),
        name: sink.clone(),
    };
    psql(&url, None, &["-c", &sql]);
    v.append_config(&SEED002_SETTINGS.replace("\"sink.", &format!("\"{sink}.")));
    let (r, out) = v.collect("2026-Q2", &[]);
    // The quarter running now: the gap policy judges up to input.reference_time (now), so
    // the days still to come are not a gap.
    let now = chrono::Utc::now();
    let current = format!(
        "{}-Q{}",
        now.format("%Y"),
        now.format("%m")
            .to_string()
            .parse::<u32>()
            .unwrap()
            .div_ceil(3)
    );
    let (_, out2) = v.collect(&current, &["rbac.audit-events-daily"]);
    drop(sink_drop);
    assert_eq!(r["failed"], 0, "{}", text(&out));
    assert!(out2.status.success(), "{}", text(&out2));
    let running = v.check(&current);
    let gaps = result(&running, "rbac.audit-events-no-gap");
    assert_eq!(gaps["status"], "pass", "{gaps}");
    assert_ne!(gaps["reference_time"], gaps["period"]["end"], "{gaps}");
    let members = item(&r, "rbac.compliance-group-members");
    assert_eq!(
        members["operation"]["params"]["group"],
        "raxx-compliance-auditors"
    );
    assert_eq!(members["count"], 0, "provisioned empty (OQ-3)");
    let daily = item(&r, "rbac.audit-events-daily");
    assert!(daily["operation"]["query"]
        .as_str()
        .unwrap()
        .contains(&format!(
            r#"SELECT "log_time"::timestamptz AS t FROM "{sink}"."pgaudit_log""#
        )));
    let report = v.check("2026-Q2");
    let mut want = vec!["pass"; RBAC_CHECKS.len()];
    want[2] = "not_applicable";
    want[9] = "fail";
    assert_eq!(statuses(&report, RBAC_CHECKS), want, "{report}");
    let gap = &result(&report, "rbac.audit-events-no-gap")["failing"][0];
    assert_eq!(gap["gap_from"], "2026-05-09T18:00:00Z", "{gap}");
    // The leavers check switched off by configuration is skipped by the rollup and the
    // exit code: RBAC-2 passes on its other check, and the only failure is the gap (1,
    // not 2 on every run of a seed-literal database).
    let leavers = result(&report, "rbac.compliance-group-no-leavers");
    assert_eq!(leavers["switched_off"], true, "{leavers}");
    let rbac2 = control(&report, "RBAC-2");
    assert_eq!(rbac2["status"], "pass", "{rbac2}");
    assert_eq!(rbac2["checks"][1]["status"], "not_applicable", "{rbac2}");
    let report = v.check_exit("2026-Q2", 1);
    assert_eq!(control(&report, "RBAC-2")["status"], "pass");
}

#[test]
fn pack_settings_in_vouch_toml_are_validated_and_config_check_reports_the_environment() {
    let v = Vouch::new(&[pack("postgres-rbac")], 1, 11);
    let cfg = v.dir.join("vouch.toml");
    let base = std::fs::read_to_string(&cfg).unwrap();
    // The DSN is not set: reported (not an error: it may be set where collect runs).
    let o = v.run(&["--json", "config", "check"]);
    let check: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(
        check["unset_environment"],
        json!([{"variable": "VOUCH_RBAC_DATABASE_URL", "needed_by": "source `rbac-db` (url_env)", "set": false, "problem": null}])
    );
    let o = v.run(&["config", "check"]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("warning: environment variable VOUCH_RBAC_DATABASE_URL is not set (needed by source `rbac-db` (url_env))"));
    for (extra, want) in [
        ("[packs.postgres-rbac]\nparams = { grup = \"x\" }", "key `packs.postgres-rbac.params.grup`: pack `postgres-rbac` has no parameter `grup` (its parameters: admin_role, authorized_auditors,"),
        ("[packs.postgres-rbac.params]\nauthorized_auditors = \"a@b.example\"", "key `packs.postgres-rbac.params.authorized_auditors`: must be a list, like the pack's default"),
        ("[packs.postgres-rbak]\nparams = {}", "key `packs.postgres-rbak`: no included pack is named `postgres-rbak` (included: postgres-rbac)"),
    ] {
        std::fs::write(&cfg, format!("{base}\n{extra}\n")).unwrap();
        let o = v.run(&["config", "check"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{extra}: {}", text(&o));
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // A DSN password too short to scrub: refused, naming the variable, not the value.
    std::fs::write(&cfg, &base).unwrap();
    let mut v = v;
    v.set(
        "VOUCH_RBAC_DATABASE_URL",
        "postgres://u:Zq5x@127.0.0.1:1/db",
    );
    let o = v.run(&["config", "check"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("the DSN in VOUCH_RBAC_DATABASE_URL holds a secret of 4 character(s)"),
        "{}",
        text(&o)
    );
    assert!(!contains(&o.stderr, b"Zq5x"), "{err}");
    let (r, _) = v.collect("2026-Q2", &["rbac.archival-runs"]);
    let e = r["items"][0]["error"].as_str().unwrap();
    assert!(
        e.contains("VOUCH_RBAC_DATABASE_URL") && !e.contains("Zq5x"),
        "{e}"
    );
}

#[test]
fn pack_readmes_give_include_paths_that_resolve() {
    // The READMEs' snippet assumes `vouch init --data-dir vouch-data` at the root of a
    // checkout: include paths are relative to vouch.toml, i.e. to vouch-data/.
    for name in ["postgres-rbac", "aws", "backups", "change"] {
        let readme =
            std::fs::read_to_string(root().join("packs").join(name).join("README.md")).unwrap();
        let line = readme
            .lines()
            .find(|l| l.starts_with("include = ["))
            .unwrap_or_else(|| panic!("{name}: no include line"));
        for path in line.split('"').skip(1).step_by(2) {
            // Lexically: vouch-data/ need not exist for `..` to be followed.
            let mut p = root().join("vouch-data");
            for c in Path::new(path).components() {
                match c {
                    std::path::Component::ParentDir => assert!(p.pop()),
                    c => p.push(c),
                }
            }
            assert!(p.is_file(), "{name}: {path}");
        }
    }
}

#[test]
fn scrubbing_a_secret_inside_a_resource_name_is_recorded() {
    // A credential that is also part of a cluster's name: the scrubber replaces it (the
    // secret must not be stored) and the record says so: which secret, where, how often.
    let mut v = Vouch::new(&[], 0, 0);
    v.append_config(
        r#"
[[source]]
name = "demo"
kind = "command"
env = ["DEMO_TOKEN"]
secret_env = ["DEMO_TOKEN"]

[[evidence]]
id = "demo.clusters"
title = "Clusters"
source = "demo"
argv = ["printf", "{\"clusters\": [{\"name\": \"%s-%s-eu\"}, {\"name\": \"other\"}]}", "holdout", "demo"]
format = "json"
rows = "clusters"
"#,
    );
    v.set("DEMO_TOKEN", "holdout-demo");
    let (r, out) = v.collect("2026-10", &[]);
    let rec = item(&r, "demo.clusters");
    assert_ok(rec, "demo", "command", 2);
    assert_eq!(
        rec["scrubbed"],
        json!([{"secret": "DEMO_TOKEN", "where": "content", "replacements": 1}])
    );
    assert_eq!(strs(&v.rows(rec), "name"), ["***-eu", "other"]);
    let (listed, _) = v.list(Some("demo.clusters"));
    assert_eq!(listed[0]["scrubbed"], rec["scrubbed"]);
    v.assert_secret_absent("holdout-demo", &[&out]);
    // Shorter than 8 characters: refused at config check and collection, named not shown.
    v.set("DEMO_TOKEN", "holdout");
    let o = v.run(&["config", "check"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("DEMO_TOKEN holds a secret of 7 character(s)"),
        "{}",
        text(&o)
    );
    let (r, out) = v.collect("2026-10", &[]);
    let e = item(&r, "demo.clusters")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("DEMO_TOKEN holds a secret of 7 character(s)"),
        "{e}"
    );
    assert!(!contains(&out.stdout, b"holdout"), "{}", text(&out));
}
