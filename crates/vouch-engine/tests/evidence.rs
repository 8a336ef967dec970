//! Evidence collection against real sources: SQLite, PostgreSQL and MariaDB databases,
//! commands, an HTTP server on loopback, a git repository, files and uploads. Every
//! item is checked for its IPE record, its stored content and its ledger event.

use crate::common;

use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_engine::evidence::{self, Item};

fn october() -> Period {
    Period::parse("2026-10", chrono::Utc::now()).unwrap()
}

fn collect(fx: &common::Fx, ids: &[&str]) -> Vec<Item> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    fx.collector()
        .collect(&ids, &october(), &mut |_| {})
        .unwrap()
}

fn content(fx: &common::Fx, item: &Item) -> Vec<u8> {
    evidence::blob_store(&fx.config)
        .get(item.sha256().expect("content"))
        .unwrap()
}

fn rows(fx: &common::Fx, item: &Item) -> Vec<Value> {
    let r = &item.record;
    evidence::rows::parse(&content(fx, item), r["media_type"].as_str().unwrap(), None).unwrap()
}

/// The item is stored, its content hash is right, and its ledger event carries both hashes.
fn assert_recorded(fx: &common::Fx, item: &Item) {
    let stored = evidence::get(&fx.store, item.id()).unwrap();
    assert_eq!(stored.record, item.record);
    let seq = item.ledger_seq.expect("ledger event");
    let leaf: Value = serde_json::from_str(&fx.store.leaf(seq).unwrap().unwrap()).unwrap();
    assert_eq!(leaf["action"], "evidence.collected");
    assert_eq!(leaf["resource"]["id"], item.id());
    assert_eq!(leaf["metadata"]["sha256"], item.record["sha256"]);
    let canonical = vouch_core::canonical::to_string(&item.record);
    assert_eq!(
        leaf["metadata"]["record_sha256"],
        vouch_store::blobs::sha256_hex(canonical.as_bytes())
    );
    if let Some(sha) = item.sha256() {
        assert_eq!(vouch_store::blobs::sha256_hex(&content(fx, item)), sha);
        assert_eq!(item.record["size"], content(fx, item).len());
    }
    for k in [
        "id",
        "evidence_id",
        "source",
        "operation",
        "started_at",
        "finished_at",
        "effective_at",
        "period",
        "count",
        "media_type",
        "size",
        "sha256",
        "collector",
        "status",
        "error",
    ] {
        assert!(
            item.record.get(k).is_some(),
            "record lacks {k}: {}",
            item.record
        );
    }
}

on_both!(sqlite_source_ipe_record, |fx| {
    let mut fx = fx;
    let db = fx.dir.path().join("app.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE grants (email TEXT, role TEXT, granted_at TEXT, n REAL, b BLOB);
         INSERT INTO grants VALUES ('a@x', 'admin', '2026-10-03 10:00:00', 1.5, x'00ff');
         INSERT INTO grants VALUES ('b@x', 'reader', '2026-10-20T08:00:00Z', NULL, NULL);
         INSERT INTO grants VALUES ('c@x', 'admin', '2026-09-30 23:59:59', 2, NULL);",
    )
    .unwrap();
    drop(c);
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "app"
kind = "sqlite"
path = "{}"

[[evidence]]
id = "grants"
title = "Grants in the period"
source = "app"
criteria = ["CC6.1"]
effective_at = "field:granted_at"
params = {{ role = "it's" }}
query = "SELECT email, role, granted_at, n, b FROM grants WHERE granted_at >= {{{{period_start_date}}}} AND granted_at < {{{{period_end_date}}}} AND role <> {{{{role}}}} ORDER BY email"

[[evidence]]
id = "writes"
title = "A write must fail"
source = "app"
query = "DELETE FROM grants"
"#,
        db.display()
    ));
    let items = collect(&fx, &["grants", "writes"]);
    assert_eq!(items.len(), 2);
    let g = &items[0];
    assert_recorded(&fx, g);
    assert_eq!(g.record["status"], "ok", "{}", g.record);
    assert_eq!(g.record["count"], 2);
    assert_eq!(g.record["media_type"], "application/x-ndjson");
    assert_eq!(g.record["criteria"], json!(["CC6.1"]));
    assert_eq!(g.record["source"]["kind"], "sqlite");
    // The exact statement that ran, with the parameter values in it.
    let q = g.record["operation"]["query"].as_str().unwrap();
    assert!(
        q.contains("granted_at >= '2026-10-01'") && q.contains("role <> 'it''s'"),
        "{q}"
    );
    // effective_at is the latest granted_at of the rows.
    assert_eq!(g.record["effective_at"], "2026-10-20T08:00:00.000000Z");
    let r = rows(&fx, g);
    assert_eq!(
        r[0],
        json!({"email": "a@x", "role": "admin", "granted_at": "2026-10-03 10:00:00", "n": 1.5, "b": "00ff"})
    );
    // Column order is the query's.
    assert!(String::from_utf8(content(&fx, g))
        .unwrap()
        .starts_with("{\"email\":\"a@x\",\"role\""));
    let w = &items[1];
    assert_recorded(&fx, w);
    assert_eq!(w.record["status"], "error");
    assert!(
        w.record["error"].as_str().unwrap().contains("readonly"),
        "{}",
        w.record
    );
    assert!(w.record["sha256"].is_null());
    // The table is untouched.
    let n: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM grants", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    // Listing by definition and period.
    let listed = evidence::list(
        &fx.store,
        &evidence::ListFilter {
            evidence_id: Some("grants".into()),
            period: Some(october()),
            limit: None,
        },
    )
    .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id(), g.id());
});

/// PostgreSQL as an evidence source: types come out as JSON, the transaction is
/// read-only, the statement timeout and row limit hold, and the DSN's password appears
/// nowhere.
#[test]
fn ext_postgres_source_limits_and_secrets() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let secret = "Pl4nted-Pg-S3cret";
    let Some(url) = common::pg_url_with_password(secret) else {
        return;
    };
    let guard = common::PgSchema::new(&common::pg_url().unwrap(), "vouch_src");
    let schema = guard.name.clone();
    let mut admin = postgres::Client::connect(&common::pg_url().unwrap(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema};
             CREATE SEQUENCE {schema}.s;
             CREATE TABLE {schema}.runs (id int, at timestamptz, ok boolean, meta jsonb, amount numeric);
             INSERT INTO {schema}.runs VALUES (1, '2026-10-05 03:00:00+00', true, '{{\"k\": [1]}}', 12.50),
                                               (2, '2026-10-06 03:00:00+00', false, null, null),
                                               (3, '2026-11-01 00:00:00+00', true, null, null);"
        ))
        .unwrap();
    std::env::set_var("VOUCH_T_PG_URL", &url);
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "pg"
kind = "postgres"
url_env = "VOUCH_T_PG_URL"
timeout_secs = 1
max_rows = 2

[[evidence]]
id = "runs"
title = "Runs"
source = "pg"
effective_at = "field:at"
query = "SELECT id, at, ok, meta, amount FROM {schema}.runs WHERE at >= {{{{period_start}}}}::timestamptz AND at < {{{{period_end}}}}::timestamptz ORDER BY id"

[[evidence]]
id = "too-many"
title = "Over the row limit"
source = "pg"
query = "SELECT id FROM {schema}.runs"

[[evidence]]
id = "slow"
title = "Over the statement timeout"
source = "pg"
query = "SELECT pg_sleep(3)"

[[evidence]]
id = "write"
title = "A write"
source = "pg"
query = "SELECT nextval('{schema}.s')"

[[evidence]]
id = "update"
title = "Not a query"
source = "pg"
query = "UPDATE {schema}.runs SET ok = false"

[[evidence]]
id = "bad-sql"
title = "Broken SQL"
source = "pg"
query = "SELECT * FROM no_such_table_here"
"#
    ));
    let items = collect(&fx, &[]);
    let by = |id: &str| {
        items
            .iter()
            .find(|i| i.record["evidence_id"] == id)
            .unwrap()
    };
    let runs = by("runs");
    assert_recorded(&fx, runs);
    assert_eq!(runs.record["status"], "ok", "{}", runs.record);
    assert_eq!(runs.record["count"], 2);
    assert_eq!(runs.record["source"]["fingerprint"]["database"], "test");
    assert_eq!(runs.record["source"]["fingerprint"]["user"], "postgres");
    assert_eq!(runs.record["effective_at"], "2026-10-06T03:00:00.000000Z");
    let r = rows(&fx, runs);
    assert_eq!(
        r[0],
        json!({"id": 1, "at": "2026-10-05T03:00:00+00:00", "ok": true, "meta": {"k": [1]}, "amount": 12.50})
    );
    assert!(by("too-many").record["error"]
        .as_str()
        .unwrap()
        .contains("max_rows"));
    assert!(
        by("slow").record["error"]
            .as_str()
            .unwrap()
            .contains("statement timeout"),
        "{}",
        by("slow").record
    );
    assert!(
        by("write").record["error"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{}",
        by("write").record
    );
    assert_eq!(
        by("update").record["error"],
        "evidence queries must read (SELECT, WITH, VALUES, TABLE), not `UPDATE`"
    );
    assert!(
        by("bad-sql").record["error"]
            .as_str()
            .unwrap()
            .contains("no_such_table_here\" does not exist"),
        "{}",
        by("bad-sql").record
    );
    let n: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {schema}.runs WHERE ok"), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the UPDATE must not have happened");
    // The password is nowhere: records, ledger, blobs.
    let mut everything = fx.all_leaves();
    for i in evidence::list(&fx.store, &Default::default()).unwrap() {
        everything.push_str(&i.record.to_string());
    }
    for f in walk(&fx.dir.path().join("blobs")) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
    }
    assert!(everything.contains("evidence.collected"));
    assert!(!everything.contains(secret), "the DSN password leaked");
    // A missing DSN variable is an error naming the variable, not a crash.
    std::env::remove_var("VOUCH_T_PG_URL");
    let items = collect(&fx, &["runs"]);
    assert_eq!(
        items[0].record["error"],
        "environment variable VOUCH_T_PG_URL (url_env) is not set"
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// MariaDB/MySQL through the mysql protocol (MariaDB runs on the test machine).
#[test]
fn ext_mysql_source() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let url = match std::env::var("VOUCH_TEST_MYSQL_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but VOUCH_TEST_MYSQL_URL is not set")
        }
        _ => return,
    };
    let table = format!("vouch_t_{}", std::process::id());
    let mysql = |sql: &str| {
        let out = std::process::Command::new("mariadb")
            .args(["-h127.0.0.1", "-uroot", "test", "-e", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    mysql(&format!(
        "CREATE TABLE {table} (id INT, email VARCHAR(64), at DATETIME, amount DECIMAL(10,2), ok TINYINT);
         INSERT INTO {table} VALUES (1, 'a@x', '2026-10-02 01:00:00', 3.50, 1), (2, 'b\\\\x', '2026-10-09 01:00:00', NULL, 0);"
    ));
    std::env::set_var("VOUCH_T_MY_URL", &url);
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "my"
kind = "mysql"
url_env = "VOUCH_T_MY_URL"

[[evidence]]
id = "rows"
title = "Rows"
source = "my"
effective_at = "field:at"
query = "SELECT id, email, at, amount, ok FROM {table} WHERE at >= {{{{period_start_date}}}} ORDER BY id"

[[evidence]]
id = "write"
title = "A write"
source = "my"
query = "DELETE FROM {table}"
"#
    ));
    let items = collect(&fx, &[]);
    mysql(&format!("SELECT count(*) FROM {table}"));
    let r = &items[0];
    assert_recorded(&fx, r);
    assert_eq!(r.record["status"], "ok", "{}", r.record);
    assert_eq!(r.record["count"], 2);
    assert_eq!(r.record["effective_at"], "2026-10-09T01:00:00.000000Z");
    let rs = rows(&fx, r);
    assert_eq!(
        rs[0],
        json!({"id": 1, "email": "a@x", "at": "2026-10-02 01:00:00", "amount": "3.50", "ok": 1})
    );
    assert_eq!(rs[1]["email"], "b\\x");
    assert_eq!(items[1].record["status"], "error");
    assert!(
        items[1].record["error"]
            .as_str()
            .unwrap()
            .contains("READ ONLY"),
        "{}",
        items[1].record
    );
    mysql(&format!("DROP TABLE {table}"));
}

/// Commands: no shell, only allowlisted environment, secrets scrubbed, formats checked,
/// exit codes and timeouts recorded.
#[test]
fn command_source() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let secret = "Pl4nted-Cmd-S3cret-value";
    std::env::set_var("VOUCH_T_REGION", "eu-west-1");
    std::env::set_var("VOUCH_T_SECRET", secret);
    std::env::set_var("VOUCH_T_NOT_ALLOWED", "leak-me-not");
    let script = fx.dir.path().join("emit.py");
    std::fs::write(
        &script,
        r#"import json, os, sys
mode = sys.argv[1]
if mode == "json":
    print(json.dumps({"Volumes": [{"Id": "v1", "Encrypted": True, "Region": os.environ.get("VOUCH_T_REGION"), "Echo": os.environ.get("VOUCH_T_SECRET")}, {"Id": "v2", "Encrypted": False, "Other": os.environ.get("VOUCH_T_NOT_ALLOWED")}]}))
elif mode == "csv":
    print("name,count\nx,1\n\"y, z\",2")
elif mode == "fail":
    sys.stderr.write("AccessDenied: token " + os.environ["VOUCH_T_SECRET"] + " rejected\n"); sys.exit(3)
elif mode == "sleep":
    import time; time.sleep(60)
elif mode == "notjson":
    print("hello")
"#,
    )
    .unwrap();
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "cli"
kind = "command"
env = ["VOUCH_T_REGION", "VOUCH_T_SECRET"]
secret_env = ["VOUCH_T_SECRET"]
# Long enough for python3 to start on a loaded machine (a 1 s limit made `csv` time
# out under load); `slow` sleeps far longer than this.
timeout_secs = 5

[[evidence]]
id = "volumes"
title = "Volumes"
source = "cli"
argv = ["python3", "{script}", "json", "--since", "{{{{period_start}}}}", "$(touch /tmp/vouch-injected)"]
rows = "Volumes"

[[evidence]]
id = "csv"
title = "CSV"
source = "cli"
argv = ["python3", "{script}", "csv"]
format = "csv"

[[evidence]]
id = "fails"
title = "Fails"
source = "cli"
argv = ["python3", "{script}", "fail"]

[[evidence]]
id = "slow"
title = "Slow"
source = "cli"
argv = ["python3", "{script}", "sleep"]

[[evidence]]
id = "notjson"
title = "Not JSON"
source = "cli"
argv = ["python3", "{script}", "notjson"]

[[evidence]]
id = "missing"
title = "No such program"
source = "cli"
argv = ["/nonexistent/vouch-tool"]
"#,
        script = script.display()
    ));
    let items = collect(&fx, &[]);
    let by = |id: &str| {
        items
            .iter()
            .find(|i| i.record["evidence_id"] == id)
            .unwrap()
    };
    let v = by("volumes");
    assert_recorded(&fx, v);
    assert_eq!(v.record["status"], "ok", "{}", v.record);
    assert_eq!(v.record["count"], 2);
    assert_eq!(v.record["operation"]["argv"][4], "2026-10-01T00:00:00Z");
    assert_eq!(
        v.record["operation"]["env"],
        json!({"VOUCH_T_REGION": "eu-west-1", "VOUCH_T_SECRET": "***"})
    );
    assert_eq!(v.record["details"]["exit_code"], 0);
    let out: Value = serde_json::from_slice(&content(&fx, v)).unwrap();
    assert_eq!(out["Volumes"][0]["Region"], "eu-west-1");
    assert_eq!(
        out["Volumes"][0]["Echo"], "***",
        "secret values are scrubbed from output"
    );
    assert_eq!(
        out["Volumes"][1]["Other"],
        Value::Null,
        "only allowlisted variables reach the child"
    );
    assert!(
        !std::path::Path::new("/tmp/vouch-injected").exists(),
        "no shell"
    );
    let c = by("csv");
    assert_eq!(
        (c.record["count"].clone(), c.record["media_type"].clone()),
        (json!(2), json!("text/csv"))
    );
    assert_eq!(rows(&fx, c)[1], json!({"name": "y, z", "count": "2"}));
    let f = by("fails");
    assert_recorded(&fx, f);
    assert_eq!(f.record["details"]["exit_code"], 3);
    assert_eq!(
        f.record["error"],
        "`python3` exited with status 3: AccessDenied: token *** rejected"
    );
    assert!(by("slow").record["error"]
        .as_str()
        .unwrap()
        .contains("timed out after 5 s"));
    assert!(by("notjson").record["error"]
        .as_str()
        .unwrap()
        .starts_with("stdout is not JSON"));
    assert!(by("missing").record["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot run `/nonexistent/vouch-tool`"));
    let mut everything = fx.all_leaves();
    for i in evidence::list(&fx.store, &Default::default()).unwrap() {
        everything.push_str(&i.record.to_string());
    }
    for f in walk(&fx.dir.path().join("blobs")) {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
    }
    assert!(!everything.contains(secret) && !everything.contains("leak-me-not"));
}

/// A small HTTP server on loopback: pages linked with `Link: rel="next"`, a token
/// required, one 429 with Retry-After, a cursor-paginated endpoint.
fn serve(token: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (b, h) = (base.clone(), hits.clone());
    std::thread::spawn(move || {
        let mut limited_once = false;
        for stream in listener.incoming() {
            let mut s = stream.unwrap();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut auth = String::new();
            loop {
                let mut l = String::new();
                reader.read_line(&mut l).unwrap();
                if l.trim().is_empty() {
                    break;
                }
                if l.to_ascii_lowercase().starts_with("authorization:") {
                    auth = l[14..].trim().to_string();
                }
            }
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, extra, body) = if auth != format!("Bearer {token}") {
                (
                    "401 Unauthorized",
                    String::new(),
                    json!({"message": "Bad credentials"}),
                )
            } else if path.starts_with("/pulls?") && path.contains("page=2") && !limited_once {
                limited_once = true;
                (
                    "429 Too Many Requests",
                    "Retry-After: 1\r\n".to_string(),
                    json!({"message": "slow down"}),
                )
            } else if path.starts_with("/pulls?") {
                let page: u32 = path
                    .split("page=")
                    .nth(1)
                    .and_then(|p| p.split('&').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let next = if page < 3 {
                    format!("Link: <{b}/pulls?q=merged&page={}>; rel=\"next\", <{b}/pulls?page=3>; rel=\"last\"\r\n", page + 1)
                } else {
                    String::new()
                };
                (
                    "200 OK",
                    next,
                    json!({"items": [{"number": page * 10 + 1, "merged_at": format!("2026-10-0{page}T12:00:00Z")}, {"number": page * 10 + 2, "merged_at": "2026-10-01T00:00:00Z"}]}),
                )
            } else if path.starts_with("/evil") {
                // A next link that only looks like it is under base_url.
                (
                    "200 OK",
                    format!("Link: <{b}@127.0.0.1:9/steal>; rel=\"next\"\r\n"),
                    json!([{"n": 1}]),
                )
            } else if path.starts_with("/events") {
                let after = path.split("after=").nth(1).unwrap_or("").to_string();
                match after.as_str() {
                    "" => (
                        "200 OK",
                        String::new(),
                        json!({"data": [{"e": 1}], "next": "c2"}),
                    ),
                    "c2" => (
                        "200 OK",
                        String::new(),
                        json!({"data": [{"e": 2}], "next": null}),
                    ),
                    _ => ("400 Bad Request", String::new(), json!({})),
                }
            } else {
                (
                    "404 Not Found",
                    String::new(),
                    json!({"message": "Not Found"}),
                )
            };
            let body = body.to_string();
            let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}", body.len());
        }
    });
    (base, hits)
}

#[test]
fn http_source_pagination_rate_limit_and_token() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let token = "ghp_Pl4ntedT0kenValue";
    let (base, hits) = serve(token);
    std::env::set_var("VOUCH_T_TOKEN", token);
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "gh"
kind = "http"
base_url = "{base}"
token_env = "VOUCH_T_TOKEN"
timeout_secs = 20

[[source]]
name = "gh-notoken"
kind = "http"
base_url = "{base}"

[[evidence]]
id = "prs"
title = "Merged pull requests"
source = "gh"
url = "/pulls?q=merged:{{{{period_start_date}}}}..{{{{period_last_date}}}}&page=1"
rows = "items"
effective_at = "field:merged_at"

[[evidence]]
id = "events"
title = "Cursor pages"
source = "gh"
url = "/events"
rows = "data"
cursor = {{ param = "after", field = "next" }}

[[evidence]]
id = "denied"
title = "No token"
source = "gh-notoken"
url = "/pulls?page=1"

[[evidence]]
id = "evil"
title = "A next link to another host"
source = "gh"
url = "/evil"
"#
    ));
    let items = collect(&fx, &[]);
    let prs = &items[0];
    assert_recorded(&fx, prs);
    assert_eq!(prs.record["status"], "ok", "{}", prs.record);
    assert_eq!(prs.record["count"], 6);
    assert_eq!(prs.record["details"]["pages"].as_array().unwrap().len(), 3);
    assert_eq!(prs.record["details"]["rate_limit_waits"], 1);
    assert_eq!(
        prs.record["operation"]["url"],
        format!("{base}/pulls?q=merged:2026-10-01..2026-10-31&page=1")
    );
    assert_eq!(prs.record["effective_at"], "2026-10-03T12:00:00.000000Z");
    let numbers: Vec<i64> = rows(&fx, prs)
        .iter()
        .map(|r| r["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![11, 12, 21, 22, 31, 32]);
    assert_eq!(items[1].record["count"], 2, "{}", items[1].record);
    assert_eq!(items[2].record["status"], "error");
    assert!(items[2].record["error"]
        .as_str()
        .unwrap()
        .contains("HTTP 401"));
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 7);
    let evil = items[3].record["error"].as_str().unwrap();
    assert!(
        evil.contains("@127.0.0.1:9/steal is not under base_url"),
        "{evil}"
    );
    let all = format!(
        "{}{}",
        fx.all_leaves(),
        items
            .iter()
            .map(|i| i.record.to_string())
            .collect::<String>()
    );
    assert!(!all.contains(token));
}

fn git(dir: &std::path::Path, args: &[&str], date: &str) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ext_git_source_commits_and_merges() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let repo = fx.dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"], "2026-09-01T00:00:00Z");
    git(
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "before the period"],
        "2026-09-30T23:59:59Z",
    );
    git(
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "first in October"],
        "2026-10-01T00:00:00Z",
    );
    git(
        &repo,
        &["checkout", "-q", "-b", "feature"],
        "2026-10-02T00:00:00Z",
    );
    git(
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "feature work"],
        "2026-10-02T10:00:00Z",
    );
    git(&repo, &["checkout", "-q", "main"], "2026-10-02T00:00:00Z");
    git(
        &repo,
        &[
            "merge",
            "-q",
            "--no-ff",
            "feature",
            "-m",
            "Merge pull request #7 from feature",
        ],
        "2026-10-03T10:00:00Z",
    );
    git(
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "November"],
        "2026-11-01T00:00:00Z",
    );
    std::env::set_var("VOUCH_T_REPO", &repo);
    fx.with_catalog(
        r#"
[[source]]
name = "repo"
kind = "git"
path_env = "VOUCH_T_REPO"

[[evidence]]
id = "commits"
title = "Commits"
source = "repo"
branch = "main"
criteria = ["CC8.1"]

[[evidence]]
id = "merges"
title = "Merges"
source = "repo"
branch = "main"
merges_only = true
effective_at = "field:committer.date"
"#,
    );
    let items = collect(&fx, &[]);
    assert_recorded(&fx, &items[0]);
    let subjects: Vec<String> = rows(&fx, &items[0])
        .iter()
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        subjects,
        vec![
            "Merge pull request #7 from feature",
            "feature work",
            "first in October"
        ]
    );
    let merges = rows(&fx, &items[1]);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["is_merge"], true);
    assert_eq!(merges[0]["parents"].as_array().unwrap().len(), 2);
    assert_eq!(merges[0]["signature"]["status"], "none");
    assert_eq!(merges[0]["author"]["email"], "ada@example.com");
    assert_eq!(
        items[1].record["effective_at"],
        "2026-10-03T10:00:00.000000Z"
    );
    assert_eq!(
        items[1].record["source"]["fingerprint"]["head"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
}

#[test]
fn files_and_uploads() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let docs = fx.dir.path().join("docs");
    std::fs::create_dir_all(docs.join("dr")).unwrap();
    std::fs::write(docs.join("dr/drill-2026-10.pdf"), b"%PDF-1.7 drill").unwrap();
    std::fs::write(docs.join("dr/notes.txt"), b"notes").unwrap();
    fx.with_catalog(&format!(
        r#"
[[source]]
name = "docs"
kind = "files"
path = "{}"

[[evidence]]
id = "dr-drill"
title = "DR drill reports"
source = "docs"
glob = "dr/*.pdf"
criteria = ["A1.3"]

[[evidence]]
id = "none"
title = "Nothing matches"
source = "docs"
glob = "nope/*.pdf"
"#,
        docs.display()
    ));
    let items = collect(&fx, &[]);
    assert_eq!(items.len(), 2);
    assert_recorded(&fx, &items[0]);
    assert_eq!(items[0].record["name"], "dr/drill-2026-10.pdf");
    assert_eq!(items[0].record["media_type"], "application/pdf");
    assert_eq!(content(&fx, &items[0]), b"%PDF-1.7 drill");
    assert!(items[1].record["error"]
        .as_str()
        .unwrap()
        .starts_with("no file matches `nope/*.pdf`"));
    let up = fx.dir.path().join("policy.md");
    std::fs::write(&up, "# Access policy").unwrap();
    let item = fx
        .collector()
        .upload(
            &up,
            "dr-drill",
            Some("Q3 drill sign-off"),
            "alice",
            &october(),
        )
        .unwrap();
    assert_recorded(&fx, &item);
    assert_eq!(item.record["collected_by"], "alice");
    assert_eq!(item.record["details"]["note"], "Q3 drill sign-off");
    assert_eq!(item.record["criteria"], json!(["A1.3"]));
    let leaf: Value =
        serde_json::from_str(&fx.store.leaf(item.ledger_seq.unwrap()).unwrap().unwrap()).unwrap();
    assert_eq!(leaf["actor"]["id"], "alice");
    assert!(fx
        .collector()
        .upload(
            &fx.dir.path().join("missing.pdf"),
            "dr-drill",
            None,
            "a",
            &october()
        )
        .is_err());
}

/// Bad definitions are reported with the file, the line and the key.
#[test]
fn bad_definitions_name_file_line_and_key() {
    let fx = common::Fx::new(common::Kind::Sqlite).unwrap();
    let dir = fx.dir.path();
    let main = std::fs::read_to_string(dir.join("vouch.toml")).unwrap();
    std::fs::write(
        dir.join("vouch.toml"),
        format!("include = [\"pack.toml\"]\n{main}"),
    )
    .unwrap();
    let cases: &[(&str, &str, usize)] = &[
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"postgres://u:pw@h/db\"\n", "key `source[0].url_env`", 4),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n[[evidence]]\nid = \"x\"\ntitle = \"X\"\nsource = \"nope\"\nquery = \"SELECT 1\"\n", "key `evidence[0].source`: no [[source]] is named `nope`", 9),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n[[evidence]]\nid = \"x\"\ntitle = \"X\"\nsource = \"db\"\nargv = [\"ls\"]\n", "key `evidence[0].argv`: does not apply", 10),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n[[evidence]]\nid = \"x\"\ntitle = \"X\"\nsource = \"db\"\ncriteria = [\"CC99.1\"]\nquery = \"SELECT 1\"\n", "key `evidence[0].criteria`", 10),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n[[evidence]]\nid = \"x\"\ntitle = \"X\"\nsource = \"db\"\nquery = \"SELECT {{perod_start}}\"\n", "unknown placeholder {{perod_start}}", 10),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\n\n[[evidence]]\nid = \"x\"\ntitle = \"X\"\nsource = \"db\"\nquery = \"SELECT 1 WHERE t < {period_end}::timestamptz\"\n", "{period_end} is not a placeholder: write {{period_end}}", 10),
        ("[[source]]\nname = \"db\"\nkind = \"postgres\"\nurl_env = \"DB_URL\"\nqurey = 1\n", "key `source.qurey`", 5),
    ];
    for (text, want, line) in cases {
        std::fs::write(dir.join("pack.toml"), text).unwrap();
        let e = vouch_engine::Config::load(dir).unwrap_err().to_string();
        let prefix = format!("{}:{line}:", dir.join("pack.toml").display());
        assert!(
            e.starts_with(&prefix) && e.contains(want),
            "{e}\nwanted {prefix} … {want}"
        );
        assert!(!e.contains("pw@"), "{e}");
    }
}
