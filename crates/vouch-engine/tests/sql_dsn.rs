//! SQL collectors as deployments configure them: the IPE record names the DSN's
//! non-secret options (which schema was read, which sslmode), never the password; the
//! collectors speak TLS (sslmode) to PostgreSQL.

use crate::common;

use serde_json::Value;
use vouch_core::period::Period;

fn october() -> Period {
    Period::parse("2026-10", chrono::Utc::now()).unwrap()
}

#[test]
fn ext_postgres_ipe_record_names_dsn_options_not_the_password() {
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    let secret = "Opt10ns-Pg-S3cret";
    let Some(base) = common::pg_url_with_password(secret) else {
        return;
    };
    let guard = common::PgSchema::new(&common::pg_url().unwrap(), "vouch_src");
    let schema = guard.name.clone();
    let mut admin = postgres::Client::connect(&common::pg_url().unwrap(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.grants (who text);
             INSERT INTO {schema}.grants VALUES ('alice');"
        ))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    // An unqualified table: only the DSN's search_path says which schema was read.
    let url = format!("{base}{sep}sslmode=require&options=-csearch_path%3D{schema}");
    std::env::set_var("VOUCH_T_PG_OPTS_URL", &url);
    // The test server's certificate (Debian's snakeoil) is not from a public CA: a
    // collector told to verify it against the system roots refuses, saying why.
    let host = url
        .split('@')
        .nth(1)
        .unwrap()
        .split(['/', ':'])
        .next()
        .unwrap();
    std::env::set_var(
        "VOUCH_T_PG_VERIFY_URL",
        format!("{base}{sep}sslmode=verify-full&sslrootcert=system").replacen(host, "localhost", 1),
    );
    // Over the local Unix socket, plain text (sslmode does not apply to sockets): the
    // connector must cope with tokio-postgres's empty TLS name there.
    let cfg: postgres::Config = base.split('?').next().unwrap().parse().unwrap();
    std::env::set_var(
        "VOUCH_T_PG_SOCKET_URL",
        format!(
            "postgres:///{}?host=/var/run/postgresql&port={}&user={}&sslmode=require&options=-csearch_path%3D{schema}",
            cfg.get_dbname().unwrap(),
            cfg.get_ports().first().copied().unwrap_or(5432),
            cfg.get_user().unwrap(),
        ),
    );
    fx.with_catalog(
        r#"
[[source]]
name = "pg"
kind = "postgres"
url_env = "VOUCH_T_PG_OPTS_URL"

[[source]]
name = "pg-socket"
kind = "postgres"
url_env = "VOUCH_T_PG_SOCKET_URL"

[[evidence]]
id = "grants-socket"
title = "Grants over the socket"
source = "pg-socket"
query = "SELECT who FROM grants"

[[source]]
name = "pg-verify"
kind = "postgres"
url_env = "VOUCH_T_PG_VERIFY_URL"

[[evidence]]
id = "verified"
title = "Verified"
source = "pg-verify"
query = "SELECT 1 AS one"

[[evidence]]
id = "grants"
title = "Grants"
source = "pg"
query = "SELECT who FROM grants"
"#,
    );
    let items = fx
        .collector()
        .collect(
            &[
                "grants".to_string(),
                "verified".to_string(),
                "grants-socket".to_string(),
            ],
            &october(),
            &mut |_| {},
        )
        .unwrap();
    let v = &items
        .iter()
        .find(|i| i.record["evidence_id"] == "verified")
        .unwrap()
        .record;
    assert_ne!(v["status"], "ok", "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not signed by a CA in"),
        "{v}"
    );
    assert_eq!(
        v["source"]["fingerprint"]["configured"]["sslmode"],
        "verify-full"
    );
    assert_eq!(v["source"]["fingerprint"]["session"], Value::Null, "{v}");
    let rec = &items
        .iter()
        .find(|i| i.record["evidence_id"] == "grants")
        .unwrap()
        .record;
    assert_eq!(rec["status"], "ok", "{rec}");
    let fp = &rec["source"]["fingerprint"];
    assert_eq!(fp["configured"]["sslmode"], "require", "{fp}");
    assert_eq!(
        fp["configured"]["options"]["options"],
        Value::String(format!("-csearch_path={schema}")),
        "{fp}"
    );
    // What the session had, read in the same transaction as the evidence.
    let session = &fp["session"];
    assert_eq!(
        session["search_path"],
        Value::String(schema.clone()),
        "{fp}"
    );
    assert_eq!(session["ssl"], true, "{fp}");
    assert!(
        session["tls_version"]
            .as_str()
            .unwrap()
            .starts_with("TLSv1."),
        "{fp}"
    );
    assert_eq!(session["unix_socket"], false, "{fp}");
    let sock = &items
        .iter()
        .find(|i| i.record["evidence_id"] == "grants-socket")
        .unwrap()
        .record;
    assert_eq!(sock["status"], "ok", "{sock}");
    assert_eq!(sock["count"], 1, "{sock}");
    let sp = &sock["source"]["fingerprint"]["session"];
    assert_eq!(
        (
            sp["ssl"].clone(),
            sp["tls_version"].clone(),
            sp["unix_socket"].clone()
        ),
        (Value::Bool(false), Value::Null, Value::Bool(true)),
        "{sock}"
    );
    assert_eq!(sp["search_path"], Value::String(schema.clone()), "{sock}");
    let all = rec.to_string() + &fx.all_leaves();
    assert!(!all.contains(secret), "password in the record: {all}");
    let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// MySQL/MariaDB sources honour `ssl-mode`: a mode that requires TLS is never read in
/// plain text; the record names the mode and whether the session was encrypted.
#[test]
fn ext_mysql_ssl_mode_is_honoured() {
    let url = match std::env::var("VOUCH_TEST_MYSQL_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but VOUCH_TEST_MYSQL_URL is not set")
        }
        _ => return,
    };
    let Some(mut fx) = common::Fx::new(common::Kind::Sqlite) else {
        return;
    };
    // The test server (scripts/test) has TLS disabled.
    let have_ssl = std::process::Command::new("mariadb")
        .args(["-h127.0.0.1", "-uroot", "-N", "-e", "SELECT @@have_ssl"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "YES")
        .unwrap_or(false);
    let sep = if url.contains('?') { '&' } else { '?' };
    std::env::set_var("VOUCH_T_MY_REQ", format!("{url}{sep}ssl-mode=REQUIRED"));
    std::env::set_var("VOUCH_T_MY_DEF", &url);
    std::env::set_var("VOUCH_T_MY_OFF", format!("{url}{sep}ssl-mode=DISABLED"));
    std::env::set_var(
        "VOUCH_T_MY_BAD",
        format!("{url}{sep}ssl-mode=VERIFY_IDENTITY"),
    );
    std::env::set_var(
        "VOUCH_T_MY_NOCA",
        format!("{url}{sep}ssl-mode=VERIFY_CA&ssl-ca=/nonexistent/vouch-ca.pem"),
    );
    fx.with_catalog(
        r#"
[[source]]
name = "noca"
kind = "mysql"
url_env = "VOUCH_T_MY_NOCA"
[[evidence]]
id = "noca"
title = "missing CA file"
source = "noca"
query = "SELECT 1 AS one"

[[source]]
name = "req"
kind = "mysql"
url_env = "VOUCH_T_MY_REQ"
[[source]]
name = "def"
kind = "mysql"
url_env = "VOUCH_T_MY_DEF"
[[source]]
name = "off"
kind = "mysql"
url_env = "VOUCH_T_MY_OFF"
[[source]]
name = "bad"
kind = "mysql"
url_env = "VOUCH_T_MY_BAD"

[[evidence]]
id = "req"
title = "required"
source = "req"
query = "SELECT 1 AS one"
[[evidence]]
id = "def"
title = "default"
source = "def"
query = "SELECT 1 AS one"
[[evidence]]
id = "off"
title = "disabled"
source = "off"
query = "SELECT 1 AS one"
[[evidence]]
id = "bad"
title = "verify without a CA"
source = "bad"
query = "SELECT 1 AS one"
"#,
    );
    let items = fx
        .collector()
        .collect(&[], &october(), &mut |_| {})
        .unwrap();
    let by = |id: &str| {
        items
            .iter()
            .find(|i| i.record["evidence_id"] == id)
            .unwrap()
            .record
            .clone()
    };
    // A mode that requires TLS is never read in plain text: against the shared test
    // server (TLS off in scripts/test) it fails, naming the mode; with TLS on it is
    // encrypted (mysql_tls.rs covers every mode against a private TLS server).
    let r = by("req");
    if have_ssl {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["source"]["fingerprint"]["tls"], true, "{r}");
    } else {
        assert_ne!(r["status"], "ok", "{r}");
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("ssl-mode=REQUIRED requires TLS and the server at"),
            "{r}"
        );
    }
    assert_eq!(r["source"]["fingerprint"]["ssl_mode"], "REQUIRED");
    let d = by("def");
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["source"]["fingerprint"]["ssl_mode"], "PREFERRED");
    assert_eq!(d["source"]["fingerprint"]["tls"], have_ssl, "{d}");
    let o = by("off");
    assert_eq!(o["status"], "ok", "{o}");
    assert_eq!(o["source"]["fingerprint"]["ssl_mode"], "DISABLED");
    assert_eq!(o["source"]["fingerprint"]["tls"], false, "{o}");
    let b = by("bad");
    assert!(b["error"].as_str().unwrap().contains("ssl-ca"), "{b}");
    let n = by("noca");
    assert!(
        n["error"]
            .as_str()
            .unwrap()
            .contains("ssl-ca /nonexistent/vouch-ca.pem: cannot read"),
        "{n}"
    );
}
